"""What decides a training run's numbers: `TrainConfig`, and the optimizer, schedule and annealer it names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from actlab.core.specparse import parse_spec
from actlab.core.validation import check_bound, check_choice, check_int, fail
from actlab.gaf import GradientActivation
from actlab.noisy import annealing

__all__ = [
    "ANNEALS",
    "OPTIMIZERS",
    "SCHEDULES",
    "OptimizerFactory",
    "TrainConfig",
    "build_annealer",
    "build_optimizer",
    "build_scheduler",
    "parse_optim",
]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
ANNEALS = ("none", "linear", "cosine", "paper")

#: ``params -> optimizer``: a user's own optimizer (param groups, a GAF wrapper, ...).
OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers (checkpoints refuse a different one).

    Attributes:
        epochs, batch_size: the schedule; ``batch_size`` is the *global* batch under DDP.
        steps_per_epoch: ``None``: an epoch is one pass over the shuffled training set; ``k``: an
            epoch is ``k`` batches drawn with replacement (step-based runs such as the noisy-LSTM
            experiment, evaluated and checkpointed every ``k`` steps).
        lr, momentum, weight_decay: optimizer settings (``momentum`` for SGD only).
        optim: ``sgd``, ``adam``, ``adamw``, optionally wrapped in gradient activation functions:
            ``"sgd+gaf(alpha=0.3, beta=4.5)"`` (`actlab.gaf`). Ignored when `train` gets an
            ``optimizer=`` factory.
        schedule: ``none``, ``cosine`` (to 0 over ``epochs``) or ``step`` (x ``gamma`` every
            ``step_size`` epochs), stepped once per epoch.
        patience: stop after this many epochs without a lower test loss (``None``: never). The
            tasks have no separate validation split, so this saves time; it is not model selection.
        grad_clip: clip the global gradient norm to this before every step (``None``: never).
        grad_clip_value: clamp every gradient element to ``[-v, v]`` before every step (``None``:
            never); with ``grad_clip`` too, the values are clamped first, then the norm is clipped.
            The GAF paper's clip-by-value baseline (at ``alpha * pi / 2``, the bound of its ``g``).
        stop_nonfinite: end the run at the first non-finite training loss (``RunResult.diverged``);
            for learning-rate sweeps, where a diverged run has nothing left to teach.
        seed: seeds the model's training noise, the data order and the checkpointed RNGs.
        anneal: noise schedule for noisy activations (`build_annealer`).
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optim: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    patience: int | None = None
    seed: int = 0
    anneal: str = "none"
    steps_per_epoch: int | None = None
    grad_clip: float | None = None
    grad_clip_value: float | None = None
    stop_nonfinite: bool = False

    def __post_init__(self) -> None:
        check_int("TrainConfig", "epochs", self.epochs, ">=", 1)
        check_int("TrainConfig", "batch_size", self.batch_size, ">=", 1)
        check_bound("TrainConfig", "lr", self.lr, ">", 0)
        check_bound("TrainConfig", "momentum", self.momentum, ">=", 0)
        check_bound("TrainConfig", "weight_decay", self.weight_decay, ">=", 0)
        check_choice("TrainConfig", "schedule", self.schedule, SCHEDULES)
        check_int("TrainConfig", "step_size", self.step_size, ">=", 1)
        check_bound("TrainConfig", "gamma", self.gamma, ">", 0)
        if self.patience is not None:
            check_int("TrainConfig", "patience", self.patience, ">=", 1)
        check_int("TrainConfig", "seed", self.seed, ">=", 0)
        check_choice("TrainConfig", "anneal", self.anneal, ANNEALS)
        if self.steps_per_epoch is not None:
            check_int("TrainConfig", "steps_per_epoch", self.steps_per_epoch, ">=", 1)
        if self.grad_clip is not None:
            check_bound("TrainConfig", "grad_clip", self.grad_clip, ">", 0)
        if self.grad_clip_value is not None:
            check_bound("TrainConfig", "grad_clip_value", self.grad_clip_value, ">", 0)
        parse_optim(self.optim)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_annealer(model: nn.Module, config: TrainConfig) -> Any:
    """The noise schedule named by ``config.anneal``, stepped once per epoch (`actlab.noisy.annealing`).

    ``linear``/``cosine`` scale every noisy module's ``c`` from 1x to 0x over the run (the last
    epochs train the deterministic unit); ``paper`` decays the absolute ``c`` geometrically from
    30 to 0.5. ``None`` for ``none`` and for models without noisy activations (so a grid can
    compare relu with noisy units under one config).
    """
    if config.anneal == "none" or not annealing.noisy_modules(model):
        return None
    if config.anneal == "paper":
        return annealing.PaperNoiseAnnealing(model, total_steps=config.epochs)
    cls = annealing.LinearNoiseAnnealing if config.anneal == "linear" else annealing.CosineNoiseAnnealing
    return cls(model, start=1.0, end=0.0, total_steps=config.epochs)


def parse_optim(spec: str) -> tuple[str, dict[str, Any] | None]:
    """Split ``"sgd+gaf(alpha=0.3)"`` into ``("sgd", {"alpha": 0.3})``; ``"adam"`` into ``("adam", None)``.

    Raises:
        ValueError: an unknown optimizer or wrapper.
    """
    base, _, wrapper = (s.strip() for s in spec.partition("+"))
    check_choice("TrainConfig", "optim", base, OPTIMIZERS)
    if not wrapper:
        return base, None
    name, args, kwargs = parse_spec(wrapper)
    if name != "gaf" or args:
        fail("TrainConfig", "optim", "'<optimizer>' or '<optimizer>+gaf(key=value, ...)'", spec)
    return base, kwargs


def build_optimizer(params: list[nn.Parameter], config: TrainConfig) -> tuple[torch.optim.Optimizer, Any]:
    """Return ``(base, stepper)``: the torch optimizer (for schedules and checkpoints) and what to step.

    ``stepper`` is ``base`` itself, or the GAF wrapper around it.
    """
    name, gaf = parse_optim(config.optim)
    if name == "sgd":
        base: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    elif name == "adam":
        base = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        base = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if gaf is None:
        return base, base
    return base, GradientActivation(base, **gaf)


def build_scheduler(opt: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-epoch LR schedule named by ``config.schedule`` (``None`` for ``none``)."""
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=config.step_size, gamma=config.gamma)
    return None
