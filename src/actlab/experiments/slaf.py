"""SLAF (Goyal, Goyal, Lall, 2019): does a learned polynomial activation beat ReLU, alone or beside it?

Two parts, several seeds each:

1. The headline (`actlab.experiments._slaf_cnn`): the authors' SLAF form (`slaf_bn`) and their
   "SLAF with ReLU" (SLAF convs, BN + ReLU dense) in a small CNN on digits against relu and the
   control with the same dense batch norm; best and final epoch; a verdict.
2. A study of actlab's range-scaled SLAF variants (bases, degrees, initialisations, bfloat16,
   no range, relu + poly) in an MLP on MNIST-1D and digits.

Run: ``run_experiment("slaf", "runs/slaf")`` (or ``actlab reproduce slaf``). Default size takes a
few minutes on 2 CPU cores; ``full=True`` trains longer on more seeds.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab.core.io import atomic_write, atomic_write_json, atomic_write_text, pyplot, save_figure
from actlab.core.learned import activation_curve
from actlab.core.registry import activation_modules
from actlab.data import load_dataset
from actlab.experiments import Experiment, register_experiment
from actlab.experiments._slaf_cnn import report_cnn, run_cnn
from actlab.harness.models import MLP
from actlab.slaf.activation import SLAF
from actlab.slaf.training import CoefficientL1, activation_parameters, cycle_activations, learned_polynomials
from actlab.training import TrainConfig, train

PAPER = "Goyal, Goyal, Lall, 'Learning activation functions: a new paradigm for understanding neural networks', 2019, arXiv:1906.09529"
CLAIM = (
    "Networks with self-learnable polynomial activations (SLAF) train to accuracy comparable to or better "
    "than ReLU (the authors' MNIST single runs: SLAF 99.55 %, ReLU 99.34 %), and SLAF used alongside "
    "ReLU gives gains with few extra parameters; high-degree polynomials need range control."
)
HIDDEN = (64, 64)

# name -> (activation factory builder, uses the authors' L1 penalty, bfloat16 autocast)
VARIANTS: dict[str, tuple[Callable[[], Callable[[], nn.Module] | str], bool, bool]] = {
    "relu": (lambda: "relu", False, False),
    "slaf(4, fit relu)": (lambda: "slaf(degree=4, init='relu')", True, False),
    "slaf(4, paper init)": (lambda: "slaf(degree=4, init='paper')", True, False),
    "slaf(4, per-channel)": (lambda: f"slaf(degree=4, init='relu', num_parameters={HIDDEN[0]})", True, False),
    "slaf(6, chebyshev)": (lambda: "slaf(degree=6, basis='chebyshev', init='relu')", True, False),
    "slaf(6, chebyshev, bf16)": (lambda: "slaf(degree=6, basis='chebyshev', init='relu')", True, True),
    "slaf(6, unguarded)": (lambda: "slaf(degree=6, init='relu', range=None)", True, False),
    "slaf_relu(4)": (lambda: "slaf_relu(degree=4)", True, False),
    "slaf | relu layers": (lambda: cycle_activations("slaf(degree=4, init='relu')", "relu"), True, False),
}


class _Autocast(nn.Module):
    """Runs the wrapped model under CPU bfloat16 autocast; float32 logits out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(x).float()


def _build(variant: str, data: Any) -> nn.Module:
    act, _, bf16 = VARIANTS[variant]
    model = MLP(int(np.prod(data.input_shape)), data.num_classes, act=act(), hidden=HIDDEN)
    return _Autocast(model) if bf16 else model


def _curves(model: nn.Module, xlim: tuple[float, float] = (-5.0, 5.0)) -> dict[str, np.ndarray]:
    """Eval curves of every SLAF in ``model``: ``{layer: (channels, points)}``, and the grid."""
    x = torch.linspace(*xlim, 401, dtype=torch.float64)
    out: dict[str, np.ndarray] = {"x": x.numpy()}
    for name, m in activation_modules(model):
        if not isinstance(m, SLAF):  # SLAFReLU included
            continue
        out[name] = activation_curve(copy.deepcopy(m).double(), x).T.numpy()
    return out


