r"""Mean-field initialisation and depth prediction for networks with N-level quantized activations.

Following the mean-field analysis of quantized networks (Blumenfeld, Gilboa & Soudry, 2019),
in the form derived here for the symmetric uniform quantizer :math:`\psi_N` on ``[-h, h]``
(``quantize(levels=N, range=(-h, h))``: levels :math:`-h + k\Delta`, :math:`\Delta = 2h/(N-1)`,
thresholds halfway between levels) in a fully connected network without biases, weights
:math:`W_{ij} \sim \mathcal N(0, \sigma_w^2/\text{fan\_in})` and infinite width:

* **Length map.** The pre-activation variance obeys :math:`q_{l+1} = \sigma_w^2\,
  \mathbb E[\psi_N(\sqrt{q_l}\,z)^2]`; it converges to a fixed point :math:`q^*`. Write
  :math:`s = \sqrt{q^*}/h` (the pre-activation std in units of the half-range); then
  :math:`\sigma_w^2 = s^2 / \mathbb E[\psi(s z)^2]` with :math:`\psi` the quantizer on
  ``[-1, 1]``: the initialisation does not depend on ``h``.
* **Correlation map.** Two inputs with pre-activation correlation :math:`c` map to
  :math:`f(c) = \mathbb E[\psi(u_1)\psi(u_2)] / \mathbb E[\psi(u)^2]` (Gaussian :math:`u`,
  variance :math:`s^2`, correlation :math:`c`). By Mehler's formula
  :math:`f(c) = \sum_{k \ge 1} b_k^2 c^k / \mathbb E[\psi^2]` with Hermite coefficients
  :math:`b_k`; :math:`\psi` is odd, so :math:`f(0) = 0`, and :math:`f'(1) = \infty` (the jumps),
  so :math:`c = 1` is unstable and every pair of inputs decorrelates towards :math:`c^* = 0`
  at the rate :math:`\chi = f'(0) = b_1^2 / \mathbb E[\psi^2] < 1`.
* **Depth scale.** Correlations decay as :math:`\chi^l`, i.e. over :math:`\xi = -1/\ln\chi`
  layers. Signal propagation is best for the :math:`s` that maximises :math:`\chi`, which fixes
  :math:`\sigma_w^2` (`mean_field_init`). As in Schoenholz et al. (2017), a network is taken to
  be trainable up to :math:`L_{max} = 6\,\xi` layers (``factor=6``, their empirical constant:
  an assumption, not derived here).

Everything is closed form for a step function, no quadrature: with thresholds
:math:`t_j = \tau_j / s` (standard normal pdf :math:`\phi`, cdf :math:`\Phi`),
:math:`\mathbb E[\psi(sz)^2] = \sum_k \ell_k^2 (\Phi(t_k) - \Phi(t_{k-1}))` and
:math:`b_k = \Delta \sum_j \phi(t_j)\,h_{k-1}(t_j)/\sqrt{k}` (normalised probabilists' Hermite
:math:`h_k`; integrate :math:`\psi(sz) He_k(z)\phi(z)` by parts, the jumps give the sum).
The maximisation over :math:`s` is numerical (bounded scalar search on :math:`\ln s`).
For :math:`N = 2` (sign) :math:`\psi` is scale invariant: :math:`\chi = 2/\pi` for every
:math:`\sigma_w`, and ``weight_var`` is reported as 1.

The paper's headline (:math:`L_{max} \propto N^{1.82}`) is a fitted power law: the slope of
:math:`\log(1 - \chi_{max})` on :math:`\log(N + 1)` over N = 3..63 plus {125, 128, 255, 256,
512, 515, 1024, 1025} (its supplementary notebook, ``yanivbl6/quantized_meanfield``; since
:math:`\xi = -1/\ln\chi \approx 1/(1 - \chi)`, minus that slope is the exponent of
:math:`L_{max}`). `paper_depth_exponent` runs that regression on the :math:`\chi_{max}`
computed here (1.816); `depth_exponent` is a second fit, :math:`\log\xi` on :math:`\log N`
over N = 2..64 (1.74): the exponent depends on the regression and the range of N. Not modelled: biases, non-symmetric ranges
(e.g. ``(0, 1)``: a non-zero activation mean acts like a bias), finite width, batch norm,
the backward pass of the STE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from actlab.core.extras import require
from actlab.core.validation import check_bound, check_finite, check_int

__all__ = [
    "ExponentFit",
    "MeanFieldInit",
    "correlation_map",
    "depth_exponent",
    "init_quantized_",
    "max_trainable_depth",
    "mean_field_init",
    "paper_depth_exponent",
]

#: The paper's regression levels: N = 3..63 plus its large-N points (supplementary notebook).
PAPER_LEVELS: tuple[int, ...] = (*range(3, 64), 125, 128, 255, 256, 512, 515, 1024, 1025)

DEPTH_FACTOR = 6.0  # Schoenholz et al. (2017): networks train up to about 6 depth scales.


@dataclass(frozen=True)
class MeanFieldInit:
    """The mean-field initialisation of a network with ``levels``-level activations.

    Attributes:
        levels: number of quantization levels ``N``.
        weight_var: :math:`\\sigma_w^2`; draw weights from ``N(0, weight_var / fan_in)``.
        preact_std: :math:`s = \\sqrt{q^*}/h`, the fixed-point pre-activation std relative to
            the half-range ``h`` of the quantizer's range ``(-h, h)``.
        chi: slope of the correlation map at its stable fixed point :math:`c^* = 0`.
        depth_scale: :math:`\\xi = -1/\\ln\\chi` layers.
        max_depth: predicted maximal trainable depth, ``factor * depth_scale``.
    """

    levels: int
    weight_var: float
    preact_std: float
    chi: float
    depth_scale: float
    max_depth: float

    def to_dict(self) -> dict:
        return asdict(self)


def _quantizer(levels: int) -> tuple[np.ndarray, np.ndarray, float]:
    step = 2.0 / (levels - 1)
    values = -1.0 + step * np.arange(levels)
    thresholds = values[:-1] + step / 2
    return values, thresholds, step


def _second_moment(levels: int, s: float) -> float:
    values, thresholds, _ = _quantizer(levels)
    norm = require("scipy.stats", "mean-field initialisation", "quantized").norm
    cdf = np.concatenate([[0.0], norm.cdf(thresholds / s), [1.0]])
    return float((values**2 * np.diff(cdf)).sum())


def _hermite_coefficients(levels: int, s: float, terms: int) -> np.ndarray:
    """``b_1..b_terms`` of ``psi(s z)`` in the orthonormal Hermite basis (``b_0 = 0``: psi is odd)."""
    _, thresholds, step = _quantizer(levels)
    t = thresholds / s
    pdf = require("scipy.stats", "mean-field initialisation", "quantized").norm.pdf(t)
    h_prev, h = np.zeros_like(t), np.ones_like(t)  # h_{-1}, h_0
    out = np.empty(terms)
    for k in range(1, terms + 1):
        out[k - 1] = step * (pdf * h).sum() / math.sqrt(k)
        # Orthonormal recurrence: h_k = (t h_{k-1} - sqrt(k-1) h_{k-2}) / sqrt(k); stays O(1).
        h_prev, h = h, (t * h - math.sqrt(k - 1) * h_prev) / math.sqrt(k)
    return out


def _chi(levels: int, s: float) -> float:
    return float(_hermite_coefficients(levels, s, 1)[0] ** 2 / _second_moment(levels, s))


def mean_field_init(levels: int, *, factor: float = DEPTH_FACTOR) -> MeanFieldInit:
    """The weight variance that maximises signal propagation through ``levels``-level activations.

    Args:
        levels: number of levels ``N >= 2`` of ``quantize(levels=N, range=(-h, h))``.
        factor: trainable depth in depth scales (``L_max = factor * xi``). Default: 6.

    Returns:
        A `MeanFieldInit`; see the module docstring for the derivation and assumptions.

    Examples:
        >>> p = mean_field_init(2)
        >>> round(p.chi, 6), round(p.depth_scale, 3)   # 2/pi, the arcsine law's slope at 0
        (0.63662, 2.214)
        >>> round(mean_field_init(4).weight_var, 3)
        1.135
    """
    check_int("mean_field_init", "levels", levels, ">=", 2)
    check_finite("mean_field_init", "factor", factor)
    check_bound("mean_field_init", "factor", factor, ">", 0)
    if levels == 2:
        s, weight_var = 1.0, 1.0  # sign: chi = 2/pi whatever the scale
    else:
        minimize_scalar = require("scipy.optimize", "mean_field_init", "quantized").minimize_scalar
        best = minimize_scalar(
            lambda log_s: -_chi(levels, math.exp(log_s)), bounds=(-8.0, 4.0), method="bounded", options={"xatol": 1e-8}
        )
        s = math.exp(best.x)
        weight_var = s**2 / _second_moment(levels, s)
    chi = _chi(levels, s)
    xi = -1.0 / math.log(chi)
    return MeanFieldInit(levels, weight_var, s, chi, xi, factor * xi)


def max_trainable_depth(levels: int, *, factor: float = DEPTH_FACTOR) -> float:
    """Predicted maximal trainable depth ``factor * xi`` at the mean-field initialisation."""
    return mean_field_init(levels, factor=factor).max_depth


def correlation_map(c: float | np.ndarray, levels: int, preact_std: float, *, terms: int = 400) -> np.ndarray:
    """One layer of the correlation map ``f(c)`` at pre-activation std ``preact_std`` (units of ``h``).

    Computed from the Mehler series truncated at ``terms`` Hermite coefficients: geometric
    convergence for ``|c| < 1``; at ``c = 1`` the tail decays slowly (the jumps), so ``f(1)``
    comes out slightly below 1.
    """
    check_int("correlation_map", "levels", levels, ">=", 2)
    check_bound("correlation_map", "preact_std", preact_std, ">", 0)
    b2 = _hermite_coefficients(levels, preact_std, terms) ** 2
    c = np.asarray(c, dtype=np.float64)
    powers = c[..., None] ** np.arange(1, terms + 1)
    return (powers * b2).sum(-1) / _second_moment(levels, preact_std)


def depth_exponent(levels: Iterable[int] = (2, 4, 8, 16, 32, 64)) -> float:
    """Least-squares slope of ``log xi`` against ``log N``: the exponent ``p`` in ``L_max ~ N^p``.

    Not the paper's regression (`paper_depth_exponent`): it fits the depth scale itself, on
    ``log N`` rather than ``log(N + 1)``, over small ``N``; kept to show how much the fitted
    exponent depends on that choice (1.74 here against 1.816 for the paper's).
    """
    ns = np.array(list(levels), dtype=np.float64)
    xi = np.array([mean_field_init(int(n)).depth_scale for n in ns])
    return float(np.polyfit(np.log(ns), np.log(xi), 1)[0])


@dataclass(frozen=True)
class ExponentFit:
    """A least-squares power-law fit: ``exponent`` with its standard error, over ``levels``."""

    exponent: float
    stderr: float
    levels: tuple[int, ...]


def paper_depth_exponent(levels: Iterable[int] = PAPER_LEVELS) -> ExponentFit:
    r"""The paper's regression: minus the slope of :math:`\log(1 - \chi_{max})` on :math:`\log(N + 1)`.

    Args:
        levels: the ``N`` to fit over. Default: the paper's, N = 3..63 plus {125, 128, 255, 256,
            512, 515, 1024, 1025}.

    Returns:
        An `ExponentFit`: the exponent ``p`` of :math:`L_{max} \propto 1/(1 - \chi_{max})
        \sim (N + 1)^p` and the slope's standard error from the least-squares residuals.

    Examples:
        >>> round(paper_depth_exponent().exponent, 2)   # the paper: 1.82
        1.82
    """
    ns = tuple(int(n) for n in levels)
    if len(ns) < 3:
        raise ValueError(f"paper_depth_exponent: `levels` must hold >= 3 values, got {len(ns)}")
    for n in ns:
        check_int("paper_depth_exponent", "levels", n, ">=", 2)
    x = np.log(np.array(ns, dtype=np.float64) + 1.0)
    y = np.log1p(-np.array([mean_field_init(n).chi for n in ns]))
    (slope, _), cov = np.polyfit(x, y, 1, cov=True)
    return ExponentFit(float(-slope), float(math.sqrt(cov[0, 0])), ns)


@torch.no_grad()
def init_quantized_(model: nn.Module, levels: int, *, generator: torch.Generator | None = None) -> MeanFieldInit:
    """Initialise every `nn.Linear` / convolution in ``model`` at the mean-field weight variance.

    Weights ``~ N(0, weight_var / fan_in)`` (``fan_in = weight[0].numel()``), biases zero.
    The prediction assumes symmetric ``quantize(levels=levels, range=(-h, h))`` activations
    between the layers, no normalisation layers, and standardised inputs.

    Returns:
        The `MeanFieldInit` used (with the predicted trainable depth).
    """
    init = mean_field_init(levels)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            std = math.sqrt(init.weight_var / module.weight[0].numel())
            module.weight.normal_(0.0, std, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
    return init
