"""`compare`: train a task once per (activation, seed) cell and write a run folder with a report.

Each cell lives in ``<out>/cells/<activation>/seed<k>/``: a checkpoint after every epoch and a
``result.json`` when done. Running the same grid into the same folder again skips finished cells
and resumes unfinished ones from their checkpoints, so an interrupted comparison loses at most
one epoch per running cell and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from actlab.core.extras import require
from actlab.core.io import atomic_write_json
from actlab.core.registry import ACTIVATIONS
from actlab.core.validation import check_int, fail
from actlab.data import fingerprint
from actlab.harness.cell import CellSpec, cell_dir, finished_record, load_cell_task, train_cell
from actlab.harness.distributed import run_distributed
from actlab.harness.models import build_model
from actlab.harness.recipes import recipe
from actlab.harness.report import CompareResult, write_report
from actlab.harness.tasks import Task
from actlab.training import TrainConfig, load_checkpoint
from actlab.training.loop import run_differences

__all__ = ["CellSpec", "CompareResult", "cell_dir", "compare", "run_cell", "split_specs"]


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of activation specs on top-level commas only.

    Example:
        >>> split_specs("relu, slaf(degree=4, init='gelu'),terelu(mu=2.0)")
        ['relu', "slaf(degree=4, init='gelu')", 'terelu(mu=2.0)']
    """
    current: list[str]
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


def run_cell(
    cell: CellSpec, *, callbacks: Sequence[Callable[..., None]] = (), progress: bool = False
) -> dict[str, Any]:
    """Run (or finish, or just read back) one cell; return its result record.

    With ``cell.nproc > 1`` (and not already inside a distributed job) the cell runs under
    ``torchrun`` in ``nproc`` processes (`actlab.harness.distributed`).
    """
    record = finished_record(cell)
    if record is not None:
        return record
    if cell.nproc > 1 and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return json.loads(run_distributed(cell).read_text())
    return train_cell(cell, callbacks=callbacks, progress=progress)


def _check_acts(acts: Sequence[str], task: Task, model: str | None) -> None:
    if not acts:
        fail("compare", "acts", "at least one activation spec", list(acts))
    if len(set(acts)) != len(acts):
        fail("compare", "acts", "distinct specs", list(acts))
    for act in acts:
        build_model(model, task, act)  # unknown names, bad arguments, models that do not fit: now


def _run_pool(cells: list[CellSpec], jobs: int, progress: bool = False) -> list[dict[str, Any]]:
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=torch.set_num_threads,
        initargs=(1,),
    ) as pool:
        futures = [pool.submit(run_cell, c) for c in cells]
        if progress:  # one bar over the cells (the workers' epochs stay in their processes)
            rp = require("rich.progress", "compare(progress=True)", "harness")
            columns = (rp.TextColumn("cells"), rp.BarColumn(), rp.MofNCompleteColumn(), rp.TimeElapsedColumn())
            with rp.Progress(*columns, transient=True) as bar:
                grid = bar.add_task("cells", total=len(cells))
                for _ in as_completed(futures):
                    bar.advance(grid)
        return [f.result() for f in futures]


def _check_resumable(cell: CellSpec, out: Path) -> None:
    """Refuse a run folder whose finished or interrupted cell was made by another run, naming what differs."""
    done, ckpt = Path(cell.dir) / "result.json", Path(cell.dir) / "checkpoint.pt"
    if done.exists():
        saved = json.loads(done.read_text()).get("cell")
        diffs = run_differences({"cell": saved}, {"cell": cell.identity()})
    elif ckpt.exists():
        run = load_checkpoint(ckpt).get("run") or {}
        now = {"config": cell.config.to_dict(), "identity": cell.run_identity()}
        diffs = run_differences({k: run.get(k) for k in now}, now)
    else:
        return
    if diffs:
        fail(
            "compare",
            "out_dir",
            "a new folder or one from the same grid (start fresh: another --out, or delete it)",
            f"{out}, whose cell {Path(cell.dir).relative_to(out)} differs in {'; '.join(diffs)}",
        )