def _plot_activations(curves: dict[str, dict[str, np.ndarray]], path: Path, title: str) -> None:
    plt = pyplot("actlab.experiments.slaf")

    names = [v for v in curves if len(curves[v]) > 1]
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), constrained_layout=True, squeeze=False)
    for ax, variant in zip(axes.flat, names):
        c = curves[variant]
        ax.plot(c["x"], np.maximum(c["x"], 0), color="0.75", lw=1, ls="--", label="relu")
        for i, layer in enumerate(k for k in c if k != "x"):
            ys = c[layer]
            for j, y in enumerate(ys):
                ax.plot(
                    c["x"],
                    y,
                    color=f"C{i}",
                    lw=1.4 if len(ys) == 1 else 0.5,
                    alpha=1 if len(ys) == 1 else 0.5,
                    label=f"layer {layer}" if j == 0 else None,
                )
        ax.axvspan(-3, 3, color="0.93", zorder=0)
        ax.set_ylim(-3, 6)
        ax.set_title(variant, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path, dpi=110)


def _plot_accuracy(summary: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    plt = pyplot("actlab.experiments.slaf")

    datasets = list(summary)
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4), constrained_layout=True, squeeze=False)
    for ax, ds in zip(axes.flat, datasets):
        names = list(summary[ds])
        means = [100 * summary[ds][n]["acc_mean"] for n in names]
        stds = [100 * summary[ds][n]["acc_std"] for n in names]
        ax.barh(names, means, xerr=stds, color=["0.6" if n == "relu" else "C0" for n in names], capsize=3)
        finite = [m for m in means if math.isfinite(m)]
        ax.set_xlim(max(0.0, min(finite) - 5) if finite else 0, 100)
        ax.invert_yaxis()
        ax.set_xlabel("final test accuracy, % (mean ± std over seeds)")
        ax.set_title(ds)
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path, dpi=110)


