"""GAF (Chen et al. 2021): does activating gradients beat the bare optimizer on the official protocol?

Part 2 (the headline claim, always run) follows the official CIFAR protocol as far as an offline
stand-in allows (`/work/shared/PAPERS.md`, section 6): SGD lr 0.1, momentum 0.9, weight decay
5e-4, cosine schedule, batch 256, GAF ``atan`` with ``(alpha, beta) = (0.1, 20)`` and ``(0.2, 10)``
(slope ``alpha * beta = 2`` at zero), baselines clip-by-norm and clip-by-value at
``alpha * pi / 2``, best-epoch test accuracy. Every arm gets its own learning-rate sweep, because
a slope-2 ``g`` acts like a 2x learning rate on small gradients: a gain at lr 0.1 alone cannot
tell GAF from a larger learning rate. The report compares the arms at the protocol's lr 0.1
(untuned) and each at its own best lr (tuned), paired over seeds.

Deviations, with reasons: CIFAR is not available offline, so the data is sklearn's 8x8 digits
(1347 train / 450 test) with a small CNN (`build_model("cnn2d")`, 32-64 channels, no BatchNorm)
and, with ``full=True``, MNIST-1D with `cnn1d` too; 20 epochs (60 with ``full``) instead of 200,
so batch 256 is ~6 steps per epoch on digits. GAF acts on the raw gradient before weight decay
and momentum (the official ``SGD_atan``; `GradientActivation`'s default placement). Clip-by-norm
clips the global gradient norm (`TrainConfig.grad_clip`); the clip bound of the default run is
``0.1 * pi / 2`` (the bound of the ``(0.1, 20)`` g), ``full`` adds ``0.2 * pi / 2``. The tuned lr is
the one with the highest mean best-epoch test accuracy: there is no validation split, so like the
paper's best-epoch numbers it is selected on the test set (optimistic for every arm alike).

Part 1 (`_gaf_conditioning`, ill-conditioned toy problems) runs with ``full=True`` or
``conditioning=True``; it is slow (~3 CPU minutes) and tests the convergence part of the claim.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from actlab.core.io import atomic_write_json, atomic_write_text, pyplot, save_figure
from actlab.experiments import Experiment, register_experiment
from actlab.experiments._cache import resumable
from actlab.experiments._gaf_conditioning import (
    GAF_SETTINGS,
    LR_GRIDS,
    conditioning_report,
    plot_conditioning,
    run_conditioning,
)
from actlab.harness.models import build_model
from actlab.harness.tasks import load_task
from actlab.training import TrainConfig, train

__all__ = ["ARMS", "GAF_SETTINGS", "LR_GRIDS", "LRS", "arms", "run", "run_conditioning", "run_protocol"]

PAPER = "Chen, Jin, et al., Activated Gradients for Deep Neural Networks, IEEE TNNLS 2021 (arXiv 2107.04228)"
CLAIM = (
    "Applying a bounded, odd, increasing g (alpha*atan(beta*x)) to gradients relieves ill-conditioning "
    "and gives faster convergence and better accuracy than the bare optimizer (CIFAR protocol: SGD lr 0.1, "
    "momentum 0.9, wd 5e-4, cosine, (alpha, beta) = (0.1, 20) or (0.2, 10); GAF above bare SGD and above "
    "clip-by-norm / clip-by-value at alpha*pi/2)."
)

#: The protocol's lr and the sweep every arm gets (factor 2 around it).
PROTOCOL_LR = 0.1
LRS = (0.025, 0.05, 0.1, 0.2, 0.4)
MODELS = {"digits": "cnn2d", "mnist1d": "cnn1d"}
BARE = "sgd"


def arms(clip_alphas: tuple[float, ...] = (0.1,)) -> dict[str, dict[str, Any]]:
    """Arm name -> the `TrainConfig` fields that make it (on top of the shared protocol)."""
    out: dict[str, dict[str, Any]] = {
        BARE: {"optim": "sgd"},
        "gaf(0.1,20)": {"optim": "sgd+gaf(alpha=0.1, beta=20)"},
        "gaf(0.2,10)": {"optim": "sgd+gaf(alpha=0.2, beta=10)"},
    }
    for a in clip_alphas:
        out[f"clip-norm({a:g}*pi/2)"] = {"optim": "sgd", "grad_clip": a * math.pi / 2}
        out[f"clip-value({a:g}*pi/2)"] = {"optim": "sgd", "grad_clip_value": a * math.pi / 2}
    return out


ARMS = arms()


def _run_one(
    arm: str,
    seed: int,
    *,
    checkpoint: Path | None,
    task: str,
    lr: float,
    epochs: int,
    batch: int,
    channels: list[int],
    fields: dict[str, Any],
) -> dict[str, Any]:
    """One protocol run: the task's CNN, SGD-momentum 0.9, wd 5e-4, cosine, the arm's ``fields``."""
    t = load_task(task)
    torch.manual_seed(seed)
    model = build_model(MODELS[task], t, "relu", channels=tuple(channels))
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch,
        lr=lr,
        momentum=0.9,
        weight_decay=5e-4,
        schedule="cosine",
        seed=seed,
        stop_nonfinite=True,
        **fields,
    )
    res = train(model, t.data, config, checkpoint=checkpoint)
    acc = [h["test_acc"] for h in res.history]
    return {
        "task": task,
        "arm": arm,
        "seed": seed,
        "lr": lr,
        "best_acc": max(acc),
        "final_acc": acc[-1],
        "diverged": res.diverged,
        "test_acc": acc,
    }


def run_protocol(
    out_dir: Path,
    *,
    task: str = "digits",
    seeds: int = 3,
    epochs: int = 20,
    batch: int = 256,
    channels: tuple[int, ...] = (32, 64),
    lrs: tuple[float, ...] = LRS,
    arm_fields: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every arm at every lr and seed (cached per run under ``out_dir/runs``)."""
    arm_fields = ARMS if arm_fields is None else arm_fields
    runs = []
    for arm, fields in arm_fields.items():
        for lr in lrs:
            cfg = {"task": task, "lr": lr, "epochs": epochs, "batch": batch, "channels": list(channels)}
            cfg["fields"] = fields
            for seed in range(seeds):
                runs.append(resumable(Path(out_dir), f"{task}-lr{lr:g}", arm, seed, cfg, _run_one))
    return runs


