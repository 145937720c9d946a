"""Plots of activation functions and their derivatives."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from actlab._io import atomic_write
from actlab.registry import ACTIVATIONS, create

__all__ = ["activation_curves", "plot_activations"]


def activation_curves(
    spec: str, *, xlim: tuple[float, float] = (-5.0, 5.0), points: int = 801, draws: int = 256, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Sample an activation's eval curve, its derivative and, if stochastic, a training-noise band.

    Returns a dict with ``x``, ``y`` and ``dy`` (eval mode) and, for stochastic activations,
    ``lo``/``hi``: the 5 % and 95 % quantiles of ``draws`` training-mode outputs.
    """
    module = create(spec)
    x = torch.linspace(*xlim, points, dtype=torch.float64, requires_grad=True)
    module = module.to(torch.float64).eval()
    y = module(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    out = {"x": x.detach(), "y": y.detach(), "dy": dy}
    name = spec.split("(")[0].strip() if isinstance(spec, str) else ""
    if name in ACTIVATIONS and ACTIVATIONS.get(name).stochastic:
        module.train()
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (), generator=gen)))
            samples = torch.stack([module(x.detach()) for _ in range(draws)])
        out["lo"], out["hi"] = torch.quantile(samples, torch.tensor([0.05, 0.95], dtype=samples.dtype), dim=0)
    return out


def plot_activations(
    specs: Sequence[str], out: str | os.PathLike[str], *, xlim: tuple[float, float] = (-5.0, 5.0)
) -> Path:
    """Draw each activation (left) and its derivative (right) on one figure, written to ``out``.

    Stochastic activations show their deterministic eval curve with a shaded 5-95 % band of
    training-time outputs.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not specs:
        raise ValueError("plot_activations: `specs` must name at least one activation, got []")
    curves = {s: activation_curves(s, xlim=xlim) for s in specs}  # fail before drawing anything
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for spec, c in curves.items():
        (line,) = ax_f.plot(c["x"], c["y"], label=spec, lw=1.6)
        if "lo" in c:
            ax_f.fill_between(c["x"], c["lo"], c["hi"], color=line.get_color(), alpha=0.2, lw=0)
        ax_d.plot(c["x"], c["dy"], label=spec, lw=1.6, color=line.get_color())
    for ax, title in ((ax_f, "f(x)  (band: training noise, 5-95 %)"), (ax_d, "f'(x)  (eval mode)")):
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8)
    path = atomic_write(out, lambda p: fig.savefig(p, dpi=120))
    plt.close(fig)
    return path
