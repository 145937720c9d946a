"""One training cell of a comparison: its spec, its folder, and the training that fills it.

What a separate process needs to run a cell (`actlab.harness.distributed`'s torchrun workers
included) lives here; `actlab.harness.compare` builds grids of cells and dispatches them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from actlab.core.io import atomic_write_json
from actlab.core.learned import activation_curve
from actlab.core.registry import activation_modules
from actlab.core.validation import fail
from actlab.harness.models import build_model, site_template
from actlab.harness.tasks import Task, load_task
from actlab.training import TrainConfig, train


def _code_version() -> str:
    try:
        return importlib.metadata.version("actlab")
    except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        return "unknown"


#: the installed actlab's version, part of every cell's identity
CODE_VERSION = _code_version()

__all__ = ["CODE_VERSION", "CellSpec", "cell_dir", "finished_record", "load_cell_task", "train_cell"]


@dataclass(frozen=True)
class CellSpec:
    """One training cell: everything a (possibly separate) process needs to run it.

    Attributes:
        task, path: the task name and its data path (``npz``/``folder``).
        model: model name (``None``: the task's default); ``act``: activation spec; ``config``: training.
        max_train, max_test: use only the first samples of each split (``None``: all).
        dir: the cell folder (checkpoint and result). ``tensorboard``: TensorBoard log folder or ``None``.
        nproc: processes for DistributedDataParallel (``1``: in this process).
        data_sha: `actlab.data.fingerprint` of the (cut) data: a changed file at the same path or
            another ``max_train`` is another cell.
    """

    task: str
    act: str
    config: TrainConfig
    dir: str
    path: str | None = None
    model: str | None = None
    max_train: int | None = None
    max_test: int | None = None
    tensorboard: str | None = None
    nproc: int = 1
    data_sha: str | None = None

    def identity(self) -> dict[str, Any]:
        """What decides the cell's numbers (not where it runs or logs), with the code version."""
        return {
            "task": self.task,
            "path": self.path,
            "data_sha": self.data_sha,
            "model": self.model,
            "act": self.act,
            "max_train": self.max_train,
            "max_test": self.max_test,
            "config": self.config.to_dict(),
            "actlab": CODE_VERSION,
        }

    def run_identity(self) -> dict[str, Any]:
        """`identity` without the config: what `train` records beside the config it checks itself."""
        return {k: v for k, v in self.identity().items() if k != "config"}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellSpec:
        return cls(**{**d, "config": TrainConfig(**d["config"])})


@functools.lru_cache(maxsize=4)
def load_cell_task(name: str, path: str | None, max_train: int | None, max_test: int | None) -> Task:
    """The task, cut to its first ``max_train``/``max_test`` samples (cached: cells share it)."""
    task = load_task(name, path=path)
    d = task.data
    return replace(
        task,
        data=replace(
            d,
            x_train=d.x_train[:max_train],
            y_train=d.y_train[:max_train],
            x_test=d.x_test[:max_test],
            y_test=d.y_test[:max_test],
        ),
    )


def cell_dir(out_dir: str | os.PathLike[str], act: str, seed: int) -> Path:
    """``<out>/cells/<slug>/seed<k>``; the slug is the spec made filename-safe, plus a hash if it changed."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", act).strip("_")
    if slug != act:
        slug += "-" + hashlib.sha1(act.encode()).hexdigest()[:6]
    return Path(out_dir) / "cells" / slug / f"seed{seed}"


def _learned_curves(model: torch.nn.Module, act: str) -> dict[str, Any] | None:
    """The trained curve of every activation site with parameters (``None`` for fixed activations)."""
    sites = [
        (n, m) for n, m in activation_modules(model, type(site_template(act))) if any(True for _ in m.parameters())
    ]
    if not sites:
        return None
    x = torch.linspace(-4.0, 4.0, 161)
    # per-channel parameters: channel 0's curve
    curves = {name: activation_curve(module, x)[:, 0].tolist() for name, module in sites}
    return {"x": x.tolist(), "sites": curves}


def finished_record(cell: CellSpec) -> dict[str, Any] | None:
    """The cell's saved result, or None if it has not finished; a result of another cell is an error."""
    done = Path(cell.dir) / "result.json"
    if not done.exists():
        return None
    record = json.loads(done.read_text())
    if record["cell"] != cell.identity():
        fail("compare", "out_dir", "a run folder for this grid (its finished cell differs)", str(cell.dir))
    return record


def train_cell(
    cell: CellSpec, *, callbacks: Sequence[Callable[..., None]] = (), progress: bool = False
) -> dict[str, Any]:
    """Train (or resume) one cell in this process (one rank of it under DDP); return its record."""
    done = Path(cell.dir) / "result.json"
    task = load_cell_task(cell.task, cell.path, cell.max_train, cell.max_test)
    torch.manual_seed(cell.config.seed)
    model = build_model(cell.model, task, cell.act)
    result = train(
        model,
        task.data,
        cell.config,
        checkpoint=Path(cell.dir) / "checkpoint.pt",
        callbacks=callbacks,
        progress=progress,
        tensorboard_dir=cell.tensorboard,
        description=f"{cell.act} seed {cell.config.seed}",
        identity=cell.run_identity(),
    )
    record = {
        "cell": cell.identity(),
        "act": cell.act,
        "seed": cell.config.seed,
        "history": result.history,
        "final": result.final,
        "stopped_early": result.stopped_early,
        "learned": _learned_curves(model, cell.act),
    }
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank == 0:
        atomic_write_json(done, record)
    return record
