"""`compare`: train a task once per (activation, seed) cell and write a run folder with a report.

Each cell lives in ``<out>/cells/<activation>/seed<k>/``: a checkpoint after every epoch and a
``result.json`` when done. Running the same grid into the same folder again skips finished cells
and resumes unfinished ones from their checkpoints, so an interrupted comparison loses at most
one epoch per running cell and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from actlab._io import atomic_write_json
from actlab._validation import check_int, fail
from actlab.harness.models import activation_sites, build_model
from actlab.harness.tasks import Task, load_task
from actlab.harness.trainer import TrainConfig, load_checkpoint, train
from actlab.registry import ACTIVATIONS, create

__all__ = ["CellSpec", "CompareResult", "cell_dir", "compare", "run_cell", "split_specs"]


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of activation specs on top-level commas only.

    Example:
        >>> split_specs("relu, slaf(degree=4, init='gelu'),terelu(mu=2.0)")
        ['relu', "slaf(degree=4, init='gelu')", 'terelu(mu=2.0)']
    """
    parts, depth, current, quote = [], 0, [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    if depth != 0 or quote:
        fail("split_specs", "text", "balanced parentheses and quotes", text)
    return [p for p in parts if p]


@dataclass(frozen=True)
class CellSpec:
    """One training cell: everything a (possibly separate) process needs to run it.

    Attributes:
        task, path: the task name and its data path (``npz``/``folder``).
        model: model name (``None``: the task's default); ``act``: activation spec; ``config``: training.
        max_train, max_test: use only the first samples of each split (``None``: all).
        dir: the cell folder (checkpoint and result). ``tensorboard``: TensorBoard log folder or ``None``.
        nproc: processes for DistributedDataParallel (``1``: in this process).
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

    def identity(self) -> dict[str, Any]:
        """What decides the cell's numbers (not where it runs or logs)."""
        return {"task": self.task, "path": self.path, "model": self.model, "act": self.act,
                "max_train": self.max_train, "max_test": self.max_test, "config": self.config.to_dict()}

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
    return replace(task, data=replace(d, x_train=d.x_train[:max_train], y_train=d.y_train[:max_train],
                                      x_test=d.x_test[:max_test], y_test=d.y_test[:max_test]))


def cell_dir(out_dir: str | os.PathLike[str], act: str, seed: int) -> Path:
    """``<out>/cells/<slug>/seed<k>``; the slug is the spec made filename-safe, plus a hash if it changed."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", act).strip("_")
    if slug != act:
        slug += "-" + hashlib.sha1(act.encode()).hexdigest()[:6]
    return Path(out_dir) / "cells" / slug / f"seed{seed}"


def _learned_curves(model: torch.nn.Module, act: str) -> dict[str, Any] | None:
    """The trained curve of every activation site with parameters (``None`` for fixed activations)."""
    sites = [(n, m) for n, m in activation_sites(model, type(create(act))) if any(True for _ in m.parameters())]
    if not sites:
        return None
    x = torch.linspace(-4.0, 4.0, 161)
    curves = {}
    with torch.no_grad():
        for name, module in sites:
            was = module.training
            module.eval()
            try:
                curves[name] = module(x.view(1, -1).expand(1, -1)).view(-1).tolist()
            except RuntimeError:  # per-channel parameters: evaluate channel 0's curve
                channels = next(module.parameters()).shape[0]
                curves[name] = module(x.view(-1, 1).expand(-1, channels))[:, 0].tolist()
            module.train(was)
    return {"x": x.tolist(), "sites": curves}


def run_cell(cell: CellSpec, *, callbacks: Sequence[Callable[..., None]] = (), progress: bool = False) -> dict[str, Any]:
    """Run (or finish, or just read back) one cell; return its result record.

    With ``cell.nproc > 1`` (and not already inside a distributed job) the cell runs under
    ``torchrun`` in ``nproc`` processes (`actlab.harness.distributed`).
    """
    done = Path(cell.dir) / "result.json"
    if done.exists():
        record = json.loads(done.read_text())
        if record["cell"] != cell.identity():
            fail("compare", "out_dir", "a run folder for this grid (its finished cell differs)", str(cell.dir))
        return record
    if cell.nproc > 1 and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        from actlab.harness.distributed import run_distributed

        run_distributed(cell)
        return json.loads(done.read_text())
    task = load_cell_task(cell.task, cell.path, cell.max_train, cell.max_test)
    torch.manual_seed(cell.config.seed)
    model = build_model(cell.model, task, cell.act)
    result = train(model, task, cell.config, checkpoint=Path(cell.dir) / "checkpoint.pt", callbacks=callbacks,
                   progress=progress, tensorboard_dir=cell.tensorboard, description=f"{cell.act} seed {cell.config.seed}")
    record = {"cell": cell.identity(), "act": cell.act, "seed": cell.config.seed, "history": result.history,
              "final": result.final, "stopped_early": result.stopped_early,
              "learned": _learned_curves(model, cell.act)}
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank == 0:
        atomic_write_json(done, record)
    return record


@dataclass
class CompareResult:
    """What `compare` wrote: per-cell records, the per-activation summary and the file paths."""

    out_dir: Path
    cells: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.files["report"]


def _check_acts(acts: Sequence[str], task: Task, model: str | None) -> None:
    if not acts:
        fail("compare", "acts", "at least one activation spec", list(acts))
    if len(set(acts)) != len(acts):
        fail("compare", "acts", "distinct specs", list(acts))
    for act in acts:
        build_model(model, task, act)  # unknown names, bad arguments, models that do not fit: now


def _run_pool(cells: list[CellSpec], jobs: int) -> list[dict[str, Any]]:
    import multiprocessing

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(pool.map(run_cell, cells))


def compare(
    task: str,
    acts: Sequence[str] | str,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | Sequence[int] = 3,
    model: str | None = None,
    config: TrainConfig = TrainConfig(),
    path: str | os.PathLike[str] | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
    jobs: int = 1,
    nproc: int = 1,
    tensorboard: bool = False,
    progress: bool = False,
) -> CompareResult:
    """Train ``task`` with each activation for each seed, then write tables, plots and a report.

    Everything is validated (task and data, every activation spec against the model, the training
    config, the run folder) before the first cell trains.

    Args:
        task: a task name (see `actlab.harness.tasks.load_task`); ``path`` for ``npz``/``folder``.
        acts: activation specs (a list, or one string split on top-level commas); the first is the
            baseline of the paired comparison.
        out_dir: the run folder; running the same grid into it again resumes it.
        seeds: a count ``n`` (seeds ``0..n-1``) or explicit seeds; each seed gives every activation
            the same data order.
        model: model name (default: the task's).
        config: training settings (its ``seed`` is replaced per cell).
        max_train, max_test: use only the first samples of each split.
        jobs: cells run in parallel in this many processes (one thread each).
        nproc: each cell runs with DistributedDataParallel in this many processes (via torchrun).
        tensorboard: also log every cell under ``<out>/tensorboard/``.
        progress: show rich progress bars.

    Raises:
        ValueError: an unknown task or activation, missing or malformed data, a bad setting, or a run
            folder that holds a different grid.
    """
    from actlab.harness.report import write_report

    acts = split_specs(acts) if isinstance(acts, str) else list(acts)
    seed_list = list(range(check_int("compare", "seeds", seeds, ">=", 1))) if isinstance(seeds, int) else list(seeds)
    if not seed_list or len(set(seed_list)) != len(seed_list):
        fail("compare", "seeds", "distinct seeds", seed_list)
    check_int("compare", "jobs", jobs, ">=", 1)
    check_int("compare", "nproc", nproc, ">=", 1)
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        if value is not None:
            check_int("compare", name, value, ">=", 1)
    path_s = str(path) if path is not None else None
    loaded = load_cell_task(task, path_s, max_train, max_test)
    if nproc > 1 and config.batch_size < nproc:
        fail("compare", "nproc", f"<= batch_size ({config.batch_size}) so every rank gets samples", nproc)
    _check_acts(acts, loaded, model)
    out = Path(out_dir)
    cells = [CellSpec(task=task, path=path_s, model=model, act=act, config=replace(config, seed=seed),
                      dir=str(cell_dir(out, act, seed)), max_train=max_train, max_test=max_test, nproc=nproc,
                      tensorboard=str(out / "tensorboard" / cell_dir(out, act, seed).relative_to(out / "cells"))
                      if tensorboard else None)
                 for act in acts for seed in seed_list]
    for cell in cells:  # a folder from another grid: refuse before training anything
        done, ckpt = Path(cell.dir) / "result.json", Path(cell.dir) / "checkpoint.pt"
        if (done.exists() and json.loads(done.read_text())["cell"] != cell.identity()) or (
                not done.exists() and ckpt.exists() and load_checkpoint(ckpt)["config"] != cell.config.to_dict()):
            fail("compare", "out_dir", "a new folder or one from the same grid (task, model, data, config)", str(out))
    atomic_write_json(out / "grid.json", {"task": task, "path": path_s, "model": model or loaded.default_model,
                                          "acts": acts, "seeds": seed_list, "config": config.to_dict(),
                                          "max_train": max_train, "max_test": max_test, "nproc": nproc})
    if jobs > 1 and nproc == 1:
        records = _run_pool(cells, jobs)
    else:
        records = _run_serial(cells, progress)
    return write_report(out, records, acts, grid=json.loads((out / "grid.json").read_text()))


def _run_serial(cells: list[CellSpec], progress: bool) -> list[dict[str, Any]]:
    if not progress:
        return [run_cell(c) for c in cells]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    records = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        grid = bar.add_task("cells", total=len(cells))
        for cell in cells:
            label = f"{cell.act} seed {cell.config.seed}"
            bar.update(grid, description=f"cells: {label}")
            epochs = bar.add_task(label, total=cell.config.epochs)

            def tick(epoch: int, model: Any, record: dict[str, float], _t: Any = epochs) -> None:
                bar.update(_t, completed=epoch,
                           description=f"{label}: loss {record['train_loss']:.3f} acc {record['test_acc']:.3f}")

            records.append(run_cell(cell, callbacks=[tick]))
            bar.remove_task(epochs)
            bar.advance(grid)
    return records


def registered_learnable_and_noisy() -> tuple[str | None, str | None]:
    """A learnable and a noisy activation for the demo, preferring ``slaf`` and ``noisy_hard_tanh``."""
    learnable = "slaf" if "slaf" in ACTIVATIONS else next(
        (s.name for s in ACTIVATIONS if s.family != "classic" and s.learnable and s.family != "torch"), None)
    noisy = "noisy_hard_tanh" if "noisy_hard_tanh" in ACTIVATIONS else next(
        (s.name for s in ACTIVATIONS if s.stochastic and s.family != "torch"), None)
    return learnable, noisy
