"""PyTorch's own activations, registered by name as thin entries pointing at `torch.nn`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from actlab.core.registry import ActivationSpec, register

__all__: list[str] = []

_PYTORCH = "PyTorch (torch.nn)"


def _entry(name, module, function, description, *, aliases=(), stochastic=False, saturation=None):
    register(
        ActivationSpec(
            name=name,
            module=module,
            function=function,
            family="torch",
            description=description,
            paper=_PYTORCH,
            aliases=aliases,
            stochastic=stochastic,
            saturation=saturation,
        )
    )


_entry("relu", nn.ReLU, F.relu, "max(0, x)", saturation=lambda x: x <= 0)
_entry("relu6", nn.ReLU6, F.relu6, "min(max(0, x), 6)", saturation=lambda x: (x <= 0) | (x >= 6))
_entry("leaky_relu", nn.LeakyReLU, F.leaky_relu, "x if x > 0 else 0.01 x")
_entry("prelu", nn.PReLU, F.prelu, "x if x > 0 else a x, learnable a (init 0.25)")
_entry("rrelu", nn.RReLU, F.rrelu, "leaky ReLU with a random slope in training", stochastic=True)
_entry("elu", nn.ELU, F.elu, "x if x > 0 else exp(x) - 1")
_entry("selu", nn.SELU, F.selu, "scaled ELU (self-normalising)")
_entry("celu", nn.CELU, F.celu, "continuously differentiable ELU")
_entry("gelu", nn.GELU, F.gelu, "x * Phi(x)")
_entry("silu", nn.SiLU, F.silu, "x * sigmoid(x)", aliases=("swish",))
_entry("mish", nn.Mish, F.mish, "x * tanh(softplus(x))")
_entry("softplus", nn.Softplus, F.softplus, "log(1 + exp(x))")
_entry("softsign", nn.Softsign, F.softsign, "x / (1 + |x|)")
_entry("tanh", nn.Tanh, torch.tanh, "hyperbolic tangent")
_entry("sigmoid", nn.Sigmoid, torch.sigmoid, "1 / (1 + exp(-x))")
_entry("logsigmoid", nn.LogSigmoid, F.logsigmoid, "log(sigmoid(x))")
_entry("hardtanh", nn.Hardtanh, F.hardtanh, "clip(x, -1, 1)", aliases=("hard_tanh",), saturation=lambda x: x.abs() >= 1)
_entry(
    "hardsigmoid",
    nn.Hardsigmoid,
    F.hardsigmoid,
    "clip(x / 6 + 1/2, 0, 1) (PyTorch's slope 1/6)",
    saturation=lambda x: x.abs() >= 3,
)
_entry("hardswish", nn.Hardswish, F.hardswish, "x * hardsigmoid(x)")
_entry("tanhshrink", nn.Tanhshrink, F.tanhshrink, "x - tanh(x)")
_entry("softshrink", nn.Softshrink, F.softshrink, "soft thresholding at 0.5")
_entry("hardshrink", nn.Hardshrink, F.hardshrink, "hard thresholding at 0.5")
_entry("identity", nn.Identity, lambda x, /: x, "x (no nonlinearity)", aliases=("linear",))