def compare(
    task: str,
    acts: Sequence[str] | str,
    out_dir: str | os.PathLike[str],
    *,
    seeds: int | Sequence[int] = 3,
    model: str | None = None,
    config: TrainConfig | None = None,
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
        config: training settings (its ``seed`` is replaced per cell); ``None``: the model's
            recipe for the task (`actlab.harness.recipes`), which trains it to its published level.
        max_train, max_test: use only the first samples of each split.
        jobs: cells run in parallel in this many processes (one thread each).
        nproc: each cell runs with DistributedDataParallel in this many processes (via torchrun).
        tensorboard: also log every cell under ``<out>/tensorboard/``.
        progress: show rich progress bars.

    Raises:
        ValueError: an unknown task or activation, missing or malformed data, a bad setting, or a run
            folder that holds a different grid.
    """
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
    if config is None:
        config = recipe(task, model or loaded.default_model).config
    if nproc > 1 and config.batch_size < nproc:
        fail("compare", "nproc", f"<= batch_size ({config.batch_size}) so every rank gets samples", nproc)
    _check_acts(acts, loaded, model)
    data_sha = fingerprint(loaded.data)
    out = Path(out_dir)
    cells = [
        CellSpec(
            task=task,
            path=path_s,
            model=model,
            act=act,
            config=replace(config, seed=seed),
            dir=str(cell_dir(out, act, seed)),
            max_train=max_train,
            max_test=max_test,
            nproc=nproc,
            data_sha=data_sha,
            tensorboard=str(out / "tensorboard" / cell_dir(out, act, seed).relative_to(out / "cells"))
            if tensorboard
            else None,
        )
        for act in acts
        for seed in seed_list
    ]
    for cell in cells:  # a folder from another grid: refuse before training anything
        _check_resumable(cell, out)
    atomic_write_json(
        out / "grid.json",
        {
            "task": task,
            "path": path_s,
            "model": model or loaded.default_model,
            "acts": acts,
            "seeds": seed_list,
            "config": config.to_dict(),
            "max_train": max_train,
            "max_test": max_test,
            "nproc": nproc,
        },
    )
    if jobs > 1 and nproc == 1:
        records = _run_pool(cells, jobs, progress)
    else:
        records = _run_serial(cells, progress)
    return write_report(out, records, acts, grid=json.loads((out / "grid.json").read_text()))


def _run_serial(cells: list[CellSpec], progress: bool) -> list[dict[str, Any]]:
    if not progress:
        return [run_cell(c) for c in cells]
    rp = require("rich.progress", "compare(progress=True)", "harness")
    Progress, TextColumn, BarColumn = rp.Progress, rp.TextColumn, rp.BarColumn
    MofNCompleteColumn, TimeElapsedColumn = rp.MofNCompleteColumn, rp.TimeElapsedColumn

    records = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        grid = bar.add_task("cells", total=len(cells))
        for cell in cells:
            label = f"{cell.act} seed {cell.config.seed}"
            bar.update(grid, description=f"cells: {label}")
            epochs = bar.add_task(label, total=cell.config.epochs)

            def tick(epoch: int, model: Any, record: dict[str, float], _t: Any = epochs) -> None:
                bar.update(
                    _t,
                    completed=epoch,
                    description=f"{label}: loss {record['train_loss']:.3f} acc {record['test_acc']:.3f}",
                )

            records.append(run_cell(cell, callbacks=[tick]))
            bar.remove_task(epochs)
            bar.advance(grid)
    return records


def registered_learnable_and_noisy() -> tuple[str | None, str | None]:
    """A learnable and a noisy activation for the demo, preferring ``slaf`` and ``noisy_hard_tanh``."""
    learnable = (
        "slaf"
        if "slaf" in ACTIVATIONS
        else next((s.name for s in ACTIVATIONS if s.family != "classic" and s.learnable and s.family != "torch"), None)
    )
    noisy = (
        "noisy_hard_tanh"
        if "noisy_hard_tanh" in ACTIVATIONS
        else next((s.name for s in ACTIVATIONS if s.stochastic and s.family != "torch"), None)
    )
    return learnable, noisy
