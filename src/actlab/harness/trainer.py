"""The harness trainer: seeds, optimizers, schedules, early stop, checkpoints and exact resume.

A checkpoint is written atomically after every epoch with everything the next epoch depends on
(model, optimizer, LR schedule, annealer, the torch/numpy/python RNG states and the data-order
generator), so a run killed at any point and started again produces the same numbers as an
uninterrupted one: it loses at most the epoch in progress. Under ``torch.distributed`` each rank
takes its shard of every global batch and the loss is scaled so that DDP's gradient average equals
the gradient of the global-batch mean: the same update as one process on the same global batch.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from actlab.core.io import atomic_write
from actlab.core.specparse import parse_spec
from actlab.core.validation import check_bound, check_choice, check_int, fail
from actlab.gaf import GradientActivation
from actlab.noisy import annealing

__all__ = ["OPTIMIZERS", "SCHEDULES", "RunResult", "TrainConfig", "build_optimizer", "evaluate_task", "train"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
ANNEALS = ("none", "linear", "cosine", "paper")
_CKPT_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers (checkpoints refuse a different one).

    Attributes:
        epochs, batch_size: the schedule; ``batch_size`` is the *global* batch under DDP.
        lr, momentum, weight_decay: optimizer settings (``momentum`` for SGD only).
        optim: ``sgd``, ``adam``, ``adamw``, optionally wrapped in gradient activation functions:
            ``"sgd+gaf(alpha=0.3, beta=4.5)"`` (needs `actlab.gaf`).
        schedule: ``none``, ``cosine`` (to 0 over ``epochs``) or ``step`` (x ``gamma`` every
            ``step_size`` epochs), stepped once per epoch.
        patience: stop after this many epochs without a lower test loss (``None``: never). The
            tasks have no separate validation split, so this saves time; it is not model selection.
        seed: seeds the model's training noise, the data order and the checkpointed RNGs.
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


def _scheduler(opt: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler | None:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=config.step_size, gamma=config.gamma)
    return None


@dataclass
class RunResult:
    """Per-epoch history (``epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds``) and the model.

    Attributes:
        resumed_from: the last finished epoch found in the checkpoint (0 for a fresh run).
        stopped_early: whether patience ran out before ``epochs``.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None
    resumed_from: int = 0
    stopped_early: bool = False

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def _per_sample(task: Any) -> int:
    return 1 if task.out_steps is None else task.out_steps