# --- summary and verdict ------------------------------------------------------------------------


def _stat(vals: list[float]) -> dict[str, float]:
    a = np.asarray(vals, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per arm: mean ± std (over seeds) at every lr, its tuned lr, and the per-seed accuracies there."""
    out: dict[str, Any] = {}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        mine = [r for r in runs if r["arm"] == arm]
        per_lr = {}
        for lr in sorted({r["lr"] for r in mine}):
            at = sorted((r for r in mine if r["lr"] == lr), key=lambda r: r["seed"])
            per_lr[lr] = {
                "best": _stat([r["best_acc"] for r in at]),
                "final": _stat([r["final_acc"] for r in at]),
                "diverged": sum(r["diverged"] for r in at),
                "best_by_seed": [r["best_acc"] for r in at],
                "final_by_seed": [r["final_acc"] for r in at],
            }
        tuned = max(per_lr, key=lambda lr: per_lr[lr]["best"]["mean"])
        out[arm] = {"per_lr": per_lr, "tuned_lr": tuned}
    return out


def _paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of ``a - b`` over seeds and the paired t-test's two-sided p (t = mean / (sd / sqrt n)).

    NaN below 2 seeds; without spread in the differences (rounding aside), 1 when they are 0, else 0.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return mean, float("nan")
    sd = float(d.std(ddof=1))
    if sd <= 1e-12:
        return mean, 1.0 if abs(mean) <= 1e-12 else 0.0
    t = mean / (sd / math.sqrt(len(d)))
    return mean, float(2 * stats.t.sf(abs(t), len(d) - 1))


def compare(summary: dict[str, Any], arm: str, other: str = BARE, lr: float | None = None) -> dict[str, float]:
    """``arm`` minus ``other`` in best-epoch accuracy: at ``lr`` for both, or each at its tuned lr."""
    la = summary[arm]["tuned_lr"] if lr is None else lr
    lb = summary[other]["tuned_lr"] if lr is None else lr
    gap, p = _paired(summary[arm]["per_lr"][la]["best_by_seed"], summary[other]["per_lr"][lb]["best_by_seed"])
    return {"gap": gap, "p": p, "lr": la, "other_lr": lb}


def _significant(c: dict[str, float]) -> bool:
    return c["gap"] > 0 and c["p"] < 0.05


def verdict(summary: dict[str, Any], arm: str) -> tuple[str, str]:
    """``(word, sentence)`` for GAF arm ``arm`` against bare SGD, untuned (lr 0.1) and tuned."""
    untuned = compare(summary, arm, lr=PROTOCOL_LR) if PROTOCOL_LR in summary[arm]["per_lr"] else None
    tuned = compare(summary, arm)
    clips = [a for a in summary if a.startswith("clip")]
    beats_clips = all(_significant(compare(summary, arm, c)) for c in clips)
    if _significant(tuned) and beats_clips:
        word = "reproduced"
    elif _significant(tuned) or (untuned is not None and _significant(untuned)):
        word = "partly"
    else:
        word = "not reproduced"
    text = f"**{arm}: {word}.** "
    if untuned is not None:
        text += f"At the protocol's lr 0.1, GAF minus bare SGD = {100 * untuned['gap']:+.2f} points (p={untuned['p']:.3f}); "
    text += (
        f"each at its own best lr (GAF {tuned['lr']:g}, bare {tuned['other_lr']:g}) the gap is "
        f"{100 * tuned['gap']:+.2f} points (p={tuned['p']:.3f})"
    )
    for c in clips:
        cc = compare(summary, arm, c)
        text += f"; vs {c} (tuned, lr {cc['other_lr']:g}): {100 * cc['gap']:+.2f} (p={cc['p']:.3f})"
    return word, text + ". Paired t-tests over seeds, best-epoch test accuracy."


# --- report -------------------------------------------------------------------------------------


def _ms(s: dict[str, float]) -> str:
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}"


def protocol_report(summary: dict[str, Any], task: str, cfg: dict[str, Any]) -> list[str]:
    """The report's protocol section for one task: sweep table, tuned/untuned table, verdicts."""
    lrs = sorted({lr for s in summary.values() for lr in s["per_lr"]})
    lines = [
        f"## Part 2: official protocol on {task} ({MODELS[task]}, {cfg['epochs']} epochs, batch {cfg['batch']}, "
        f"{cfg['seeds']} seeds)\n",
        "SGD momentum 0.9, weight decay 5e-4, cosine to 0; test accuracy in %, mean ± std over seeds.\n",
        "### Best-epoch accuracy over the lr sweep\n",
        "| arm | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |",
        "|---|" + "---|" * len(lrs),
    ]
    for arm, s in summary.items():
        cells = []
        for lr in lrs:
            r = s["per_lr"].get(lr)
            cell = "–" if r is None else _ms(r["best"]) + (f" ({r['diverged']} div.)" if r["diverged"] else "")
            cells.append(f"**{cell}**" if lr == s["tuned_lr"] else cell)
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Bold: the arm's tuned lr (highest mean best-epoch accuracy).\n",
        "### Untuned (lr 0.1) and tuned (each arm at its own best lr)\n",
        "| arm | best-epoch @ 0.1 | final @ 0.1 | tuned lr | best-epoch tuned | final tuned |",
        "|---|---|---|---|---|---|",
    ]
    for arm, s in summary.items():
        at = s["per_lr"].get(PROTOCOL_LR)
        tu = s["per_lr"][s["tuned_lr"]]
        untuned = f"{_ms(at['best'])} | {_ms(at['final'])}" if at else "– | –"
        lines.append(f"| {arm} | {untuned} | {s['tuned_lr']:g} | {_ms(tu['best'])} | {_ms(tu['final'])} |")
    edge = [arm for arm, s in summary.items() if s["tuned_lr"] in (lrs[0], lrs[-1])]
    if edge:
        lines += ["", f"Tuned lr at the edge of the grid (the optimum may lie beyond it): {', '.join(edge)}."]
    lines += ["", "### Verdict (generated from the numbers above)\n"]
    lines.append("Paper: GAF above bare SGD and above both clipping baselines (a positive gap on CIFAR/ImageNet).\n")
    for arm in summary:
        if arm.startswith("gaf"):
            lines.append(f"- {verdict(summary, arm)[1]}")
    lines += ["", f"![lr sweep](gaf_lr_sweep_{task}.png)", ""]
    return lines


