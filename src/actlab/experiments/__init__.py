"""Paper reproductions, one module per paper, each registering itself here.

A module ``actlab/experiments/<name>.py`` calls ``register_experiment(Experiment(...))``;
`get_experiment` imports every module of this package on first use, so adding a paper is one
new file. `reproduce` (``actlab reproduce PAPER``) runs one into a run folder.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actlab.core.registry import Registry
from actlab.core.validation import check_int

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ReproduceResult",
    "get_experiment",
    "list_experiments",
    "list_papers",
    "register_experiment",
    "reproduce",
    "run_experiment",
]


@dataclass(frozen=True)
class Experiment:
    """A paper's experiment.

    Attributes:
        name: short id used on the command line (``noisy``, ``slaf``, ``gaf``, ``constraints``, ...).
        paper: the reference.
        claim: the paper's claim, in one or two sentences, printed beside what we measured.
        run: ``run(out_dir, *, full=False, seeds=3) -> dict`` writes ``report.md``,
            ``results.json`` and plots into ``out_dir`` (atomically) and returns the results.
    """

    name: str
    paper: str
    claim: str
    run: Callable[..., dict[str, Any]]


EXPERIMENTS: Registry[Experiment] = Registry("experiment")
_loaded = False


def register_experiment(exp: Experiment) -> Experiment:
    return EXPERIMENTS.add(exp.name, exp)


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def get_experiment(name: str) -> Experiment:
    _load_all()
    return EXPERIMENTS.get(name)


def list_experiments() -> list[str]:
    _load_all()
    return EXPERIMENTS.names()


def run_experiment(name: str, out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Run a registered experiment into ``out_dir``."""
    return get_experiment(name).run(Path(out_dir), **kwargs)


@dataclass
class ReproduceResult:
    """The experiment's name, run folder, report path and returned results."""

    name: str
    out_dir: Path
    report: Path
    results: dict[str, Any]


def list_papers() -> list[Experiment]:
    """The registered experiments, sorted by name."""
    return [get_experiment(n) for n in list_experiments()]


def reproduce(
    paper: str, *, out_dir: str | os.PathLike[str] | None = None, full: bool = False, seeds: int = 3
) -> ReproduceResult:
    """Run the experiment registered as ``paper`` into ``out_dir`` (default ``runs/reproduce/<paper>``).

    Raises:
        ValueError: an unknown experiment (with close matches and the registered names) or a bad
            ``seeds``, before anything runs.
    """
    check_int("reproduce", "seeds", seeds, ">=", 1)
    exp = get_experiment(paper)
    out = Path(out_dir) if out_dir is not None else Path("runs") / "reproduce" / exp.name
    out.mkdir(parents=True, exist_ok=True)
    results = exp.run(out, full=full, seeds=seeds)
    return ReproduceResult(exp.name, out, out / "report.md", results)
