"""The learnable family: SLAF, a learned polynomial activation (Goyal, Goyal, Lall, 2019).

One fused forward (Clenshaw's recurrence, Horner's rule for monomials) and one fused,
hand-derived backward that saves only ``x`` and reduces the coefficient gradient in the same
pass. The numpy side (initial fits, closed forms) lives in `basis.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from actlab.core.channels import channel_view
from actlab.core.fused import code_clone, fused, fused_function
from actlab.core.registry import ACTIVATIONS, ActivationSpec, register
from actlab.core.specparse import parse_spec
from actlab.core.validation import check_choice, check_floating, check_int, check_type, fail, suggest
from actlab.slaf.basis import (
    BASES,
    FIT_POINTS,
    FitError,
    basis_class,
    fit_coefficients,
    recurrence,
    target_values as _target_values,
)

__all__ = ["SLAF", "SLAFReLU", "slaf", "slaf_prefixes", "slaf_relu"]

_SLAF_PAPER = "Goyal, Goyal, Lall, 'Learning activation functions: a new paradigm ...', 2019, arXiv:1906.09529"
# Where `init` is fitted when the monomial basis runs without a declared range (range=None).
_UNBOUNDED_FIT_RANGE = (-3.0, 3.0)


def _check_range(owner: str, basis: str, value: object) -> tuple[float, float] | None:
    check_choice(owner, "basis", basis, BASES)
    if value is None:
        if basis != "monomial":
            fail(owner, "range", f"a (low, high) pair for basis {basis!r} (None only for 'monomial')", value)
        return None
    if not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)
        and value[0] < value[1]
    ):
        fail(owner, "range", "None or a pair (low, high) of finite numbers with low < high", value)
    return float(value[0]), float(value[1])


def _check_init(owner: str, init: object) -> str:
    init = check_type(owner, "init", init, str)
    try:
        name = parse_spec(init)[0]
    except ValueError:
        name = None
    if init != "paper" and (name is None or name not in ACTIVATIONS):
        hint = suggest(init, ["paper", *ACTIVATIONS.names()])
        fail(owner, "init", f"'paper' or a registered activation name or spec{hint}", init)
    return init


# ---------------------------------------------------------------------------------------------
# Kernels. ``t = x * scale + shift`` maps the declared range onto [-1, 1]; with ``clamp`` the
# polynomial is evaluated at ``tc = clamp(t, -1, 1)`` and continued by its tangent line outside
# the range, so the output grows at most linearly however high the degree.


def _scaled(x: Tensor, dtype: torch.dtype, scale: float, shift: float, clamp: bool) -> tuple[Tensor, Tensor]:
    t = x.to(dtype)
    if clamp:
        t = t * scale + shift
    return t, (torch.clamp(t, -1.0, 1.0) if clamp else t)


def _slaf_forward(x: Tensor, coef: Tensor, basis: str, scale: float, shift: float, clamp: bool, relu: bool) -> Tensor:
    dtype = torch.promote_types(x.dtype, coef.dtype)
    t, tc = _scaled(x, dtype, scale, shift, clamp)
    n = coef.shape[-1]
    # Clenshaw from the top: b_k = a_k + A_k t b_{k+1} - C_{k+1} b_{k+2}, f = b_0; d_k = db_k/dt
    # beside it gives P'(edge) for the tangent continuation.
    b1 = coef[..., n - 1] + torch.zeros_like(tc)
    b2 = d1 = d2 = None
    for k in range(n - 2, -1, -1):
        a_k, _ = recurrence(basis, k)
        c_next = recurrence(basis, k + 1)[1]
        bk = coef[..., k] + a_k * tc * b1
        if clamp:
            dk = a_k * b1 if d1 is None else a_k * b1 + a_k * tc * d1
        if c_next and b2 is not None:  # skipped for monomials: 0 * inf would be NaN
            bk = bk - c_next * b2
            if clamp and d2 is not None:
                dk = dk - c_next * d2
        b2, b1 = b1, bk
        if clamp:
            d2, d1 = d1, dk
    y = b1
    if clamp and d1 is not None:
        y = y + d1 * (t - tc)
    if relu:
        y = y + torch.relu(x).to(dtype)
    return y


def _slaf_backward(
    g: Tensor,
    x: Tensor,
    coef: Tensor,
    basis: str,
    scale: float,
    shift: float,
    clamp: bool,
    relu: bool,
    need_x: bool,
    coef_shape: tuple[int, ...] | None,
) -> tuple[Tensor | None, Tensor | None]:
    dtype = torch.promote_types(x.dtype, coef.dtype)
    t, tc = _scaled(x, dtype, scale, shift, clamp)
    n = coef.shape[-1]
    # Upward recurrence for phi_k(tc) and phi_k'(tc): both the input gradient (sum a_k phi_k')
    # and the coefficient gradient (phi_k, plus phi_k' (t - tc) on the tangent) need them.
    phi: list[Tensor] = [torch.ones_like(tc)]
    dphi: list[Tensor] = [torch.zeros_like(tc)]
    for k in range(n - 1):
        a_k, c_k = recurrence(basis, k)
        p, dp = a_k * tc * phi[k], a_k * phi[k] + (a_k * tc * dphi[k] if k else 0.0)
        if k and c_k:
            p, dp = p - c_k * phi[k - 1], dp - c_k * dphi[k - 1]
        phi.append(p)
        dphi.append(dp)
    grad_x = None
    if need_x:
        slope = sum((coef[..., k] * dphi[k] for k in range(1, n)), torch.zeros_like(tc))
        dy = slope * scale if clamp else slope
        if relu:
            dy = dy + (x > 0).to(dtype)
        grad_x = (g * dy).to(x.dtype)
    grad_c = None
    if coef_shape is not None:
        # One reduction per coefficient over the same loop: Inductor fuses them into one kernel.
        # (Reducing a stacked (..., K + 1) tensor instead ran ~40x slower at 16M elements.)
        ext = t - tc
        grad_c = torch.stack(
            [(g * (phi[k] + dphi[k] * ext if clamp else phi[k])).sum_to_size(coef_shape[:-1]) for k in range(n)],
            dim=-1,
        ).to(coef.dtype)
    return grad_x, grad_c


@functools.cache
def _kernel(fn: Callable[..., object], *config: object) -> Callable[..., object]:
    """``fused(fn)`` for one configuration (basis, degree, flags), compiled on its own.

    Dynamo keys its cache and its recompile limit (8) on the code object: one shared kernel for
    every basis / degree / flag combination in a process ran out of recompiles (and fell back to
    unfused ops) after a handful of configurations. A copy of the code object per configuration
    gives each its own budget; only dtypes and ranks vary within one. (`fused` clones per static
    argument already; the degree is not one, it is the coefficients' last dim.)
    """
    del config  # only part of the cache key
    return fused(code_clone(fn))


def _run(fn: Callable[..., object], config: tuple[object, ...], *args: object):
    if torch.compiler.is_compiling():  # being traced: plain ops, no cache lookups in the graph
        return fn(*args)
    return _kernel(fn, *config)(*args)


def _fused_forward(x: Tensor, coef: Tensor, basis: str, scale: float, shift: float, clamp: bool, relu: bool):
    return _run(_slaf_forward, (basis, coef.shape[-1], clamp, relu), x, coef, basis, scale, shift, clamp, relu)


def _fused_backward(
    g: Tensor,
    x: Tensor,
    coef: Tensor,
    basis: str,
    scale: float,
    shift: float,
    clamp: bool,
    relu: bool,
    need_x: bool,
    coef_shape: tuple[int, ...] | None,
):
    config = (basis, coef.shape[-1], clamp, relu, (need_x, coef_shape is not None))
    return _run(_slaf_backward, config, g, x, coef, basis, scale, shift, clamp, relu, need_x, coef_shape)


_SLAFFunction = fused_function(
    "_SLAFFunction",
    _fused_forward,
    _fused_backward,
    params=(1,),  # coefficients
    need_x=True,
    doc="""SLAF with a fused forward and a hand-derived fused backward that saves only ``x`` (and the coefficients).

    Autograd of the basis expansion saves one tensor per degree and runs one memory pass per
    op (a cubic: ~7x GELU); the backward here is checked against autograd of the reference
    formula in float64 (`tests/test_slaf.py`).
    """,
)


def _apply(x: Tensor, coefficients: Tensor, basis: str, interval: tuple[float, float] | None, relu: bool) -> Tensor:
    if interval is None:
        return _SLAFFunction.apply(x, coefficients, basis, 1.0, 0.0, False, relu)
    lo, hi = interval
    return _SLAFFunction.apply(x, coefficients, basis, 2.0 / (hi - lo), -(hi + lo) / (hi - lo), True, relu)


def _check_coefficients(owner: str, coefficients: object) -> None:
    coefficients = check_type(owner, "coefficients", coefficients, Tensor)
    if coefficients.dim() < 1 or coefficients.shape[-1] < 1:
        fail(owner, "coefficients", "a tensor with the K + 1 coefficients on its last dim", tuple(coefficients.shape))


def slaf(
    x: Tensor, /, *, coefficients: Tensor, basis: str = "monomial", range: Sequence[float] | None = (-3.0, 3.0)
) -> Tensor:
    r"""Self-learnable activation function: a polynomial with given coefficients.

    .. math::
        t = \frac{2x - (l + h)}{h - l}, \qquad
        P(t) = \sum_{k=0}^{K} a_k \phi_k(t), \qquad
        \mathrm{SLAF}(x) = \begin{cases}
            P(t) & |t| \le 1 \\
            P(\pm 1) + P'(\pm 1)\,(t \mp 1) & |t| > 1
        \end{cases}

    with :math:`\phi_k` the monomials :math:`t^k` (the paper's basis), or the Chebyshev
    :math:`T_k` or Legendre :math:`P_k` polynomials (better conditioned on :math:`[-1, 1]`).
    Inside the declared ``range = (l, h)`` the activation is exactly the polynomial; outside it
    continues along the tangent at the nearer end (continuous value and slope), so a high degree
    can never make it grow faster than linearly. ``range=None`` (monomials only) is the paper's
    unguarded :math:`\sum_k a_k x^k` on the whole line.

    Args:
        x: input of any shape.
        coefficients: ``(..., K + 1)``: the coefficients :math:`a_0 .. a_K` on the last dim,
            leading dims broadcastable to ``x`` (the module passes a per-channel view).
        basis: ``"monomial"``, ``"chebyshev"`` or ``"legendre"``. Default: ``"monomial"``.
        range: ``(low, high)`` with ``low < high``, or ``None`` (monomial only). Default: (-3, 3).

    Returns:
        A tensor of ``x``'s shape in the promoted dtype of ``x`` and ``coefficients``.

    Raises:
        ValueError: unknown ``basis`` or a bad ``range``.
        TypeError: ``coefficients`` is not a tensor.

    Examples:
        >>> a = torch.tensor([0.0, 1.0, 0.5])          # t + t^2 / 2, t = x / 2 on [-2, 2]
        >>> slaf(torch.tensor([-2.0, 0.0, 2.0, 4.0]), coefficients=a, range=(-2, 2))
        tensor([-0.5000,  0.0000,  1.5000,  3.5000])

    Paper: M. Goyal, R. Goyal, B. Lall, "Learning activation functions: a new paradigm for
    understanding neural networks", arXiv:1906.09529 (2019).
    """
    check_floating("slaf", x)
    interval = _check_range("slaf", basis, range)
    _check_coefficients("slaf", coefficients)
    return _apply(x, coefficients, basis, interval, relu=False)


def slaf_relu(
    x: Tensor, /, *, coefficients: Tensor, basis: str = "monomial", range: Sequence[float] | None = (-3.0, 3.0)
) -> Tensor:
    r"""SLAF beside ReLU: :math:`\mathrm{relu}(x) + \mathrm{SLAF}(x)` in one fused kernel.

    The polynomial (see :func:`slaf` for the math, ``range`` and the tangent continuation) is a
    learned correction to ReLU; with zero coefficients this is exactly ReLU. This is *not* the
    authors' "SLAF with ReLU", which in their code means SLAF in the conv layers and BN + ReLU
    in the dense layers (the harness spec ``hybrid(conv='slaf_bn', dense='relu')``); it is an
    actlab variant that keeps ReLU's shape as the starting point.

    Examples:
        >>> slaf_relu(torch.tensor([-1.0, 2.0]), coefficients=torch.tensor([0.5, 0.0]))
        tensor([0.5000, 2.5000])
    """
    check_floating("slaf_relu", x)
    interval = _check_range("slaf_relu", basis, range)
    _check_coefficients("slaf_relu", coefficients)
    return _apply(x, coefficients, basis, interval, relu=True)


@functools.lru_cache(maxsize=256)
def _cached_fit(init: str, basis: str, degree: int, interval: tuple[float, float], relu: bool) -> np.ndarray:
    return fit_coefficients(init, basis, degree, interval, subtract_relu=relu)


class SLAF(nn.Module):
    r"""Self-learnable activation function with per-layer or per-channel coefficients.

    See :func:`actlab.functional.slaf` for the math and the behaviour outside ``range``.

    Args:
        degree: polynomial degree K >= 0. Default: 4 (the paper's MNIST setting uses 4-5).
        basis: ``"monomial"`` (the paper's), ``"chebyshev"`` or ``"legendre"``. Default: monomial.
        init: ``"paper"`` or a registered activation (name or spec string). ``"paper"`` is the
            authors' code: :math:`a_k \sim \mathcal{N}(0, 1)` plus 1 on the linear term, bias
            :math:`a_0 = 0.1` (they normalise every power with batch norm; here the range
            scaling keeps every basis function in [-1, 1] on the range instead). Any other name
            sets the coefficients by least squares on 1025 equispaced points of ``range`` (of
            (-3, 3) when ``range=None``), so the layer starts as (nearly) that activation;
            `fit_error` reports how nearly. Default: ``"relu"``.
        range: the interval where SLAF is the polynomial, ``(low, high)``; or ``None`` with the
            monomial basis for the unguarded polynomial. Default: (-3, 3).
        num_parameters: 1 for one coefficient vector per layer, or the number of channels (dim 1).
        device, dtype: factory arguments for the coefficients.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape as the input.

    Attributes:
        coefficients: ``(num_parameters, degree + 1)``, :math:`a_0 .. a_K` per channel.

    Raises:
        ValueError: ``degree < 0``, ``num_parameters < 1``, unknown ``basis`` or ``init`` (with
            close matches), a bad ``range``.

    Examples:
        >>> m = SLAF(degree=6, basis="chebyshev", init="tanh", range=(-2, 2))
        >>> m.fit_error().max_abs < 0.025
        True
        >>> p = m.polynomial()[0]          # numpy Polynomial in x, exact on the range
        >>> bool(abs(p(1.0) - 0.7616) < 0.025)  # tanh(1) = 0.7616
        True
    """

    _relu = False

    def __init__(
        self,
        degree: int = 4,
        basis: str = "monomial",
        init: str = "relu",
        range: Sequence[float] | None = (-3.0, 3.0),
        num_parameters: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_int(owner, "degree", degree, ">=", 0)
        self.range = _check_range(owner, basis, range)
        self.init = _check_init(owner, init)
        check_int(owner, "num_parameters", num_parameters, ">=", 1)
        self.degree, self.basis, self.num_parameters = degree, basis, num_parameters
        self.coefficients = nn.Parameter(torch.empty(num_parameters, degree + 1, device=device, dtype=dtype))
        self.reset_parameters()

    @property
    def fit_range(self) -> tuple[float, float]:
        """The interval of the initial fit and of `fit_error` (``range``, or (-3, 3) without one)."""
        return self.range if self.range is not None else _UNBOUNDED_FIT_RANGE

    def reset_parameters(self) -> None:
        """Re-initialise from ``init``: a deterministic fit (idempotent), or a fresh ``"paper"`` draw."""
        with torch.no_grad():
            if self.init == "paper":
                self.coefficients.normal_(0.0, 1.0)
                if self.degree >= 1:
                    self.coefficients[:, 1] += 1.0
                self.coefficients[:, 0] = 0.1
            else:
                coef = _cached_fit(self.init, self.basis, self.degree, self.fit_range, self._relu)
                self.coefficients.copy_(torch.as_tensor(coef).expand_as(self.coefficients))

    def forward(self, x: Tensor, /) -> Tensor:
        check_floating(type(self).__name__, x)
        return _apply(x, channel_view(self.coefficients, x), self.basis, self.range, self._relu)

    def fit_error(self, target: str | None = None, points: int = FIT_POINTS) -> FitError:
        """Max and RMS error of the current function against ``target`` (default: ``init``) on `fit_range`.

        Raises:
            ValueError: no target given and ``init="paper"`` (a random draw approximates nothing).
        """
        target = self.init if target is None else _check_init(type(self).__name__, target)
        if target == "paper":
            fail(type(self).__name__, "target", "a registered activation when init='paper'", target)
        lo, hi = self.fit_range
        grid = np.linspace(lo, hi, points)
        with torch.no_grad():
            x = torch.as_tensor(grid).unsqueeze(1).expand(points, self.num_parameters)
            y = _apply(x, channel_view(self.coefficients.double(), x), self.basis, self.range, self._relu)
        err = y.numpy() - _target_values(target, grid)[:, None]
        return FitError(float(np.abs(err).max()), float(np.sqrt(np.mean(err**2))), (lo, hi))

    def polynomial(self) -> list[np.polynomial.Polynomial]:
        """The learned polynomial in ``x`` (power series), one per channel; exact on ``range``.

        For `SLAFReLU` this is the part added to ReLU. Outside ``range`` the activation follows
        the tangent line instead (see :func:`slaf`), so the whole function is piecewise: this
        polynomial inside, two lines outside; only ``range=None`` makes it one polynomial on the
        whole line. (`SLAFBN.polynomial` is its eval-mode function, exact everywhere.)
        """
        coef = self.coefficients.detach().double().cpu().numpy()
        if self.range is None:
            return [np.polynomial.Polynomial(row) for row in coef]
        cls = basis_class(self.basis)
        return [cls(row, domain=list(self.range)).convert(kind=np.polynomial.Polynomial) for row in coef]

    def formula(self, channel: int = 0, digits: int = 4) -> str:
        """The learned function of ``channel`` as text, e.g. ``'0.1 + 0.5 x + 0.25 x**2 (on [-3, 3])'``."""
        poly = self.polynomial()[channel]
        text = format(np.polynomial.Polynomial(np.round(poly.coef, digits)), "ascii")
        where = "" if self.range is None else f"  (on [{self.range[0]:g}, {self.range[1]:g}], tangent lines outside)"
        return ("relu(x) + " if self._relu else "") + text + where

    def get_extra_state(self) -> dict:
        # The hyperparameters travel with the coefficients, so a saved state_dict alone can be
        # rebuilt and drawn (`from_state_dict`, `actlab plot --state-dict`).
        return {
            "kind": type(self).__name__,
            "degree": self.degree,
            "basis": self.basis,
            "init": self.init,
            "range": self.range,
        }

    def set_extra_state(self, state: dict) -> None:
        mine = self.get_extra_state()
        diff = {k: (state.get(k), v) for k, v in mine.items() if k != "init" and state.get(k) != v}
        if diff:
            saved = {k: v[0] for k, v in diff.items()}
            fail(type(self).__name__, "state_dict", f"saved with this module's {', '.join(diff)}", saved)

    def penalised_parameters(self, include_bias: bool = False) -> list[Tensor]:
        """What `CoefficientL1` penalises: the coefficients, without the constant term unless ``include_bias``."""
        return [self.coefficients if include_bias else self.coefficients[:, 1:]]

    @staticmethod
    def from_state_dict(state: Mapping[str, Any], prefix: str = "") -> SLAF:
        """Rebuild the `SLAF` / `SLAFReLU` saved under ``prefix`` (e.g. ``"net.2"``) in a model's state_dict.

        Raises:
            ValueError: no SLAF state under ``prefix`` (the message lists the prefixes there are).
        """
        key = f"{prefix}." if prefix else ""
        extra = state.get(f"{key}_extra_state")
        if not isinstance(extra, dict) or extra.get("kind") not in ("SLAF", "SLAFReLU"):
            found = ", ".join(repr(p) for p in slaf_prefixes(state)) or "none"
            fail("SLAF.from_state_dict", "prefix", f"the prefix of a saved SLAF (found: {found})", prefix)
        cls = SLAFReLU if extra["kind"] == "SLAFReLU" else SLAF
        coef = state[f"{key}coefficients"]
        module = cls(extra["degree"], extra["basis"], extra["init"], extra["range"], coef.shape[0], dtype=coef.dtype)
        module.load_state_dict({"coefficients": coef, "_extra_state": extra})
        return module

    def extra_repr(self) -> str:
        return (
            f"degree={self.degree}, basis={self.basis}, init={self.init}, range={self.range}, "
            f"num_parameters={self.num_parameters}"
        )


class SLAFReLU(SLAF):
    r"""SLAF beside ReLU: :math:`\mathrm{relu}(x) + \sum_k a_k \phi_k(t)`, a learned correction to ReLU.

    Not the authors' "SLAF with ReLU" (a split by layer type: SLAF in conv layers, BN + ReLU in
    dense ones, `actlab.harness.models.LayerActs`); an actlab variant. Same arguments as `SLAF`; ``init`` is fitted as ``init(x) - relu(x)``, so the default
    ``init="relu"`` gives zero coefficients and the layer starts as exactly ReLU.

    Examples:
        >>> m = SLAFReLU(degree=3)
        >>> bool((m.coefficients == 0).all()), m.fit_error().max_abs
        (True, 0.0)
    """

    _relu = True

    def forward(self, x: Tensor, /) -> Tensor:
        check_floating(type(self).__name__, x)
        return _apply(x, channel_view(self.coefficients, x), self.basis, self.range, True)


def slaf_prefixes(state: Mapping[str, object]) -> list[str]:
    """The module prefixes of every `SLAF` / `SLAFReLU` saved in a state_dict, in order."""
    suffix = "_extra_state"
    return [
        k[: -len(suffix)].rstrip(".")
        for k, v in state.items()
        if k.endswith(suffix) and isinstance(v, dict) and v.get("kind") in ("SLAF", "SLAFReLU")
    ]


register(
    ActivationSpec(
        name="slaf",
        module=SLAF,
        function=slaf,
        family="learnable",
        description="learned polynomial sum_k a_k phi_k(x) (monomial/Chebyshev/Legendre), tangent lines outside range",
        paper=_SLAF_PAPER,
    )
)
register(
    ActivationSpec(
        name="slaf_relu",
        module=SLAFReLU,
        function=slaf_relu,
        family="learnable",
        description="relu(x) + a learned SLAF polynomial (starts as exactly ReLU)",
        paper=_SLAF_PAPER,
    )
)
