"""The training loop: seeds, optimizers, schedules, early stop, checkpoints and exact resume.

A checkpoint is written atomically after every epoch with everything the next epoch depends on
(model, optimizer, LR schedule, annealer, the torch/numpy/python RNG states and the data-order
generator), so a run killed at any point and started again produces the same numbers as an
uninterrupted one: it loses at most the epoch in progress. Under ``torch.distributed`` each rank
takes its shard of every global batch and the loss is scaled so that DDP's gradient average equals
the gradient of the global-batch mean: the same update as one process on the same global batch.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from actlab.core.extras import require
from actlab.core.validation import check_choice, fail
from actlab.data import Dataset
from actlab.training.checkpoint import CKPT_VERSION, load_checkpoint, save_checkpoint, set_rng_state
from actlab.training.config import OptimizerFactory, TrainConfig, build_annealer, build_optimizer, build_scheduler
from actlab.training.objectives import LossFn, evaluate, objective_for

__all__ = ["RunResult", "run_differences", "train"]

ANNEAL_EVERY = ("epoch", "step")


@dataclass
class RunResult:
    """Per-epoch history (``epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds``) and the model.

    Attributes:
        resumed_from: the last finished epoch found in the checkpoint (0 for a fresh run).
        stopped_early: whether patience ran out (or the run diverged) before ``epochs``.
        diverged: whether the run ended at a non-finite training loss (``stop_nonfinite``).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None
    resumed_from: int = 0
    stopped_early: bool = False
    diverged: bool = False

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}

    @property
    def final_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    @property
    def best_acc(self) -> float:
        return max((h["test_acc"] for h in self.history), default=float("nan"))


