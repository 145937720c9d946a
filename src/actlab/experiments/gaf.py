"""GAF (Chen et al. 2021): does activating gradients speed up convergence and help accuracy?

Two parts, each comparing a bare optimizer with the same optimizer wrapped in
`GradientActivation` (``atan``; the official class defaults ``0.3, 4.5`` for SGD and
``0.1, 15`` for Adam):

1. Ill-conditioned problems (a diagonal quadratic with condition number 1e3, and Rosenbrock):
   each method at its own best learning rate from a small grid (best = lowest mean log-loss at
   the end), random starting points per seed; reported: steps to reach the tolerance and the
   final loss.
2. MLP classifiers on MNIST-1D and digits, SGD-momentum and Adam, with and without GAF, over
   seeds: test accuracy (final and best) mean ± std, learning curves.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab.core.io import atomic_write_json, atomic_write_text, pyplot, save_figure
from actlab.data import Dataset, load_dataset
from actlab.experiments import Experiment, register_experiment
from actlab.gaf import GradientActivation
from actlab.training import TrainConfig, train

PAPER = "Chen, Jin, et al., Activated Gradients for Deep Neural Networks, IEEE TNNLS 2021 (arXiv 2107.04228)"
CLAIM = (
    "Applying a bounded, odd, increasing g (alpha*atan(beta*x)) to gradients relieves ill-conditioning "
    "and gives faster convergence and better accuracy than the bare optimizer."
)

GAF_SETTINGS = {"sgd": {"alpha": 0.3, "beta": 4.5}, "adam": {"alpha": 0.1, "beta": 15.0}}
# Factor-2 grids: with coarser ones the comparison mostly measures where the grid points fall
# (near the stability edge a slope-1.35 g behaves like a 1.35x larger learning rate).
LR_GRIDS = {"sgd": [1e-4 * 2**k for k in range(8)], "adam": [1e-3 * 2**k for k in range(10)]}


def _make(kind: str, params, lr: float, gaf: bool) -> torch.optim.Optimizer:
    inner = torch.optim.SGD(params, lr=lr, momentum=0.9) if kind == "sgd" else torch.optim.Adam(params, lr=lr)
    settings = GAF_SETTINGS[kind]
    return GradientActivation(inner, "atan", alpha=settings["alpha"], beta=settings["beta"]) if gaf else inner


# --- part 1: ill-conditioned problems -----------------------------------------------------------


def _quadratic(dim: int = 20, cond: float = 1e3):
    h = torch.logspace(0, math.log10(cond), dim, dtype=torch.float64)
    return (lambda x: 0.5 * (h * x * x).sum()), (lambda g: torch.randn(dim, generator=g, dtype=torch.float64))


def _rosenbrock():
    def f(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    def start(g):
        return torch.tensor([-1.5, 2.0], dtype=torch.float64) + 0.2 * torch.randn(2, generator=g, dtype=torch.float64)

    return f, start


PROBLEMS = {"quadratic_cond1e3": _quadratic, "rosenbrock": _rosenbrock}


class _Point(nn.Module):
    """A point ``x`` in parameter space whose "loss" is ``f(x)``: a toy problem as a model for `train`."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor) -> None:
        super().__init__()
        self.f = f
        self.x = nn.Parameter(x0.clone())

    def forward(self, _batch: torch.Tensor) -> torch.Tensor:
        return self.f(self.x)


#: The toy problems have no data: one dummy sample, so `train` steps ``f`` full-batch.
_NO_DATA = Dataset("none", torch.zeros(1, 1), torch.zeros(1), torch.zeros(1, 1), torch.zeros(1), 1)


def _optimise(f, x0: torch.Tensor, kind: str, lr: float, gaf: bool, steps: int) -> np.ndarray:
    """``f`` at each of ``steps + 1`` iterates (inf from the first non-finite one on)."""
    seen: list[float] = []

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = model(x)
        seen.append(value.item())
        return value

    config = TrainConfig(epochs=1, batch_size=1, steps_per_epoch=steps, stop_nonfinite=True)
    result = train(_Point(f, x0), _NO_DATA, config, objective=loss, optimizer=lambda ps: _make(kind, ps, lr, gaf))
    losses = np.full(steps + 1, np.inf)
    # ``seen``: the loss before each step, then the test evaluation of the last iterate.
    finite = seen[:-2] if result.diverged else seen
    losses[: len(finite)] = finite
    return losses


def _steps_to(losses: np.ndarray, tol: float) -> float:
    hit = np.nonzero(losses <= tol)[0]
    return float(hit[0]) if len(hit) else float("nan")


