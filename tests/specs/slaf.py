"""Learnable family: SLAF and SLAF beside ReLU (Goyal, Goyal, Lall, 2019)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.polynomial import Chebyshev, Legendre, chebyshev, legendre

from actlab.core.channels import channel_view
from actlab.functional import slaf, slaf_bn, slaf_relu
from specs._base import ActTestSpec, input_and_parameters


def _fitted_reference(cls, degree, lo, hi, target, relu):
    """numpy's own least-squares fit on the documented grid, continued by tangents outside [lo, hi]."""
    grid = np.linspace(lo, hi, 1025)
    resid = target(grid) - (np.maximum(grid, 0.0) if relu else 0.0)
    fitted = cls.fit(grid, resid, degree, domain=[lo, hi])
    # The module stores its coefficients in float32 (the default dtype) before `.double()`.
    poly = cls(fitted.coef.astype(np.float32).astype(np.float64), domain=[lo, hi])
    slope = poly.deriv()

    def ref(x: torch.Tensor) -> torch.Tensor:
        v = x.numpy()
        with np.errstate(invalid="ignore"):
            inside = np.clip(v, lo, hi)
            out = poly(inside) + slope(inside) * (v - inside)
            if relu:
                out = out + np.maximum(v, 0.0)
        return torch.from_numpy(np.asarray(out, dtype=np.float64))

    return ref


_TO_POWERS = {"monomial": lambda c: c, "chebyshev": chebyshev.cheb2poly, "legendre": legendre.leg2poly}


def power_series_formula(x, coef, basis, interval, relu=False):
    """sum_k a_k phi_k(t) with each phi_k expanded into powers of t by numpy; tangents outside the range.

    Plain torch ops on an explicit power basis, so autograd differentiates it independently of
    the Clenshaw / recurrence kernels.
    """
    n = coef.shape[-1]
    m = np.zeros((n, n))
    for k in range(n):
        row = _TO_POWERS[basis](np.eye(n)[k])
        m[k, : len(row)] = row
    c = coef @ torch.as_tensor(m, dtype=coef.dtype)  # power-series coefficients in t
    if interval is None:
        t = tc = x
    else:
        lo, hi = interval
        t = (2 * x - lo - hi) / (hi - lo)
        tc = t.clamp(-1, 1)
    p = sum(c[..., j] * tc**j for j in range(n))
    dp = sum(j * c[..., j] * tc ** (j - 1) for j in range(1, n))
    y = p + dp * (t - tc) if n > 1 else p
    return y + torch.relu(x) if relu else y


def _autograd_reference(relu):
    return lambda x, m: power_series_formula(x, channel_view(m.coefficients, x), m.basis, m.range, relu)


def _gelu(v):
    return torch.nn.functional.gelu(torch.from_numpy(v)).numpy()


def _call(fn):
    return lambda m, x: fn(x, coefficients=channel_view(m.coefficients, x), basis=m.basis, range=m.range)


_ERRORS = (
    ({"degree": -1}, ValueError, r"SLAF: `degree` must be an int >= 0, got -1"),
    ({"degree": 2.5}, TypeError, r"SLAF: `degree` must be an int, got 2.5"),
    (
        {"basis": "chebychev"},
        ValueError,
        r"`basis` must be one of 'monomial', 'chebyshev', 'legendre' \(did you mean 'chebyshev'\?\), got 'chebychev'",
    ),
    (
        {"init": "gelo"},
        ValueError,
        r"SLAF: `init` must be 'paper' or a registered activation name or spec \(did you mean 'gelu'.*\), got 'gelo'",
    ),
    ({"init": 3}, TypeError, r"SLAF: `init` must be of type str"),
    (
        {"range": (3.0, -3.0)},
        ValueError,
        r"`range` must be None or a pair \(low, high\) of finite numbers with low < high, got \(3.0, -3.0\)",
    ),
    ({"range": (0.0, float("inf"))}, ValueError, r"`range` must be None or a pair"),
    (
        {"range": None},
        ValueError,
        r"`range` must be a \(low, high\) pair for basis '\w+' \(None only for 'monomial'\), got None",
    ),
    ({"num_parameters": 0}, ValueError, r"`num_parameters` must be an int >= 1, got 0"),
)

