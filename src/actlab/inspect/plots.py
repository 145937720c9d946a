"""Plots of a run folder (saturation, gradient flow, activation shapes) and of linear regions.

The run-folder contract read by `inspect_run` (and ``actlab inspect RUN_DIR``); every file is
optional and each plot is made from what is present:

- ``monitor.csv``: columns ``epoch, layer, activation, saturation, mean, std, grad_norm``
  (extra columns ignored), as written by `Monitor.logger` ->
  ``inspect_saturation.png`` and ``inspect_gradient_flow.png``.
- ``config.json`` with ``{"act": <spec string>, ...}`` plus ``model_initial.pt`` and
  ``model_final.pt`` (``state_dict`` files, loaded with ``weights_only=True``) ->
  ``inspect_activations.png``: the activation of every layer whose parameters are in the state
  dicts, before and after training (one curve per channel).
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab.core.extras import require
from actlab.core.io import save_figure
from actlab.core.learned import activation_curve, activations_from_state_dict
from actlab.core.registry import create
from actlab.inspect.regions import PlaneRegions

__all__ = ["InspectReport", "inspect_run", "plot_plane_regions", "read_monitor_csv"]

REQUIRED_COLUMNS = ("epoch", "layer", "activation", "saturation", "mean", "std", "grad_norm")
_MAX_CHANNELS = 16


@dataclass
class InspectReport:
    """What `inspect_run` wrote and what it could not make, with the reason."""

    written: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _figure(nrows: int = 1, ncols: int = 1, **kw: Any):
    # The object-oriented API with no pyplot state: safe in threads and without a display.
    Figure = require("matplotlib.figure", "the inspect plots", "plot").Figure

    fig = Figure(figsize=kw.pop("figsize", (6.4 * ncols, 4.2 * nrows)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def read_monitor_csv(path: str | os.PathLike[str]) -> dict[str, list[dict[str, float]]]:
    """Rows of a monitor CSV grouped by layer (in first-seen order), numbers as floats.

    Raises:
        ValueError: a required column is missing.
    """
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(
                f"read_monitor_csv: `{path}` must have columns {', '.join(REQUIRED_COLUMNS)}, "
                f"got {', '.join(reader.fieldnames or []) or 'none'} (missing {', '.join(absent)})"
            )
        layers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in reader:
            parsed: dict[str, Any] = {"activation": row["activation"]}
            for col in ("epoch", "saturation", "mean", "std", "grad_norm"):
                parsed[col] = float(row[col]) if row[col] not in ("", None) else float("nan")
            layers[row["layer"]].append(parsed)
    return dict(layers)


def _plot_saturation(layers: dict[str, list[dict[str, float]]], path: Path) -> Path:
    fig, axes = _figure()
    ax = axes[0, 0]
    for name, rows in layers.items():
        ax.plot(
            [r["epoch"] for r in rows],
            [r["saturation"] for r in rows],
            marker="o",
            label=f"{name} ({rows[0]['activation']})",
        )
    # No fixed top: a few percent saturated must still be readable.
    ax.set(xlabel="epoch", ylabel="fraction of units saturated", title="Saturation per layer")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def _plot_gradient_flow(layers: dict[str, list[dict[str, float]]], path: Path) -> Path:
    colormaps = require("matplotlib", "the inspect plots", "plot").colormaps

    names = list(layers)
    epochs = sorted({r["epoch"] for rows in layers.values() for r in rows})
    fig, axes = _figure()
    ax = axes[0, 0]
    cmap = colormaps["viridis"]
    for i, epoch in enumerate(epochs):
        values = [next((r["grad_norm"] for r in layers[n] if r["epoch"] == epoch), np.nan) for n in names]
        ax.plot(
            range(len(names)),
            values,
            marker="o",
            color=cmap(i / max(len(epochs) - 1, 1)),
            label=f"epoch {epoch:g}" if i in (0, len(epochs) - 1) else None,
        )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set(xlabel="layer (input to output)", ylabel="mean |dL/d activation output|", title="Gradient flow")
    if all(r["grad_norm"] > 0 for rows in layers.values() for r in rows):
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def _activation_layers(act: str, initial: dict[str, torch.Tensor], final: dict[str, torch.Tensor]):
    """``(prefix, module_before, module_after)`` for each activation found in both state dicts."""
    if not create(act).state_dict():
        return []
    before, after = activations_from_state_dict(initial, act), activations_from_state_dict(final, act)
    return [(p, before[p].eval(), after[p].eval()) for p in sorted(after) if p in before]


def _curves(module: nn.Module, x: torch.Tensor) -> np.ndarray:
    return activation_curve(module, x)[:, :_MAX_CHANNELS].numpy()


def _plot_activation_shapes(act: str, layers: list, path: Path) -> Path:
    x = torch.linspace(-5, 5, 401)
    if not layers:  # no parameters: one fixed shape
        fig, axes = _figure()
        with torch.no_grad():
            axes[0, 0].plot(x, create(act).eval()(x), color="k")
        axes[0, 0].set(
            title=f"{act} (no learnable parameters: the shape is unchanged by training)", xlabel="x", ylabel="f(x)"
        )
        return save_figure(fig, path)
    ncols = min(3, len(layers))
    nrows = -(-len(layers) // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows))
    for ax, (prefix, before, after) in zip(axes.flat, layers):
        ax.plot(x, _curves(before, x), color="tab:gray", ls="--", lw=1)
        ax.plot(x, _curves(after, x), color="tab:blue", lw=1)
        ax.set(title=prefix, xlabel="x")
        ax.plot([], [], color="tab:gray", ls="--", label="initial")
        ax.plot([], [], color="tab:blue", label="final")
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(layers) :]:
        ax.set_visible(False)
    fig.suptitle(f"{act}: activation per layer before and after training (one curve per channel)")
    return save_figure(fig, path)


def inspect_run(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> InspectReport:
    """Write the PNGs that the files present in ``run_dir`` allow (see the module docstring).

    Args:
        run_dir: the run folder.
        out_dir: where the PNGs go (default: ``run_dir``).

    Returns:
        An `InspectReport`: paths written, and one line per plot not made saying what is missing.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
        ValueError: a file is present but malformed (missing CSV columns, bad config).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"inspect_run: `run_dir` must be a directory, got {str(run)!r}")
    out = Path(out_dir) if out_dir is not None else run
    report = InspectReport()
    monitor = run / "monitor.csv"
    if monitor.is_file():
        layers = read_monitor_csv(monitor)
        if layers:
            report.written.append(_plot_saturation(layers, out / "inspect_saturation.png"))
            report.written.append(_plot_gradient_flow(layers, out / "inspect_gradient_flow.png"))
        else:
            report.missing.append("saturation, gradient flow: monitor.csv has no rows")
    else:
        report.missing.append("saturation, gradient flow: no monitor.csv (write one with Monitor.logger)")

    need = [name for name in ("config.json", "model_initial.pt", "model_final.pt") if not (run / name).is_file()]
    if need:
        report.missing.append(f"activation shapes: no {', '.join(need)}")
        return report
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict) or not isinstance(config.get("act"), str):
        raise ValueError(f'inspect_run: `config.json` must hold an object with a string "act", got {config!r}')
    initial, final = (
        torch.load(run / f"model_{w}.pt", map_location="cpu", weights_only=True) for w in ("initial", "final")
    )
    layers_found = _activation_layers(config["act"], initial, final)
    report.written.append(_plot_activation_shapes(config["act"], layers_found, out / "inspect_activations.png"))
    return report


def plot_plane_regions(result: PlaneRegions, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Draw the regions of a 2-D slice (from `regions_in_plane`), one colour per region."""
    colormaps = require("matplotlib", "plot_plane_regions", "plot").colormaps
    PolyCollection = require("matplotlib.collections", "plot_plane_regions", "plot").PolyCollection

    fig, axes = _figure(figsize=(5.6, 5.2))
    ax = axes[0, 0]
    rng = np.random.default_rng(0)  # shuffled colours so neighbours differ
    colors = colormaps["tab20"](rng.permutation(result.count) % 20)
    ax.add_collection(PolyCollection(result.polygons, facecolors=colors, edgecolors="k", linewidths=0.3))
    ax.plot([0], [0], marker="*", color="k", ms=10, label="x0")
    r = result.extent
    ax.set(
        xlim=(-r, r),
        ylim=(-r, r),
        aspect="equal",
        xlabel="u (d1)",
        ylabel="v (d2)",
        title=title or f"{result.count} linear regions in the slice",
    )
    ax.legend(loc="upper right")
    return save_figure(fig, Path(path))