def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def run(out_dir: Path, *, full: bool = False, seeds: int = 3) -> dict[str, Any]:
    """Train every variant on MNIST-1D and sklearn digits for ``seeds`` seeds; write the report.

    Writes ``report.md``, ``results.json``, ``accuracy.png``, ``activations_<dataset>.png`` and
    ``mnist1d_slaf_per_channel.pt`` (a state_dict for ``actlab plot --state-dict``) into ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = {"mnist1d": 150 if full else 50, "digits": 100 if full else 40}
    seeds = max(seeds, 5) if full else seeds
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids oversubscribing a shared CPU
    runs: list[dict[str, Any]] = []
    curves: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    try:
        for ds in epochs:
            data = load_dataset(ds)
            curves[ds] = {}
            for variant, (_, l1, _) in VARIANTS.items():
                for seed in range(seeds):
                    torch.manual_seed(seed)
                    model = _build(variant, data)
                    res = train(
                        model,
                        data,
                        TrainConfig(epochs=epochs[ds], batch_size=128, seed=seed, lr=2e-3),
                        regularizer=CoefficientL1(1e-4) if l1 else None,
                    )
                    losses = [h["train_loss"] for h in res.history]
                    runs.append(
                        {
                            "dataset": ds,
                            "variant": variant,
                            "seed": seed,
                            "final_acc": res.final_acc,
                            "best_acc": res.best_acc,
                            "nonfinite": not all(math.isfinite(v) for v in losses),
                            "params": sum(p.numel() for p in model.parameters()),
                            "activation_params": sum(p.numel() for p in activation_parameters(model)),
                            "seconds_per_epoch": statistics.median(h["seconds"] for h in res.history),
                        }
                    )
                    if seed == 0:
                        curves[ds][variant] = _curves(model)
                        if ds == "mnist1d" and variant == "slaf(4, per-channel)":
                            state = model.state_dict()
                            atomic_write(out_dir / "mnist1d_slaf_per_channel.pt", lambda p: torch.save(state, p))
                            polys = {
                                k: [str(np.round(q.coef, 3).tolist()) for q in v]
                                for k, v in learned_polynomials(model).items()
                            }
    finally:
        torch.set_num_threads(threads)

    summary: dict[str, dict[str, dict[str, float]]] = {}
    for ds in epochs:
        summary[ds] = {}
        for variant in VARIANTS:
            rs = [r for r in runs if r["dataset"] == ds and r["variant"] == variant]
            acc_mean, acc_std = _mean_std([r["final_acc"] for r in rs])
            best_mean, best_std = _mean_std([r["best_acc"] for r in rs])
            summary[ds][variant] = {
                "acc_mean": acc_mean,
                "acc_std": acc_std,
                "best_mean": best_mean,
                "best_std": best_std,
                "diverged": sum(r["nonfinite"] for r in rs),
                "seeds": len(rs),
                "params": rs[0]["params"],
                "activation_params": rs[0]["activation_params"],
                "seconds_per_epoch": statistics.median(r["seconds_per_epoch"] for r in rs),
            }

    _plot_accuracy(summary, out_dir / "accuracy.png")
    for ds in epochs:
        _plot_activations(
            curves[ds],
            out_dir / f"activations_{ds}.png",
            f"learned activations, {ds}, seed 0 (grey band: the range (-3, 3))",
        )

    cnn = run_cnn(out_dir, seeds=seeds, epochs=60 if full else 30)
    results = {
        "paper": PAPER,
        "claim": CLAIM,
        "cnn": cnn,
        "verdict": cnn["verdict"],
        "epochs": epochs,
        "seeds": seeds,
        "hidden": list(HIDDEN),
        "summary": summary,
        "runs": runs,
        "per_channel_polynomials_mnist1d": polys,
    }
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "report.md", _report(summary, epochs, seeds, report_cnn(cnn)))
    return results


def _report(
    summary: dict[str, dict[str, dict[str, float]]], epochs: dict[str, int], seeds: int, headline: list[str]
) -> str:
    lines = [
        "# SLAF: learned polynomial activations vs ReLU",
        "",
        f"Paper: {PAPER}.",
        "",
        f"**Claim.** {CLAIM}",
        "",
        *headline,
        "## actlab's range-scaled SLAF variants in an MLP",
        "",
        f"**Setup.** MLP {HIDDEN} (Linear -> activation), Adam lr 2e-3, batch 128, {seeds} seeds, "
        f"epochs {epochs}; SLAF variants with the authors' L1 penalty 1e-4 on the coefficients. "
        "Accuracy is the final-epoch test accuracy; 'best' is the best epoch (what the authors report, "
        "an optimistic number).",
        "",
    ]
    for ds, rows in summary.items():
        relu = rows["relu"]["acc_mean"]
        lines += [
            f"## {ds}",
            "",
            "| variant | final acc % | best acc % | vs relu (pp) | diverged runs | params | act. params | s/epoch |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in rows.items():
            lines.append(
                f"| {name} | {100 * r['acc_mean']:.2f} ± {100 * r['acc_std']:.2f} | "
                f"{100 * r['best_mean']:.2f} ± {100 * r['best_std']:.2f} | {100 * (r['acc_mean'] - relu):+.2f} | "
                f"{r['diverged']}/{r['seeds']} | {r['params']} | {r['activation_params']} | {r['seconds_per_epoch']:.3f} |"
            )
        lines.append("")
    lines += ["## Claim vs measured", ""]
    for ds, rows in summary.items():
        slafs = [n for n in rows if n != "relu" and math.isfinite(rows[n]["acc_mean"])]
        b, relu_row = max(slafs, key=lambda n: rows[n]["acc_mean"]), rows["relu"]
        gap = rows[b]["acc_mean"] - relu_row["acc_mean"]
        spread = max(rows[b]["acc_std"], relu_row["acc_std"])
        verdict = (
            "within the seed spread: no evidence either way"
            if abs(gap) <= spread
            else "larger than the seed spread"
            if gap > 0
            else "ReLU is better by more than the spread"
        )
        lines.append(
            f"- {ds}: best SLAF variant **{b}** {100 * rows[b]['acc_mean']:.2f} ± {100 * rows[b]['acc_std']:.2f} % "
            f"vs ReLU {100 * relu_row['acc_mean']:.2f} ± {100 * relu_row['acc_std']:.2f} % ({100 * gap:+.2f} pp, {verdict})."
        )
    lines += [
        "- Numerical safety: runs with a non-finite training loss are counted under 'diverged'; "
        "'slaf(6, unguarded)' is the paper's bare polynomial (no range), the others continue by tangent lines "
        "outside (-3, 3); an unguarded run that stays finite can still fail to learn (see its accuracy).",
        "",
        "Plots: `accuracy.png`, `activations_mnist1d.png`, `activations_digits.png`.",
        "",
    ]
    return "\n".join(lines)


register_experiment(Experiment(name="slaf", paper=PAPER, claim=CLAIM, run=run))