SPECS = [
    ActTestSpec(
        "slaf",
        _fitted_reference(Chebyshev, 5, -2.0, 2.0, np.tanh, relu=False),
        kwargs={"degree": 5, "basis": "chebyshev", "init": "tanh", "range": (-2.0, 2.0)},
        domain=(-3.5, 3.5),
        kinks=(-2.0, 2.0),
        functional=_call(slaf),
        errors=_ERRORS,
        atol=1e-9,
        autograd_reference=_autograd_reference(relu=False),
        fast_kwargs={"num_parameters": 4},
        saved_bytes=input_and_parameters,
        reset_kwargs={"degree": 4, "init": "gelu", "num_parameters": 3},
    ),
    ActTestSpec(
        "slaf_relu",
        _fitted_reference(Legendre, 3, -3.0, 3.0, _gelu, relu=True),
        kwargs={"degree": 3, "basis": "legendre", "init": "gelu", "range": (-3.0, 3.0)},
        domain=(-4.5, 4.5),
        kinks=(-3.0, 0.0, 3.0),
        functional=_call(slaf_relu),
        errors=tuple((k, e, m.replace("SLAF:", "SLAFReLU:")) for k, e, m in _ERRORS),
        atol=1e-9,
        autograd_reference=_autograd_reference(relu=True),
        fast_kwargs={"degree": 5, "num_parameters": 4},
        saved_bytes=input_and_parameters,
        reset_kwargs={"num_parameters": 3},
    ),
]


def _paper_draw(seed: int, channels: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The authors' initial draw in the documented order: a ~ N(0, 1) + 1 on x^1, then gate logits ~ N(0, 1)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        a = torch.randn(channels, degree)
        a[:, 0] += 1.0
        g = torch.randn(degree)
    return a.double().numpy(), g.double().numpy()


def _bn_reference(seed: int, degree: int, eps: float = 1e-8):
    """Eval mode with the initial running statistics (mean 0, variance 1): sum_i a_i sigmoid(g_i) x^i / sqrt(1 + eps) + 0.1."""
    a, g = _paper_draw(seed, 1, degree)
    w = a[0] / (1.0 + np.exp(-g))

    def ref(x: torch.Tensor) -> torch.Tensor:
        v = x.numpy()
        with np.errstate(invalid="ignore"):
            # b = 0.1 as stored in float32 (the default dtype) before `.double()`
            out = sum(w[i] * (v ** (i + 1) - 0.0) / np.sqrt(1.0 + eps) for i in range(degree)) + float(np.float32(0.1))
        return torch.from_numpy(np.asarray(out, dtype=np.float64))

    return ref


def _call_bn(m, x):
    return slaf_bn(
        x,
        coefficients=m.coefficients,
        bias=m.bias,
        gate=m.gate,
        running_mean=m.running_mean,
        running_var=m.running_var,
        training=m.training,
        momentum=m.momentum,
        eps=m.eps,
    )


SPECS.append(
    ActTestSpec(
        "slaf_bn",
        _bn_reference(seed=0, degree=3),
        kwargs={"degree": 3},
        seed=0,
        functional=_call_bn,
        errors=(
            ({"degree": 0}, ValueError, r"^SLAFBN: `degree` must be an int >= 1, got 0$"),
            ({"num_parameters": 0}, ValueError, r"^SLAFBN: `num_parameters` must be an int >= 1, got 0$"),
            ({"momentum": 1.5}, ValueError, r"^SLAFBN: `momentum` must be in \[0.0, 1.0\], got 1.5$"),
            ({"eps": 0.0}, ValueError, r"^SLAFBN: `eps` must be > 0, got 0.0$"),
            ({"gate": 1}, TypeError, r"^SLAFBN: `gate` must be of type bool"),
        ),
        reset_kwargs=None,  # random draws, as the authors'; tests/test_slaf_bn.py checks reset
    )
)
