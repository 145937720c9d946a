"""Trainability heat map of deep quantized MLPs against the mean-field depth scale (part D).

Blumenfeld, Gilboa & Soudry (2019) predict that an N-level network at its mean-field
initialisation trains up to about ``L_max = 6 xi(N)`` layers (Schoenholz et al.'s constant; xi the
correlation depth scale, `actlab.quantized.mean_field`). The heat map trains plain MLPs
``40 -> W x depth -> 10`` with ``quantize(levels=N, range=(-1, 1), ste='clipped')`` after every
hidden Linear, zero biases, weights at the mean-field variance, for each (N, depth) on a grid
whose depths go past 6 xi for every N, a short Adam run each, several seeds.

Trainability rule, fixed before looking at the numbers: a cell is *trainable* when its mean test
accuracy is at least halfway from chance (0.1) to the best mean accuracy of its row (same N, any
depth); a row whose best is within 0.05 of chance has no trainable cell. The prediction calls a
cell trainable when ``depth <= 6 xi``. The verdict is the fraction of cells where the two agree:
>= 0.85 reproduced, >= 0.6 partly, else not reproduced.

Each cell's result is cached in ``out_dir/runs`` under its configuration, so a rerun resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab.core.io import atomic_write_json, pyplot, save_figure
from actlab.data import Dataset
from actlab.quantized.activation import Quantize
from actlab.quantized.mean_field import init_quantized_, mean_field_init
from actlab.training import TrainConfig, train

__all__ = ["deep_mlp", "heatmap", "heatmap_plot", "heatmap_verdict"]

CHANCE = 0.1
AGREE = {"reproduced": 0.85, "partly": 0.6}


def deep_mlp(levels: int, depth: int, width: int) -> nn.Sequential:
    """``depth`` hidden Linear + ``quantize(levels, range=(-1, 1), ste='clipped')`` blocks, then a Linear to 10."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(40 if i == 0 else width, width), Quantize(levels=levels, range=(-1.0, 1.0), ste="clipped")]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def _cell(data: Dataset, levels: int, depth: int, seed: int, cfg: dict[str, Any], out_dir: Path) -> float:
    key = {"levels": levels, "depth": depth, "seed": seed, **cfg}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = out_dir / "runs" / f"heatmap-N{levels}-L{depth}-seed{seed}-{digest}.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return float(saved["test_acc"])
    torch.manual_seed(seed)
    model = deep_mlp(levels, depth, cfg["width"])
    init_quantized_(model, levels, generator=torch.Generator().manual_seed(seed))
    config = TrainConfig(
        epochs=cfg["epochs"], steps_per_epoch=cfg["steps_per_epoch"], batch_size=cfg["batch_size"], seed=seed
    )
    acc = float(train(model, data, config).final_acc)
    atomic_write_json(path, {"key": key, "test_acc": acc})
    return acc


def heatmap(
    data: Dataset,
    out_dir: Path,
    *,
    levels: tuple[int, ...],
    depths: tuple[int, ...],
    seeds: int,
    width: int,
    epochs: int,
    steps_per_epoch: int,
    batch_size: int,
) -> dict[str, Any]:
    """Train every (N, depth, seed) cell (one torch thread); accuracies, predictions and the rule's calls."""
    cfg = {"width": width, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows: dict[str, Any] = {}
        for n in levels:
            pred = mean_field_init(n)
            cells: list[dict[str, Any]] = []
            for depth in depths:
                accs = [_cell(data, n, depth, s, cfg, Path(out_dir)) for s in range(seeds)]
                cells.append(
                    {
                        "depth": depth,
                        "accs": accs,
                        "mean": statistics.fmean(accs),
                        "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                        "predicted_trainable": depth <= pred.max_depth,
                    }
                )
            best = max(c["mean"] for c in cells)
            threshold = CHANCE + 0.5 * (best - CHANCE)
            for c in cells:
                c["trainable"] = best >= CHANCE + 0.05 and c["mean"] >= threshold
            trainable = [c["depth"] for c in cells if c["trainable"]]
            rows[str(n)] = {
                "depth_scale": pred.depth_scale,
                "max_depth": pred.max_depth,
                "threshold": threshold,
                "deepest_trainable": max(trainable) if trainable else None,
                "cells": cells,
            }
    finally:
        torch.set_num_threads(before)
    return {"config": {**cfg, "levels": levels, "depths": depths, "seeds": seeds}, "rows": rows}


def heatmap_verdict(hm: dict[str, Any]) -> tuple[str, float]:
    """The verdict and the fraction of cells where the rule and ``depth <= 6 xi`` agree."""
    cells = [c for row in hm["rows"].values() for c in row["cells"]]
    agree = sum(c["trainable"] == c["predicted_trainable"] for c in cells) / len(cells)
    verdict = next((v for v, cut in AGREE.items() if agree >= cut), "not reproduced")
    return verdict, agree


def heatmap_plot(hm: dict[str, Any], path: Path) -> None:
    plt = pyplot("actlab.experiments.quantized")
    levels = [int(n) for n in hm["rows"]]
    depths = list(hm["config"]["depths"])
    acc = np.array([[c["mean"] for c in row["cells"]] for row in hm["rows"].values()])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    im = ax.imshow(acc, origin="lower", aspect="auto", cmap="viridis", vmin=CHANCE)
    fig.colorbar(im, ax=ax, label=f"test accuracy (mean of {hm['config']['seeds']} seeds)")
    for i, row in enumerate(hm["rows"].values()):
        for j, c in enumerate(row["cells"]):
            ax.text(
                j, i, f"{c['mean']:.2f}", ha="center", va="center", fontsize=7, color="w" if c["trainable"] else "k"
            )
    # The predicted boundary L = 6 xi(N), placed on the log-spaced depth axis by interpolation.
    log_d = np.log(depths)
    pos = [float(np.interp(math.log(row["max_depth"]), log_d, np.arange(len(depths)))) for row in hm["rows"].values()]
    ax.plot(pos, np.arange(len(levels)), "r--o", ms=4, label="predicted L_max = 6 xi")
    ax.set_xticks(range(len(depths)), [str(d) for d in depths])
    ax.set_yticks(range(len(levels)), [f"N={n}" for n in levels])
    ax.set_xlabel("depth (quantized hidden layers)")
    ax.set_title("Trainability at the mean-field init (white text: trainable by the rule)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
