r"""The math of every noisy unit: ``(y, dy/dx, dy/dp)`` given the noise, one definition per unit.

Each ``*_parts(x, xi, p, c, alpha, unit)`` returns the output and its two partial derivatives
for a noise tensor ``xi`` (training) or a float ``xi`` (eval: the noise's test-time value), so
the fused forward (`actlab.noisy.core`) writes the slopes the backward multiplies by. ``PARTS``
maps the mode names that `actlab.noisy.core.apply_noisy` takes to them:

- ``"nan"``: output noise (NAN), the paper's equation and the official learned-p code.
- ``"nani"``: actlab's own input-noise variant, ``h(x - sgn(x) sigma(x) xi)`` with the NAN
  ``sigma`` (`actlab.noisy.input`).
- ``"nani_const"``, ``"nani_learned"``, ``"nanis"``: the official code's three input-noise
  units, constant scale, learned scale, saturation only (`actlab.noisy.nani`).

Paper: Gulcehre, Moczulski, Denil, Bengio, "Noisy Activation Functions", ICML 2016, arXiv:1603.00391.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PARTS", "SATURATION_THRESHOLD", "UNITS", "unit_parts"]

#: unit -> (slope k, offset b) of its linearisation u(x) = k x + b. Hard units clip u to
#: [-1, 1] (tanh) or [0, 1] (sigmoid); the soft ones are torch.tanh / torch.sigmoid.
UNITS: dict[str, tuple[float, float]] = {
    "hard_tanh": (1.0, 0.0),
    "hard_sigmoid": (0.25, 0.5),
    "tanh": (1.0, 0.0),
    "sigmoid": (0.25, 0.5),
}
# the lower bound a hard unit clips u to (the upper is 1)
_HARD_LO = {"hard_tanh": -1.0, "hard_sigmoid": 0.0}


def unit_parts(x: Tensor, unit: str) -> tuple[Tensor, Tensor, Tensor]:
    """``(u, h, h')`` of ``unit`` at ``x``; a hard unit's ``h'`` is 0 at its kinks."""
    k, b = UNITS[unit]
    u = k * x + b
    if unit == "tanh":
        h = torch.tanh(x)
        return u, h, 1.0 - h * h
    if unit == "sigmoid":
        h = torch.sigmoid(x)
        return u, h, h * (1.0 - h)
    lo = _HARD_LO[unit]
    return u, torch.clamp(u, lo, 1.0), ((u > lo) & (u < 1.0)).to(x.dtype) * k


def noise_std(delta: Tensor, p: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    r"""``sigma = c (sigmoid(p Delta) - 1/2)^2`` and ``d sigma / d(p Delta)``."""
    t = torch.sigmoid(p * delta) - 0.5
    return c * t * t, 2.0 * c * t * (0.25 - t * t)  # sigmoid' = 1/4 - t^2


def direction(x: Tensor, alpha: float) -> Tensor:
    r"""The paper's :math:`d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha)`, taking sgn(1 - alpha) := 1 at ``alpha = 1``.

    Read literally, ``alpha = 1`` gives ``d = 0`` (no noise at all); we take the ``alpha < 1``
    branch there, which points half-normal noise into the range of ``h``.
    """
    return torch.sign(x) * (1.0 if alpha > 1.0 else -1.0)


def nan_parts(x: Tensor, xi: Tensor | float, p: Tensor, c: Tensor, alpha: float, unit: str):
    r"""NAN: ``y = alpha h + (1 - alpha) u + d sigma xi`` and its slopes in ``x`` and ``p``."""
    k = UNITS[unit][0]
    u, h, dh = unit_parts(x, unit)
    y = alpha * h + (1.0 - alpha) * u
    dydx = alpha * dh + (1.0 - alpha) * k
    if isinstance(xi, float) and xi == 0.0:  # Gaussian expectation: no noise term at all
        return y, dydx, torch.zeros_like(y)
    sigma, dsig = noise_std(h - u, p, c)
    d = direction(x, alpha)
    s = d * xi * dsig  # dy / d(p Delta)
    return y + d * sigma * xi, dydx + s * p * (dh - k), s * (h - u)


def nani_parts(x: Tensor, xi: Tensor | float, p: Tensor, c: Tensor, alpha: float, unit: str):
    r"""actlab's input-noise variant: ``y = h(x - sgn(x) sigma xi)`` with the NAN ``sigma``, and its slopes (``alpha`` unused).

    Not one of the official code's input-noise units (those are the three below); see
    `actlab.noisy.input` for why it is kept.
    """
    k = UNITS[unit][0]
    if isinstance(xi, float) and xi == 0.0:
        _, h, dh = unit_parts(x, unit)
        return h, dh, torch.zeros_like(h)
    u, h, dh = unit_parts(x, unit)
    sigma, dsig = noise_std(h - u, p, c)
    # -sgn(x) points half-normal noise at the linear region; Gaussian noise is symmetric anyway.
    xd = -torch.sign(x) * xi
    _, hz, dhz = unit_parts(x + xd * sigma, unit)
    s = dhz * xd * dsig  # dy / d(p Delta)
    return hz, dhz + s * p * (dh - k), s * (h - u)


#: ``|x|`` past which the official saturation-only units (``nanis_*``) add noise: 1.001 for
#: hard-tanh (its kink at 1 plus a margin, as in the official code) and 2 for hard-sigmoid.
SATURATION_THRESHOLD = {"hard_tanh": 1.001, "hard_sigmoid": 2.0}

#: the official learned-scale unit's guard in ``p |Delta| / (|xi| + eps)``
LEARNED_EPS = 1e-10


def _eval_parts(x: Tensor, unit: str) -> tuple[Tensor, Tensor, Tensor]:
    # xi = 0 (the official test time): the unit itself, and no dependence on p
    _, h, dh = unit_parts(x, unit)
    return h, dh, torch.zeros_like(h)


def nani_const_parts(x: Tensor, xi: Tensor | float, p: Tensor, c: Tensor, alpha: float, unit: str):
    r"""Official NANI with a constant scale: ``y = h(x + c xi)``, noise everywhere (``p``, ``alpha`` unused)."""
    if isinstance(xi, float):
        return _eval_parts(x, unit)
    _, hz, dhz = unit_parts(x + c * xi, unit)
    return hz, dhz, torch.zeros_like(hz)


def nanis_parts(x: Tensor, xi: Tensor | float, p: Tensor, c: Tensor, alpha: float, unit: str):
    r"""Official NANIS: ``y = h(x + c xi)`` where ``|x| > threshold``, else ``h(x)`` (``p``, ``alpha`` unused).

    ``test h(x + c xi) + (1 - test) h(x)`` with ``test`` in {0, 1} is ``h(x + test c xi)``.
    """
    if isinstance(xi, float):
        return _eval_parts(x, unit)
    test = (x.abs() > SATURATION_THRESHOLD[unit]).to(x.dtype)
    _, hz, dhz = unit_parts(x + test * c * xi, unit)
    return hz, dhz, torch.zeros_like(hz)


def nani_learned_parts(x: Tensor, xi: Tensor | float, p: Tensor, c: Tensor, alpha: float, unit: str):
    r"""Official learned-scale NANI: ``y = h(x + c softplus(a) xi)``, ``a = p |Delta| / (|xi| + eps)`` (``alpha`` unused).

    ``softplus(a) = max(a, 0) + log1p(exp(-|a|))`` (exact for any ``a``; ``a`` reaches ~1e10
    where ``xi`` is near 0), whose derivative is ``sigmoid(a)``.
    """
    if isinstance(xi, float):
        return _eval_parts(x, unit)
    k = UNITS[unit][0]
    u, h, dh = unit_parts(x, unit)
    delta = h - u
    inv = 1.0 / (xi.abs() + LEARNED_EPS)
    a = p * delta.abs() * inv
    softplus = torch.clamp_min(a, 0.0) + torch.log1p(torch.exp(-a.abs()))
    _, hz, dhz = unit_parts(x + c * softplus * xi, unit)
    s = dhz * c * xi * torch.sigmoid(a) * inv  # dy / d(p |Delta|)
    # d|Delta|/dx = sgn(Delta) (h' - k): zero in the linear region
    return hz, dhz + s * p * torch.sign(delta) * (dh - k), s * delta.abs()


PARTS = {
    "nan": nan_parts,
    "nani": nani_parts,
    "nani_const": nani_const_parts,
    "nani_learned": nani_learned_parts,
    "nanis": nanis_parts,
}
