"""Tables, plots and the Markdown report of a comparison, all written atomically.

The significance note is a paired t-test across seeds against the first activation: each seed
gives both activations the same data order, so pairing removes that shared variation. With a
handful of seeds the test has little power; the report says so next to the numbers.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actlab.core.extras import require
from actlab.core.io import atomic_write_json, atomic_write_text, pyplot, save_figure
from actlab.core.registry import ACTIVATIONS
from actlab.harness.models import site_template

__all__ = ["paired_test", "summarise", "write_report"]

_METRICS = ("test_acc", "test_loss", "train_loss")


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


def paired_test(baseline: Sequence[float], other: Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value (`scipy.stats.ttest_rel`); ``None`` when undefined.

    Undefined with fewer than two pairs, or when every paired difference is the same (zero
    variance: the t statistic divides by it).

    Example:
        >>> paired_test([0.5, 0.6, 0.7], [0.5, 0.6])
        >>> round(paired_test([0.50, 0.60, 0.70], [0.52, 0.63, 0.71]), 3)
        0.074
    """
    a, b = np.asarray(baseline, dtype=float), np.asarray(other, dtype=float)
    if len(a) != len(b) or len(a) < 2 or np.std(b - a) == 0:
        return None
    ttest_rel = require("scipy.stats", "the paired t-test of compare reports", "harness").ttest_rel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_rel(a, b).pvalue)


def _family(act: str) -> str:
    name = act.split("(")[0].strip()
    return ACTIVATIONS.get(name).family if name in ACTIVATIONS else ""