def run_conditioning(*, steps: int, seeds: int, tol: float = 1e-6) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pname, make_problem in PROBLEMS.items():
        f, start = make_problem()
        starts = [start(torch.Generator().manual_seed(s)) for s in range(seeds)]
        for kind in ("sgd", "adam"):
            for gaf in (False, True):
                per_lr = {}
                for lr in LR_GRIDS[kind]:
                    curves = np.stack([_optimise(f, x0, kind, lr, gaf, steps) for x0 in starts])
                    final = np.log10(np.maximum(curves[:, -1], 1e-300))
                    per_lr[lr] = (np.nanmean(np.where(np.isfinite(final), final, 300.0)), curves)
                best_lr = min(per_lr, key=lambda k: per_lr[k][0])
                curves = per_lr[best_lr][1]
                hits = [_steps_to(c, tol) for c in curves]
                out[f"{pname}/{kind}/{'gaf' if gaf else 'bare'}"] = {
                    "problem": pname,
                    "optimizer": kind,
                    "gaf": gaf,
                    "best_lr": best_lr,
                    "final_loss_mean": float(np.mean(curves[:, -1])),
                    "final_loss_std": float(np.std(curves[:, -1])),
                    "steps_to_tol": hits,
                    "reached": int(np.sum(np.isfinite(hits))),
                    "curve_median": np.median(curves, axis=0).tolist(),
                    "lr_grid_log10_final": {str(k): float(v[0]) for k, v in per_lr.items()},
                }
    return out


# --- part 2: classifiers ------------------------------------------------------------------------


def _mlp(d_in: int, n_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, n_out))


def run_classifiers(*, datasets: list[str], epochs: int, seeds: int) -> dict[str, Any]:
    lrs = {"sgd": 0.05, "adam": 1e-3}
    out: dict[str, Any] = {}
    for ds in datasets:
        data = load_dataset(ds)
        for kind in ("sgd", "adam"):
            for gaf in (False, True):
                runs = []
                for seed in range(seeds):
                    torch.manual_seed(seed)
                    model = _mlp(data.input_shape[0], data.num_classes)
                    res = train(
                        model,
                        data,
                        TrainConfig(epochs=epochs, seed=seed),
                        optimizer=functools.partial(_make, kind, lr=lrs[kind], gaf=gaf),
                    )
                    runs.append(res.history)
                final = [h[-1]["test_acc"] for h in runs]
                best = [max(r["test_acc"] for r in h) for h in runs]
                out[f"{ds}/{kind}/{'gaf' if gaf else 'bare'}"] = {
                    "dataset": ds,
                    "optimizer": kind,
                    "gaf": gaf,
                    "lr": lrs[kind],
                    "final_acc": final,
                    "best_acc": best,
                    "final_acc_mean": float(np.mean(final)),
                    "final_acc_std": float(np.std(final)),
                    "best_acc_mean": float(np.mean(best)),
                    "best_acc_std": float(np.std(best)),
                    "test_acc_curves": [[r["test_acc"] for r in h] for h in runs],
                    "train_loss_curves": [[r["train_loss"] for r in h] for h in runs],
                }
    return out


# --- report -------------------------------------------------------------------------------------


