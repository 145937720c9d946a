"""`reproduce`: run a paper's experiment from `actlab.experiments` into a run folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actlab._validation import check_int

__all__ = ["ReproduceResult", "list_papers", "reproduce"]


@dataclass
class ReproduceResult:
    """The experiment's name, run folder, report path and returned results."""

    name: str
    out_dir: Path
    report: Path
    results: dict[str, Any]


def list_papers() -> list[Any]:
    """The registered experiments (`actlab.experiments.Experiment`), sorted by name."""
    from actlab.experiments import get_experiment, list_experiments

    return [get_experiment(n) for n in list_experiments()]


def reproduce(paper: str, *, out_dir: str | os.PathLike[str] | None = None, full: bool = False,
              seeds: int = 3) -> ReproduceResult:
    """Run the experiment registered as ``paper`` into ``out_dir`` (default ``runs/reproduce/<paper>``).

    Raises:
        ValueError: an unknown experiment (with close matches and the registered names) or a bad
            ``seeds``, before anything runs.
    """
    from actlab.experiments import get_experiment

    check_int("reproduce", "seeds", seeds, ">=", 1)
    exp = get_experiment(paper)
    out = Path(out_dir) if out_dir is not None else Path("runs") / "reproduce" / exp.name
    out.mkdir(parents=True, exist_ok=True)
    results = exp.run(out, full=full, seeds=seeds)
    return ReproduceResult(exp.name, out, out / "report.md", results)
