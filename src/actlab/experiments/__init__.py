"""Paper reproductions, one module per paper, each registering itself here.

A module ``actlab/experiments/<name>.py`` calls ``register_experiment(Experiment(...))``;
`get_experiment` imports every module of this package on first use, so adding a paper is one
new file. `actlab reproduce PAPER` (the harness) dispatches here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actlab.registry import Registry

__all__ = ["EXPERIMENTS", "Experiment", "get_experiment", "list_experiments", "register_experiment", "run_experiment"]


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
