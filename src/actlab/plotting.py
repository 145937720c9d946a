"""Plots of activation functions and their derivatives."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch

from actlab.core.io import pyplot, save_figure
from actlab.core.learned import activations_from_state_dict
from actlab.core.registry import ACTIVATIONS, create

__all__ = ["activation_curves", "plot_activations", "plot_state_dict_activations"]


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
    plt = pyplot("actlab.plotting")

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
    path = save_figure(fig, out, dpi=120)
    return path


def plot_state_dict_activations(
    state_dict: str | os.PathLike[str] | dict,
    out: str | os.PathLike[str],
    *,
    act: str = "slaf",
    key: str | None = None,
    xlim: tuple[float, float] = (-5.0, 5.0),
) -> Path:
    """Draw the learned activations saved in a model's state_dict: one line per channel.

    Args:
        state_dict: a file written by ``torch.save(model.state_dict(), ...)`` or the dict itself.
        out: PNG file to write.
        act: which activation to look for (any learnable one, as for `create`: ``"slaf"`` finds
            SLAFs of every degree, ``"terelu"``, ``"noisy_hard_tanh"``, ``"quantize"``, ...);
            found by `actlab.core.learned.activations_from_state_dict`.
        key: module prefix of one activation (e.g. ``"net.2"``); ``None`` draws every one found.
        xlim: x interval.

    Raises:
        ValueError: no such activation in the state_dict, or none under ``key``.
    """
    plt = pyplot("actlab.plotting")

    state = (
        torch.load(state_dict, map_location="cpu", weights_only=True)
        if not isinstance(state_dict, dict)
        else state_dict
    )
    found = activations_from_state_dict(state, act)
    if key is not None:
        if key not in found:
            listed = ", ".join(repr(p) for p in found) or "none"
            raise ValueError(
                f"plot_state_dict_activations: `key` must be the prefix of a saved {act} (found: {listed}), got {key!r}"
            )
        found = {key: found[key]}
    if not found:
        raise ValueError(f"plot_state_dict_activations: `state_dict` must hold a learned activation ({act}), got none")
    modules = {p: m.double().eval() for p, m in found.items()}
    x = torch.linspace(*xlim, 801, dtype=torch.float64)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for i, (prefix, m) in enumerate(modules.items()):
        # An int attribute; nn.Module's stub types every unknown attribute as Tensor | Module.
        channels = cast(int, m.num_parameters)
        xs = x.unsqueeze(1).expand(-1, channels).clone().requires_grad_(True)
        y = m(xs)
        (dy,) = torch.autograd.grad(y.sum(), xs)
        lw, alpha = (1.6, 1.0) if channels == 1 else (0.6, 0.6)
        for c in range(channels):
            label = f"{prefix or 'activation'} ({channels} ch.)" if c == 0 else None
            ax_f.plot(x, y[:, c].detach(), color=f"C{i}", lw=lw, alpha=alpha, label=label)
            ax_d.plot(x, dy[:, c], color=f"C{i}", lw=lw, alpha=alpha)
        span = getattr(m, "range", None)
        if span is not None:  # SLAF: where the polynomial was fitted
            for ax in (ax_f, ax_d):
                ax.axvspan(*span, color="0.94", zorder=0)
    for ax, title in ((ax_f, "learned f(x)  (shaded: a polynomial's range)"), (ax_d, "f'(x)")):
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8)
    path = save_figure(fig, out, dpi=120)
    return path
