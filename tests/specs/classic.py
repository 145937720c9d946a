"""Classic family: TERELU (Pandey, 2020)."""

from __future__ import annotations

import math

import numpy as np
import torch

from actlab.core.channels import channel_view
from actlab.functional import terelu
from specs._base import ActTestSpec, input_and_parameters


def _terelu_ref(x: torch.Tensor, alpha: float = 1.0, mu: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    # Straight from the paper's piecewise definition, evaluated branch by branch in numpy.
    v = x.numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.piecewise(
            v,
            [v <= 0, (v > 0) & (v < mu), v >= mu],
            [lambda t: alpha * (np.exp(t) - 1), lambda t: t, lambda t: beta * (mu - (np.exp(mu - t) - 1))],
        )
    out[np.isnan(v)] = np.nan
    return torch.from_numpy(out)


def terelu_formula(x: torch.Tensor, alpha: float, mu: float, beta: float | torch.Tensor) -> torch.Tensor:
    """The paper's piecewise formula as plain torch ops (differentiable by autograd)."""
    return torch.where(
        x <= 0, alpha * (torch.exp(x) - 1), torch.where(x < mu, x, beta * (mu - (torch.exp(mu - x) - 1)))
    )


SPECS = [
    ActTestSpec(
        "terelu",
        _terelu_ref,
        domain=(-4.0, 5.0),
        kinks=(0.0, 1.0),
        functional=lambda m, x: terelu(x, alpha=m.alpha, mu=m.mu, beta=channel_view(m.beta, x)),
        autograd_reference=lambda x, m: terelu_formula(x, m.alpha, m.mu, channel_view(m.beta, x)),
        fast_kwargs={"alpha": 0.5, "mu": 1.5, "num_parameters": 4},
        saved_bytes=input_and_parameters,
        reset_kwargs={"num_parameters": 4},
        errors=(
            ({"alpha": -1.0}, ValueError, r"TERELU: `alpha` must be > 0, got -1.0"),
            ({"alpha": 0}, ValueError, r"`alpha` must be > 0, got 0"),
            ({"mu": 0.0}, ValueError, r"TERELU: `mu` must be > 0, got 0.0"),
            ({"mu": math.inf}, ValueError, r"`mu` must be finite, got inf"),
            ({"num_parameters": 0}, ValueError, r"`num_parameters` must be an int >= 1, got 0"),
            ({"alpha": "1"}, TypeError, r"`alpha` must be a real number, got '1'"),
            ({"learn_beta": 1}, TypeError, r"`learn_beta` must be of type bool"),
        ),
    ),
]
