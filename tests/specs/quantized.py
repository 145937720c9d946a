"""Quantized family: N-level quantize and binary (sign) with straight-through estimators.

Both are piecewise constant, so finite-difference gradient checks are meaningless: the specs
declare ``grad="ste"`` and give the exact STE gradient of the default backward instead (every
STE choice is checked in tests/test_quantized.py). Their differentiable references pass the
rounding / sign straight through, so autograd of them gives the default STE and the
range/threshold gradients that the fused backward must match.
"""

from __future__ import annotations

import numpy as np
import torch

from actlab.core.channels import channel_view
from actlab.functional import binary, quantize
from specs._base import ActTestSpec, input_and_parameters


def _nearest_level_ref(x: torch.Tensor, levels: int = 4, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    # Independent of the implementation's arithmetic: the nearest of the N levels, by search.
    v = x.numpy()
    grid = low + (high - low) * np.arange(levels) / (levels - 1)
    clipped = np.clip(v, low, high)
    with np.errstate(invalid="ignore"):
        out = grid[np.nanargmin(np.abs(np.nan_to_num(clipped)[..., None] - grid), axis=-1)]
    out = np.where(np.isnan(v), np.nan, out)
    return torch.from_numpy(np.asarray(out, dtype=np.float64))


def _sign_ref(x: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    v = x.numpy()
    return torch.from_numpy(np.where(np.isnan(v), np.nan, np.where(v >= threshold, 1.0, -1.0)))


def quantize_straight_through(x: torch.Tensor, levels: int, low, high) -> torch.Tensor:
    """Q(x) written with plain ops, `round` passed straight through: autograd gives LSQ/PACT range grads.

    Its ``x`` gradient is clamp's mask, the ``clipped_relu`` STE.
    """
    steps = levels - 1
    s = (high - low) / steps
    v = torch.clamp((x - low) / s, 0, steps)
    return low + (v + (torch.round(v) - v).detach()) * s


def _sign_straight_through(x: torch.Tensor, threshold) -> torch.Tensor:
    # sign(x - t) forward, hard-tanh (the ``clipped`` STE) backward, for x and (negated) for t.
    z = x - threshold
    soft = torch.clamp(z, -1.0, 1.0)
    return soft + (torch.where(z >= 0, 1.0, -1.0).to(x.dtype) - soft).detach()


SPECS = [
    ActTestSpec(
        "quantize",
        _nearest_level_ref,
        kwargs={"levels": 4, "range": (0.0, 1.0)},
        # No grid point lies on a decision boundary (1/6, 1/2, 5/6), where ties would be a convention.
        domain=(-0.53, 1.61),
        kinks=(0.0, 1 / 6, 0.5, 5 / 6, 1.0),
        grad="ste",
        ste_grad=lambda x, m: ((x >= 0.0) & (x <= 1.0)).to(x.dtype),  # default clipped_relu STE
        functional=lambda m, x: quantize(
            x, levels=m.levels, range=(channel_view(m.low, x), channel_view(m.high, x)), ste=m.ste
        ),
        autograd_reference=lambda x, m: quantize_straight_through(
            x, m.levels, channel_view(m.low, x), channel_view(m.high, x)
        ),
        fast_kwargs={"levels": 5, "range": (-0.5, 1.5), "learn_range": True, "num_parameters": 3},
        saved_bytes=input_and_parameters,
        reset_kwargs={"levels": 8, "range": (-1.0, 1.0), "learn_range": True},
        errors=(
            ({"levels": 1}, ValueError, r"^Quantize: `levels` must be an int >= 2, got 1$"),
            ({"levels": 2.0}, TypeError, r"Quantize: `levels` must be an int, got 2.0"),
            (
                {"range": (1.0, 1.0)},
                ValueError,
                r"Quantize: `range` must be a non-empty interval \(low, high\) with low < high, got \(1.0, 1.0\)",
            ),
            ({"range": (1.0, 0.0)}, ValueError, r"`range` must be a non-empty interval"),
            ({"range": (0.0, float("inf"))}, ValueError, r"Quantize: `range\[1\]` must be finite, got inf"),
            ({"range": 1.0}, TypeError, r"Quantize: `range` must be a \(low, high\) pair, got 1.0"),
            ({"ste": "clipped_rlu"}, ValueError, r"Quantize: `ste` must be one of .* \(did you mean 'clipped_relu'"),
            ({"ste": "hardtanh"}, ValueError, r"`ste` must be one of 'identity', 'relu', 'clipped_relu', 'clipped'"),
            ({"learn_range": 1}, TypeError, r"`learn_range` must be of type bool"),
            ({"num_parameters": 0}, ValueError, r"`num_parameters` must be an int >= 1, got 0"),
        ),
        # bfloat16 inputs within rounding error of a decision boundary may land on the
        # neighbouring level: allow one step (1/3) against float32.
        bf16_atol=0.34,
    ),
    ActTestSpec(
        "binary",
        _sign_ref,
        domain=(-2.5, 2.5),
        kinks=(-1.0, 0.0, 1.0),
        grad="ste",
        ste_grad=lambda x, m: (x.abs() <= 1.0).to(x.dtype),  # default clipped (hard-tanh') STE
        functional=lambda m, x: binary(x, threshold=channel_view(m.threshold, x), ste=m.ste),
        autograd_reference=lambda x, m: _sign_straight_through(x, channel_view(m.threshold, x)),
        fast_kwargs={"threshold": 0.25, "num_parameters": 2},
        saved_bytes=input_and_parameters,
        reset_kwargs={"threshold": 0.5},
        errors=(
            ({"ste": "clip"}, ValueError, r"^Binary: `ste` must be one of .* \(did you mean 'clipped'"),
            ({"ste": 3}, TypeError, r"Binary: `ste` must be of type str"),
            ({"threshold": float("nan")}, ValueError, r"Binary: `threshold` must be finite, got nan"),
            ({"threshold": "0"}, TypeError, r"`threshold` must be a real number, got '0'"),
            ({"learn_threshold": None}, TypeError, r"`learn_threshold` must be of type bool"),
            ({"num_parameters": -1}, ValueError, r"`num_parameters` must be an int >= 1, got -1"),
        ),
    ),
]