def _plots(out_dir: Path, cond: dict[str, Any], clf: dict[str, Any]) -> list[str]:
    plt = pyplot("actlab.experiments.gaf")

    names = []
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, (pname, kind) in zip(axes, [(p, k) for p in PROBLEMS for k in ("sgd", "adam")]):
        for gaf, style in ((False, "--"), (True, "-")):
            r = cond[f"{pname}/{kind}/{'gaf' if gaf else 'bare'}"]
            ax.semilogy(
                np.maximum(r["curve_median"], 1e-30),
                style,
                label=f"{'GAF atan' if gaf else 'bare'} (lr={r['best_lr']:g})",
            )
        ax.set(title=f"{pname}, {kind}", xlabel="step", ylabel="loss (median over starts)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir / "gaf_convergence.png", dpi=110)
    names.append("gaf_convergence.png")

    datasets = sorted({v["dataset"] for v in clf.values()})
    fig, axes = plt.subplots(1, 2 * len(datasets), figsize=(8 * len(datasets), 3.6), squeeze=False)
    for ax, (ds, kind) in zip(axes[0], [(d, k) for d in datasets for k in ("sgd", "adam")]):
        for gaf, color in ((False, "tab:gray"), (True, "tab:red")):
            r = clf[f"{ds}/{kind}/{'gaf' if gaf else 'bare'}"]
            acc = np.array(r["test_acc_curves"])
            ep = np.arange(1, acc.shape[1] + 1)
            ax.plot(ep, acc.mean(0), color=color, label="GAF atan" if gaf else "bare")
            ax.fill_between(ep, acc.min(0), acc.max(0), color=color, alpha=0.2)
        ax.set(title=f"{ds}, {kind}", xlabel="epoch", ylabel="test accuracy (mean, min-max band)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir / "gaf_classifiers.png", dpi=110)
    names.append("gaf_classifiers.png")
    return names


def _fmt_steps(hits: list[float]) -> str:
    reached = [h for h in hits if math.isfinite(h)]
    if not reached:
        return "never"
    tail = "" if len(reached) == len(hits) else f" ({len(reached)}/{len(hits)} reached)"
    return f"{np.mean(reached):.0f} ± {np.std(reached):.0f}{tail}"


def _report(cond: dict[str, Any], clf: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = [
        f"# GAF reproduction\n\nPaper: {PAPER}\n\nClaim: {CLAIM}\n",
        f"Settings: {json.dumps(cfg)}; GAF = atan with {json.dumps(GAF_SETTINGS)}.\n",
        f"## Ill-conditioned problems (best LR per method, {cfg['steps']} steps, tolerance {cfg['tol']:g})\n",
        "| problem | optimizer | method | best lr | steps to tol (mean ± std) | final loss (mean ± std) |",
        "|---|---|---|---|---|---|",
    ]
    for r in cond.values():
        lines.append(
            f"| {r['problem']} | {r['optimizer']} | {'GAF' if r['gaf'] else 'bare'} | {r['best_lr']:g} | "
            f"{_fmt_steps(r['steps_to_tol'])} | {r['final_loss_mean']:.2e} ± {r['final_loss_std']:.1e} |"
        )
    lines += [
        "",
        f"## MLP classifiers ({cfg['epochs']} epochs, {cfg['seeds']} seeds)\n",
        "| data | optimizer | method | lr | final test acc | best test acc |",
        "|---|---|---|---|---|---|",
    ]
    for r in clf.values():
        lines.append(
            f"| {r['dataset']} | {r['optimizer']} | {'GAF' if r['gaf'] else 'bare'} | {r['lr']:g} | "
            f"{r['final_acc_mean']:.4f} ± {r['final_acc_std']:.4f} | "
            f"{r['best_acc_mean']:.4f} ± {r['best_acc_std']:.4f} |"
        )
    lines += ["", "## Verdict (generated from the numbers above)\n"]
    for key in cond:
        if key.endswith("/bare"):
            b, g = cond[key], cond[key[:-4] + "gaf"]
            bs, gs = [np.nanmean([h for h in r["steps_to_tol"] if math.isfinite(h)] or [np.inf]) for r in (b, g)]
            verdict = "faster" if gs < bs else ("not faster" if math.isfinite(bs) else "neither reaches it")
            lower = "lower" if g["final_loss_mean"] < b["final_loss_mean"] else "higher"
            lines.append(
                f"- {b['problem']} / {b['optimizer']}: GAF {verdict} to tolerance "
                f"({gs:.0f} vs {bs:.0f} steps, each at its best LR); final loss {lower} "
                f"({g['final_loss_mean']:.2e} vs {b['final_loss_mean']:.2e})."
            )
    for key in clf:
        if key.endswith("/bare"):
            b, g = clf[key], clf[key[:-4] + "gaf"]
            diff = g["final_acc_mean"] - b["final_acc_mean"]
            spread = max(b["final_acc_std"], g["final_acc_std"])
            word = "within the seed spread" if abs(diff) <= spread else ("better" if diff > 0 else "worse")
            lines.append(f"- {b['dataset']} / {b['optimizer']}: GAF final accuracy {diff:+.4f} vs bare ({word}).")
    lines += ["", "![convergence](gaf_convergence.png)", "", "![classifiers](gaf_classifiers.png)", ""]
    return "\n".join(lines)


def run(out_dir: Path, *, full: bool = False, seeds: int = 3) -> dict[str, Any]:
    """Run both parts; ``full`` uses more steps/epochs. Writes report.md, results.json, PNGs."""
    out_dir = Path(out_dir)
    cfg: dict[str, Any] = {
        "steps": 3000 if full else 1000,
        "tol": 1e-6,
        "epochs": 60 if full else 20,
        "seeds": seeds,
        "datasets": ["mnist1d", "digits"],
        "full": full,
    }
    cond = run_conditioning(steps=cfg["steps"], seeds=seeds, tol=cfg["tol"])
    clf = run_classifiers(datasets=cfg["datasets"], epochs=cfg["epochs"], seeds=seeds)
    results: dict[str, Any] = {"config": cfg, "conditioning": cond, "classifiers": clf}
    results["plots"] = _plots(out_dir, cond, clf)
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "report.md", _report(cond, clf, cfg))
    return results


register_experiment(Experiment(name="gaf", paper=PAPER, claim=CLAIM, run=run))
