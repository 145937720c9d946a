"""References for PyTorch's own activations (formulas from the torch.nn documentation)."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F

from specs._base import ActTestSpec


def _where_pos(x, neg):
    return torch.where(x > 0, x, neg)


def _nan_passing(ref):
    """PyTorch's thresholding ops return NaN for NaN input (a comparison alone would not)."""
    return lambda x: torch.where(torch.isnan(x), x, ref(x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_RRELU_EVAL_SLOPE = (1.0 / 8 + 1.0 / 3) / 2

SPECS = [
    ActTestSpec("relu", _nan_passing(lambda x: _where_pos(x, torch.zeros_like(x))), kinks=(0,)),
    ActTestSpec(
        "relu6",
        _nan_passing(lambda x: torch.where(x > 6, 6.0, _where_pos(x, torch.zeros_like(x)))),
        kinks=(0, 6),
        domain=(-3, 9),
    ),
    ActTestSpec("leaky_relu", lambda x: _where_pos(x, 0.01 * x), kinks=(0,)),
    ActTestSpec("prelu", lambda x: _where_pos(x, 0.25 * x), kinks=(0,), functional=lambda m, x: F.prelu(x, m.weight)),
    ActTestSpec(
        "rrelu",
        lambda x: _where_pos(x, _RRELU_EVAL_SLOPE * x),
        kinks=(0,),
        functional=lambda m, x: F.rrelu(x, training=m.training),
    ),
    ActTestSpec("elu", lambda x: _where_pos(x, torch.expm1(x)), kinks=(0,)),
    ActTestSpec("selu", lambda x: _SELU_SCALE * _where_pos(x, _SELU_ALPHA * torch.expm1(x)), kinks=(0,)),
    ActTestSpec("celu", lambda x: _where_pos(x, torch.expm1(x)), kinks=(0,)),
    ActTestSpec("gelu", lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
    ActTestSpec("silu", lambda x: x / (1 + torch.exp(-x))),
    ActTestSpec("mish", lambda x: x * torch.tanh(torch.log1p(torch.exp(x)))),
    ActTestSpec("softplus", lambda x: torch.log1p(torch.exp(x)), nonfinite=False),
    ActTestSpec("softsign", lambda x: x / (1 + x.abs()), nonfinite=False),
    ActTestSpec("tanh", lambda x: (torch.exp(2 * x) - 1) / (torch.exp(2 * x) + 1), nonfinite=False),
    ActTestSpec("sigmoid", lambda x: 1 / (1 + torch.exp(-x))),
    ActTestSpec("logsigmoid", lambda x: -torch.log1p(torch.exp(-x)), nonfinite=False),
    ActTestSpec("hardtanh", lambda x: torch.clamp(x, -1, 1), kinks=(-1, 1)),
    ActTestSpec("hardsigmoid", lambda x: torch.clamp(x / 6 + 0.5, 0, 1), kinks=(-3, 3), smooth=False),
    ActTestSpec("hardswish", lambda x: x * torch.clamp(x / 6 + 0.5, 0, 1), kinks=(-3, 3)),
    ActTestSpec("tanhshrink", lambda x: x - torch.tanh(x), nonfinite=False),
    ActTestSpec(
        "softshrink",
        _nan_passing(lambda x: torch.where(x > 0.5, x - 0.5, torch.where(x < -0.5, x + 0.5, 0.0))),
        kinks=(-0.5, 0.5),
    ),
    ActTestSpec("hardshrink", _nan_passing(lambda x: torch.where(x.abs() > 0.5, x, 0.0)), kinks=(-0.5, 0.5)),
    ActTestSpec("identity", lambda x: x),
]
# PyTorch's own entries only need to trace; compiling them with Inductor tests PyTorch, not us.
SPECS = [replace(s, compile_backend="aot_eager") for s in SPECS]