def summarise(records: Sequence[dict[str, Any]], acts: Sequence[str]) -> list[dict[str, Any]]:
    """One row per activation: mean and std over seeds of the final metrics, and the paired test."""
    by_act = {a: sorted((r for r in records if r["act"] == a), key=lambda r: r["seed"]) for a in acts}
    base = {r["seed"]: r["final"]["test_acc"] for r in by_act[acts[0]]}
    rows = []
    for act in acts:
        cells = by_act[act]
        row: dict[str, Any] = {
            "act": act,
            "family": _family(act),
            "seeds": len(cells),
            "learnable": any(c["learned"] for c in cells),
        }
        for m in _METRICS:
            values = np.array([c["final"][m] for c in cells])
            row[f"{m}_mean"] = float(values.mean())
            row[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["epochs_mean"] = float(np.mean([c["final"]["epoch"] for c in cells]))
        row["sec_per_epoch"] = float(np.mean([np.mean([h["seconds"] for h in c["history"]]) for c in cells]))
        paired = [(base[c["seed"]], c["final"]["test_acc"]) for c in cells if c["seed"] in base]
        row["delta_acc_vs_first"] = float(np.mean([b - a for a, b in paired])) if paired else math.nan
        row["p_vs_first"] = None if act == acts[0] else paired_test(*zip(*paired)) if paired else None
        rows.append(row)
    return rows


def _csv(records: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    cols = ["act", "seed", "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "stopped_early"]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(
            {
                "act": r["act"],
                "seed": r["seed"],
                "stopped_early": r["stopped_early"],
                **{k: r["final"][k] for k in cols[2:-1]},
            }
        )
    return buf.getvalue()


def _plot_curves(path: Path, records: Sequence[dict[str, Any]], acts: Sequence[str]) -> Path:
    plt = pyplot("actlab.harness.report")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for act in acts:
        cells = [r for r in records if r["act"] == act]
        length = min(len(c["history"]) for c in cells)  # early-stopped seeds: plot the common part
        epochs = np.arange(1, length + 1)
        for ax, key in zip(axes, ("test_acc", "train_loss")):
            values = np.array([[h[key] for h in c["history"][:length]] for c in cells])
            mean, std = values.mean(0), values.std(0)
            (line,) = ax.plot(epochs, mean, label=act, lw=1.6)
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
    for ax, title in zip(axes, ("test accuracy", "train loss")):
        ax.set(xlabel="epoch", title=f"{title} (mean ± std over seeds)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    return path


def _plot_learned(path: Path, records: Sequence[dict[str, Any]], acts: Sequence[str]) -> Path | None:
    learned = [a for a in acts if any(r["learned"] for r in records if r["act"] == a)]
    if not learned:
        return None
    plt = pyplot("actlab.harness.report")
    import torch

    fig, axes = plt.subplots(1, len(learned), figsize=(4.6 * len(learned), 4), squeeze=False, constrained_layout=True)
    for ax, act in zip(axes[0], learned):
        cell = next(r for r in records if r["act"] == act and r["learned"])
        x = np.array(cell["learned"]["x"])
        with torch.no_grad():
            init = site_template(act).eval()(torch.tensor(x, dtype=torch.float32).view(1, -1)).view(-1).numpy()
        ax.plot(x, init, "k--", lw=1.2, label="initial")
        for site, ys in cell["learned"]["sites"].items():
            ax.plot(x, ys, lw=1.4, label=site)
        ax.set(title=f"{act}, seed {cell['seed']}: trained", xlabel="x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)
    return path


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3f}"


def _markdown(rows: Sequence[dict[str, Any]], grid: dict[str, Any], files: dict[str, Path]) -> str:
    cfg = grid["config"]
    seeds = grid["seeds"]
    lines = [
        f"# Activation comparison: {grid['task']} / {grid['model']}",
        "",
        f"{len(seeds)} seeds ({', '.join(map(str, seeds))}), {cfg['epochs']} epochs, batch {cfg['batch_size']}, "
        f"optimizer {cfg['optim']} lr {cfg['lr']}, schedule {cfg['schedule']}"
        + (f", patience {cfg['patience']}" if cfg["patience"] else "")
        + (f", first {grid['max_train']} training samples" if grid.get("max_train") else "")
        + ".",
        "",
        "Final-epoch metrics, mean ± std over seeds. Δ acc and p: paired over seeds against the first row.",
        "",
        "| activation | family | test acc | test loss | train loss | Δ acc | p (paired t) | s/epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['act']}` | {r['family']}{' (learned)' if r['learnable'] else ''} "
            f"| {r['test_acc_mean']:.4f} ± {r['test_acc_std']:.4f} | {r['test_loss_mean']:.4f} ± {r['test_loss_std']:.4f} "
            f"| {r['train_loss_mean']:.4f} ± {r['train_loss_std']:.4f} | {r['delta_acc_vs_first']:+.4f} "
            f"| {_fmt_p(r['p_vs_first'])} | {r['sec_per_epoch']:.3f} |"
        )
    sig = [r["act"] for r in rows[1:] if r["p_vs_first"] is not None and r["p_vs_first"] < 0.05]
    lines += [
        "",
        "## Significance",
        "",
        f"Paired t-test (`scipy.stats.ttest_rel`) of final test accuracy across seeds, each row against "
        f"`{rows[0]['act']}`. "
        + (f"p < 0.05 for: {', '.join(f'`{a}`' for a in sig)}. " if sig else "No row differs at p < 0.05. ")
        + f"With {len(seeds)} seed(s) the test has little power and assumes normal paired differences: "
        "read p as a hint, not a verdict, and add seeds (`--seeds`) before concluding. "
        "`-` means undefined (one seed, or identical differences).",
        "",
        "## Plots",
        "",
        f"![learning curves]({files['curves'].name})",
        "",
    ]
    if "learned" in files:
        lines += [
            f"![learned activations]({files['learned'].name})",
            "",
            "Learned activations: the trained curve at every activation site of one seed, against the "
            "initial curve (dashed).",
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `results.csv`: one row per (activation, seed), final epoch.",
        "- `results.json`: the grid, the summary and every cell's per-epoch history.",
        "- `cells/<activation>/seed<k>/`: checkpoint and result of each cell (a rerun resumes from them).",
        "",
    ]
    return "\n".join(lines)


def write_report(out: Path, records: list[dict[str, Any]], acts: Sequence[str], *, grid: dict[str, Any]):
    """Write ``results.csv``, ``results.json``, ``learning_curves.png``, ``learned_activations.png``
    (when an activation has parameters) and ``report.md`` into ``out``; return a `CompareResult`."""
    rows = summarise(records, acts)
    files: dict[str, Path] = {
        "csv": atomic_write_text(out / "results.csv", _csv(records)),
        "json": atomic_write_json(out / "results.json", {"grid": grid, "summary": rows, "cells": records}),
        "curves": _plot_curves(out / "learning_curves.png", records, acts),
    }
    learned = _plot_learned(out / "learned_activations.png", records, acts)
    if learned is not None:
        files["learned"] = learned
    files["report"] = atomic_write_text(out / "report.md", _markdown(rows, grid, files))
    return CompareResult(out_dir=out, cells=records, summary=rows, files=files)