def plot_sweep(out_dir: Path, summary: dict[str, Any], task: str) -> str:
    """Best- and final-epoch accuracy against lr, per arm (mean, std bars)."""
    plt = pyplot("actlab.experiments.gaf")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key in zip(axes, ("best", "final")):
        for arm, s in summary.items():
            lrs = sorted(s["per_lr"])
            m = [100 * s["per_lr"][lr][key]["mean"] for lr in lrs]
            e = [100 * s["per_lr"][lr][key]["std"] for lr in lrs]
            ax.errorbar(lrs, m, yerr=e, marker="o", capsize=3, label=arm, ls="-" if arm.startswith("gaf") else "--")
        ax.set(xscale="log", xlabel="learning rate", ylabel=f"{key}-epoch test accuracy (%)", title=f"{task}, {key}")
        ax.axvline(PROTOCOL_LR, color="gray", lw=0.8, ls=":")
        ax.legend(fontsize=7)
    fig.tight_layout()
    name = f"gaf_lr_sweep_{task}.png"
    save_figure(fig, out_dir / name, dpi=110)
    return name


def run(out_dir: Path, *, full: bool = False, seeds: int = 3, conditioning: bool | None = None) -> dict[str, Any]:
    """The protocol sweep (and, with ``full`` or ``conditioning``, part 1). Writes report.md, results.json, PNGs."""
    out_dir = Path(out_dir)
    conditioning = full if conditioning is None else conditioning
    cfg: dict[str, Any] = {
        "tasks": ["digits", "mnist1d"] if full else ["digits"],
        "epochs": 60 if full else 20,
        "batch": 256,
        "channels": [32, 64],
        "lrs": list(LRS),
        "clip_alphas": [0.1, 0.2] if full else [0.1],
        "seeds": seeds,
        "full": full,
        "conditioning": conditioning,
        "steps": 3000 if full else 1000,
        "tol": 1e-6,
    }
    arm_fields = arms(tuple(cfg["clip_alphas"]))
    results: dict[str, Any] = {"experiment": "gaf", "paper": PAPER, "claim": CLAIM, "config": cfg, "protocol": {}}
    lines = [f"# GAF reproduction\n\nPaper: {PAPER}\n\nClaim: {CLAIM}\n"]
    plots = []
    for task in cfg["tasks"]:
        runs = run_protocol(
            out_dir,
            task=task,
            seeds=seeds,
            epochs=cfg["epochs"],
            batch=cfg["batch"],
            channels=tuple(cfg["channels"]),
            lrs=LRS,
            arm_fields=arm_fields,
        )
        summary = summarise(runs)
        verdicts = {arm: verdict(summary, arm)[0] for arm in summary if arm.startswith("gaf")}
        results["protocol"][task] = {
            "summary": {a: {**s, "per_lr": {str(k): v for k, v in s["per_lr"].items()}} for a, s in summary.items()},
            "verdicts": verdicts,
            "runs": runs,
        }
        plots.append(plot_sweep(out_dir, summary, task))
        lines += protocol_report(summary, task, cfg)
    if conditioning:
        cond = run_conditioning(steps=cfg["steps"], seeds=seeds, tol=cfg["tol"])
        results["conditioning"] = cond
        plots.append(plot_conditioning(out_dir, cond))
        lines += conditioning_report(cond, cfg["steps"], cfg["tol"])
    results["plots"] = plots
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "report.md", "\n".join(lines))
    return results


register_experiment(Experiment(name="gaf", paper=PAPER, claim=CLAIM, run=run))