def run_differences(saved: Any, now: Any, path: str = "") -> list[str]:
    """``field: saved -> now`` for every leaf in which a checkpoint's run record differs from ``now``.

    Examples:
        >>> run_differences({"config": {"lr": 0.1, "epochs": 3}}, {"config": {"lr": 0.2, "epochs": 3}})
        ['config.lr: 0.1 -> 0.2']
    """
    if isinstance(saved, Mapping) and isinstance(now, Mapping):
        keys = sorted(set(saved) | set(now), key=str) if path else list(dict.fromkeys([*now, *saved]))
        return [d for k in keys for d in run_differences(saved.get(k), now.get(k), f"{path}.{k}" if path else str(k))]
    if isinstance(saved, (list, tuple)) and isinstance(now, (list, tuple)) and len(saved) == len(now):
        return [d for i, (a, b) in enumerate(zip(saved, now)) for d in run_differences(a, b, f"{path}[{i}]")]
    return [] if saved == now else [f"{path}: {saved!r} -> {now!r}"]


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _optimizer_config(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's class and group settings as built (before any schedule changes them)."""
    groups = [{k: repr(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return {"class": type(opt).__name__, "groups": groups, "sizes": [len(g["params"]) for g in opt.param_groups]}


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    objective: str | LossFn | None = None,
    optimizer: OptimizerFactory | None = None,
    regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    annealer: Any = None,
    anneal_every: str = "epoch",
    callbacks: Sequence[Callable[[int, nn.Module, dict[str, float]], None]] = (),
    step_callbacks: Sequence[Callable[[nn.Module], None]] = (),
    progress: bool = False,
    tensorboard_dir: str | os.PathLike[str] | None = None,
    description: str = "",
    identity: Mapping[str, Any] | None = None,
) -> RunResult:
    """Train ``model`` on ``data``, resuming from ``checkpoint`` when it exists.

    The one training loop of actlab: ``compare``, ``reproduce``, every experiment and the inspect
    demo run through it, and it takes a user's own model and data the same way (``docs/harness.md``).

    Args:
        model: maps ``(B, *input_shape)`` to the outputs the objective expects. Built by the
            caller (seeded), so the caller owns initialisation.
        data: a `Dataset`; its ``objective``, ``out_steps`` and ``tolerance`` say what to minimise.
        config: a `TrainConfig` (default: ``TrainConfig()``).
        objective: overrides the data set's: ``classify``, ``regress``, or ``(model, x, y) -> mean
            loss`` (a VAE's ELBO, a toy function of the parameters); a custom objective reports
            NaN accuracies and, under DDP, receives the DDP-wrapped model.
        optimizer: ``params -> Optimizer`` (parameter groups, a GAF wrapper, another optimizer);
            replaces ``config.optim``/``lr``/``momentum``/``weight_decay``. Its class and group
            settings are recorded, and a checkpoint with other ones is refused.
        regularizer: ``model -> scalar`` added to each batch's mean loss (e.g. `CoefficientL1`);
            the recorded ``train_loss`` is the objective alone.
        checkpoint: file written atomically after every epoch; if it exists the run continues
            from it (its config, objective and optimizer must be this run's). Under DDP only rank 0
            writes it.
        annealer: an object whose ``step()`` is called after every epoch, or after every optimizer
            step with ``anneal_every="step"`` (noise annealing); its ``state_dict``/
            ``load_state_dict``, when present, go into the checkpoint. Default: `build_annealer`.
        callbacks: ``(epoch, model, record)`` after each epoch's evaluation (e.g. monitors).
        step_callbacks: ``model`` after each optimizer step.
        progress: show a rich progress bar (rank 0 only).
        tensorboard_dir: write per-epoch scalars there with TensorBoard's `SummaryWriter`.
        description: the progress bar's label.
        identity: anything else that decides the run's numbers (the harness passes the task, data
            fingerprint, model, activation spec and code version); recorded in the checkpoint and
            compared on resume like the config.

    Raises:
        ValueError: a checkpoint written by another run (the message names every differing
            field), for another model, or damaged.
    """
    config = TrainConfig() if config is None else config
    check_choice("train", "anneal_every", anneal_every, ANNEAL_EVERY)
    obj = objective_for(data, objective)
    rank, world = _world()
    if annealer is None:
        annealer = build_annealer(model, config)
    torch.manual_seed(config.seed + 7919 * rank)  # stochastic activations: independent noise per rank
    np.random.seed(config.seed)
    random.seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer is not None:
        base = stepper = optimizer(params)
    else:
        base, stepper = build_optimizer(params, config)
    sched = build_scheduler(base, config)
    run = {
        "config": config.to_dict(),
        "objective": obj.describe(),
        "optimizer": _optimizer_config(base),
        "identity": dict(identity) if identity is not None else None,
    }
    result = RunResult(model=model)
    best, bad_epochs = float("inf"), 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        if state.get("version") != CKPT_VERSION or state.get("run") != run:
            fail(
                "train",
                "checkpoint",
                "written with this config, objective, optimizer and data (start fresh: a new run folder, "
                "or delete the file)",
                f"{ckpt_path}, which differs in {'; '.join(run_differences(state.get('run') or {}, run)) or 'its version'}",
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
        set_rng_state(state["rng"][min(rank, len(state["rng"]) - 1)], gen)
        result.history = list(state["history"])
        result.resumed_from = state["epoch"]
        result.stopped_early = state["stopped"]
        result.diverged = state["diverged"]
        best, bad_epochs = state["best"], state["bad_epochs"]

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)
    writer = None
    if tensorboard_dir is not None and rank == 0:
        writer = require("torch.utils.tensorboard", "train(tensorboard_dir=...)", "harness").SummaryWriter(
            str(tensorboard_dir)
        )
    bar = _progress_bar(progress and rank == 0)
    n, per = len(data.x_train), obj.per_sample
    first = result.resumed_from + 1
    try:
        bar_task = bar.add_task(description, total=config.epochs, completed=result.resumed_from) if bar else None
        for epoch in range(first, config.epochs + 1):
            if result.stopped_early:
                break
            model.train()
            start = time.perf_counter()
            # summed loss, hits and targets over this rank's shards
            sums = torch.zeros(3, dtype=torch.float64)
            if config.steps_per_epoch is None:
                batches: Sequence[torch.Tensor] = torch.randperm(n, generator=gen).split(config.batch_size)
            else:
                batches = [torch.randint(n, (config.batch_size,), generator=gen) for _ in range(config.steps_per_epoch)]
            for idx in batches:
                local = idx.tensor_split(world)[rank]
                loss, hits = obj.batch(net, data.x_train[local], data.y_train[local])
                value = loss.item()
                if config.stop_nonfinite and not math.isfinite(value):
                    result.diverged = True
                    sums += torch.tensor([value, 0.0, len(local) * per], dtype=torch.float64)
                    break
                # DDP averages gradients over ranks: scale by world / global count to get the global mean.
                scaled = loss * (world / (len(idx) * per))
                if regularizer is not None:
                    scaled = scaled + regularizer(model)
                stepper.zero_grad(set_to_none=True)
                scaled.backward()
                if config.grad_clip_value is not None:
                    nn.utils.clip_grad_value_(params, config.grad_clip_value)
                if config.grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, config.grad_clip)
                stepper.step()
                if annealer is not None and anneal_every == "step":
                    annealer.step()
                for step_cb in step_callbacks:
                    step_cb(model)
                sums += torch.tensor(
                    [value, 0.0 if hits is None else float(hits), len(local) * per], dtype=torch.float64
                )
            if world > 1:
                dist.all_reduce(sums)
            seconds = time.perf_counter() - start
            test_loss, test_acc = evaluate(model, data, objective=obj)
            record = {
                "epoch": epoch,
                "train_loss": sums[0].item() / sums[2].item(),
                "train_acc": sums[1].item() / sums[2].item() if obj.loss_fn is None else float("nan"),
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
            if annealer is not None and anneal_every == "epoch":
                annealer.step()
            if test_loss < best:
                best, bad_epochs = test_loss, 0
            else:
                bad_epochs += 1
            result.stopped_early = result.diverged or (config.patience is not None and bad_epochs >= config.patience)
            if writer is not None:
                for key, value in record.items():
                    if key != "epoch":
                        writer.add_scalar(key, value, epoch)
                writer.flush()
            if ckpt_path is not None:
                state = {
                    "run": run,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": base.state_dict(),
                    "scheduler": sched.state_dict() if sched is not None else None,
                    "annealer": annealer.state_dict() if hasattr(annealer, "state_dict") else None,
                    "history": result.history,
                    "best": best,
                    "bad_epochs": bad_epochs,
                    "stopped": result.stopped_early,
                    "diverged": result.diverged,
                }
                save_checkpoint(ckpt_path, state, gen, rank, world)
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


def _progress_bar(enabled: bool) -> Any:
    if not enabled:
        return None
    progress = require("rich.progress", "train(progress=True)", "harness")
    bar = progress.Progress(
        progress.TextColumn("{task.description}"),
        progress.BarColumn(),
        progress.MofNCompleteColumn(),
        progress.TimeElapsedColumn(),
        transient=True,
    )
    bar.start()
    return bar