def _loss_and_hits(task: Any, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss and number of hits (correct classes, or regressions within tolerance)."""
    if task.objective == "regress":
        pred = out.reshape(y.shape)
        return (nn.functional.mse_loss(pred, y, reduction="sum"), ((pred - y).abs() < task.tolerance).sum())
    logits = out.reshape(-1, out.shape[-1])
    target = y.reshape(-1)
    return nn.functional.cross_entropy(logits, target, reduction="sum"), (logits.argmax(-1) == target).sum()


@torch.no_grad()
def evaluate_task(model: nn.Module, task: Any, batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on the task's test split, in eval mode."""
    was_training = model.training
    model.eval()
    x, y = task.data.x_test, task.data.y_test
    loss, hits = 0.0, 0
    for i in range(0, len(x), batch_size):
        l, h = _loss_and_hits(task, model(x[i : i + batch_size]), y[i : i + batch_size])
        loss, hits = loss + l.item(), hits + int(h)
    model.train(was_training)
    count = len(x) * _per_sample(task)
    return loss / count, hits / count


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # numpy's array becomes a tensor so the checkpoint loads with torch.load(weights_only=True).
    return {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
        "data": gen.get_state(),
    }


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    gen.set_state(state["data"])


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `train` (tensors and plain Python values only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def train(
    model: nn.Module,
    task: Any,
    config: TrainConfig,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    annealer: Any = None,
    callbacks: Sequence[Callable[[int, nn.Module, dict[str, float]], None]] = (),
    step_callbacks: Sequence[Callable[[nn.Module], None]] = (),
    progress: bool = False,
    tensorboard_dir: str | os.PathLike[str] | None = None,
    description: str = "",
) -> RunResult:
    """Train ``model`` on ``task``, resuming from ``checkpoint`` when it exists.

    Args:
        model: maps ``(B, *input_shape)`` to the task's outputs. Built by the caller (seeded),
            so the caller owns initialisation.
        task: an `actlab.harness.tasks.Task`.
        config: a `TrainConfig`.
        checkpoint: file written atomically after every epoch; if it exists the run continues
            from it (its config must equal ``config``). Under DDP only rank 0 writes it.
        annealer: an object whose ``step()`` is called after every epoch (noise annealing);
            its ``state_dict``/``load_state_dict``, when present, go into the checkpoint.
        callbacks: ``(epoch, model, record)`` after each epoch's evaluation (e.g. monitors).
        step_callbacks: ``model`` after each optimizer step.
        progress: show a rich progress bar (rank 0 only).
        tensorboard_dir: write per-epoch scalars there with TensorBoard's `SummaryWriter`.
        description: the progress bar's label.

    Raises:
        ValueError: a checkpoint written with another config or another model.
    """
    rank, world = _world()
    if annealer is None:
        annealer = build_annealer(model, config)
    torch.manual_seed(config.seed + 7919 * rank)  # stochastic activations: independent noise per rank
    np.random.seed(config.seed)
    random.seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    base, stepper = build_optimizer(params, config)
    sched = _scheduler(base, config)
    result = RunResult(model=model)
    best, bad_epochs = float("inf"), 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        if state.get("version") != _CKPT_VERSION or state.get("config") != config.to_dict():
            fail(
                "train",
                "checkpoint",
                f"written with this config {config.to_dict()} (start a new run folder)",
                f"{ckpt_path} with {state.get('config')}",
            )
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            fail("train", "checkpoint", "written for this model", f"{ckpt_path} ({str(exc).splitlines()[0]})")
        base.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        if annealer is not None and hasattr(annealer, "load_state_dict") and state.get("annealer") is not None:
            annealer.load_state_dict(state["annealer"])
        _set_rng_state(state["rng"][min(rank, len(state["rng"]) - 1)], gen)
        result.history = list(state["history"])
        result.resumed_from = state["epoch"]
        result.stopped_early = state["stopped"]
        best, bad_epochs = state["best"], state["bad_epochs"]

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)
    writer = None
    if tensorboard_dir is not None and rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(tensorboard_dir))
    bar = _progress_bar(progress and rank == 0)
    n, per = len(task.data.x_train), _per_sample(task)
    first = result.resumed_from + 1
    try:
        bar_task = bar.add_task(description, total=config.epochs, completed=result.resumed_from) if bar else None
        for epoch in range(first, config.epochs + 1):
            if result.stopped_early:
                break
            model.train()
            start = time.perf_counter()
            loss_sum = torch.zeros(2, dtype=torch.float64)  # summed loss, hits (over this rank's shards)
            for idx in torch.randperm(n, generator=gen).split(config.batch_size):
                local = idx.tensor_split(world)[rank]
                loss, hits = _loss_and_hits(task, net(task.data.x_train[local]), task.data.y_train[local])
                # DDP averages gradients over ranks: scale by world / global count to get the global mean.
                scaled = loss * (world / (len(idx) * per))
                stepper.zero_grad(set_to_none=True)
                scaled.backward()
                stepper.step()
                for cb in step_callbacks:
                    cb(model)
                loss_sum += torch.tensor([loss.item(), float(hits)], dtype=torch.float64)
            if world > 1:
                dist.all_reduce(loss_sum)
            seconds = time.perf_counter() - start
            test_loss, test_acc = evaluate_task(model, task)
            record = {
                "epoch": epoch,
                "train_loss": loss_sum[0].item() / (n * per),
                "train_acc": loss_sum[1].item() / (n * per),
                "test_loss": test_loss,
                "test_acc": test_acc,
                "lr": base.param_groups[0]["lr"],
                "seconds": seconds,
            }
            result.history.append(record)
            for cb in callbacks:
                cb(epoch, model, record)
            if sched is not None:
                sched.step()
            if annealer is not None:
                annealer.step()
            if test_loss < best:
                best, bad_epochs = test_loss, 0
            else:
                bad_epochs += 1
            result.stopped_early = config.patience is not None and bad_epochs >= config.patience
            if writer is not None:
                for key, value in record.items():
                    if key != "epoch":
                        writer.add_scalar(key, value, epoch)
                writer.flush()
            if ckpt_path is not None:
                _save(
                    ckpt_path, model, base, sched, annealer, gen, config, epoch, result, best, bad_epochs, rank, world
                )
            if bar is not None:
                bar.update(
                    bar_task,
                    completed=epoch,
                    description=f"{description} loss {record['train_loss']:.3f} acc {test_acc:.3f}",
                )
    finally:
        if bar is not None:
            bar.stop()
        if writer is not None:
            writer.close()
    return result


def _save(
    path: Path,
    model: nn.Module,
    base: torch.optim.Optimizer,
    sched: Any,
    annealer: Any,
    gen: torch.Generator,
    config: TrainConfig,
    epoch: int,
    result: RunResult,
    best: float,
    bad_epochs: int,
    rank: int,
    world: int,
) -> None:
    rng = [_rng_state(gen)]
    if world > 1:  # every rank's noise stream, so a resumed DDP run continues each one
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, rng[0])
        rng = gathered
    if rank != 0:
        return
    state = {
        "version": _CKPT_VERSION,
        "epoch": epoch,
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": base.state_dict(),
        "scheduler": sched.state_dict() if sched is not None else None,
        "annealer": annealer.state_dict() if hasattr(annealer, "state_dict") else None,
        "rng": rng,
        "history": result.history,
        "best": best,
        "bad_epochs": bad_epochs,
        "stopped": result.stopped_early,
    }
    atomic_write(path, lambda p: torch.save(state, p))


def _progress_bar(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )
    bar.start()
    return bar
