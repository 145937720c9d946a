"""MNIST-1D baselines (Greydanus, 2020): do actlab's models and recipes reach the published levels?

Every comparison in actlab stands on a baseline, so the baselines are reproduced first: logistic
regression, the MLP, the 1-D CNN and a GRU on the default 4000/1000 split, each with its recipe
(`actlab.harness.recipes`), relu where a model has an activation, ``seeds`` seeds, final-epoch test
accuracy next to the official README's table. Each model's cells are an `actlab compare` run in
``<out>/<model>/`` (resumable: rerunning skips finished cells), two at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from actlab.core.io import atomic_write_json, atomic_write_text
from actlab.experiments import Experiment, register_experiment
from actlab.harness.compare import compare
from actlab.harness.recipes import recipe

__all__ = ["PUBLISHED", "run", "verdict"]

PAPER = (
    "Greydanus, Scaling Down Deep Learning with MNIST-1D, ICML 2024 (arXiv 2011.14439); github.com/greydanus/mnist1d"
)
CLAIM = (
    "On the default 4000/1000 split: logistic regression 32 %, MLP 68 %, CNN 94 %, GRU 91 % test accuracy "
    "(the MNIST-1D README)."
)

#: model -> the README's test accuracy
PUBLISHED = {"linear": 0.32, "mlp": 0.68, "cnn1d": 0.94, "gru": 0.91}
#: how far below the published number a mean may sit and still count as reproduced (the README
#: gives single numbers without a spread; 2 points is about two seed standard deviations of the MLP)
TOLERANCE = 0.02


def verdict(mean: float, published: float, tolerance: float = TOLERANCE) -> str:
    """``reproduced`` at or above ``published - tolerance``, ``partly`` within twice that, else ``not reproduced``.

    Examples:
        >>> verdict(0.66, 0.68), verdict(0.65, 0.68), verdict(0.60, 0.68)
        ('reproduced', 'partly', 'not reproduced')
    """
    if mean >= published - tolerance:
        return "reproduced"
    return "partly" if mean >= published - 2 * tolerance else "not reproduced"


def run(
    out_dir: Path, *, full: bool = False, seeds: int = 3, models: tuple[str, ...] = tuple(PUBLISHED), jobs: int = 2
) -> dict[str, Any]:
    """Train every model with its recipe for ``seeds`` seeds (``full``: at least 5), ``jobs`` cells at a time;
    write report.md and results.json."""
    out_dir = Path(out_dir)
    seeds = max(seeds, 5) if full else seeds
    rows = []
    for model in models:
        result = compare(task="mnist1d", acts=["relu"], out_dir=out_dir / model, seeds=seeds, model=model, jobs=jobs)
        accs = np.array([c["final"]["test_acc"] for c in result.cells])
        best = np.array([max(h["test_acc"] for h in c["history"]) for c in result.cells])
        mean, std = float(accs.mean()), float(accs.std(ddof=1)) if len(accs) > 1 else 0.0
        rows.append(
            {
                "model": model,
                "published": PUBLISHED[model],
                "final_acc": accs.tolist(),
                "final_mean": mean,
                "final_std": std,
                "best_mean": float(best.mean()),
                "verdict": verdict(mean, PUBLISHED[model]),
                "recipe": recipe("mnist1d", model).source,
                "config": recipe("mnist1d", model).config.to_dict(),
            }
        )
    results = {"paper": PAPER, "claim": CLAIM, "seeds": seeds, "tolerance": TOLERANCE, "rows": rows}
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "report.md", _report(results))
    return results


def _report(r: dict[str, Any]) -> str:
    lines = [
        "# MNIST-1D baselines: evidence",
        f"Paper: {r['paper']}",
        f"**Claim.** {r['claim']}",
        f"Final-epoch test accuracy over {r['seeds']} seeds (mean ± std; best epoch beside it). Verdict: "
        f"reproduced when the mean is at most {r['tolerance']:.0%} below the published number.",
        "",
        "| model | published | ours (final) | ours (best epoch) | verdict | recipe |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        c = row["config"]
        lines.append(
            f"| {row['model']} | {row['published']:.0%} | {row['final_mean']:.3f} ± {row['final_std']:.3f} | "
            f"{row['best_mean']:.3f} | {row['verdict']} | {c['optim']} {c['lr']:g}, batch {c['batch_size']}, "
            f"{c['schedule']}, {c['epochs']} epochs |"
        )
    lines.append("")
    lines.append("Each model's cells, tables and learning curves: `<model>/report.md`.")
    return "\n".join(lines) + "\n"


register_experiment(Experiment(name="mnist1d", paper=PAPER, claim=CLAIM, run=run))
