"""SLAF bases: the three-term recurrences, least-squares initial fits and closed forms.

Every basis used by SLAF satisfies :math:`\\phi_0 = 1`, :math:`\\phi_1 = A_0 t` and
:math:`\\phi_{k+1}(t) = A_k t\\, \\phi_k(t) - C_k\\, \\phi_{k-1}(t)`, so one recurrence (and one
Clenshaw/Horner loop) serves all of them. The numpy side here (fits, closed forms) uses
`numpy.polynomial`, an implementation independent of the torch kernels in `slaf.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.polynomial import chebyshev, legendre, polynomial

from actlab.core.registry import create

__all__ = ["BASES", "FIT_POINTS", "FitError", "basis_class", "fit_coefficients", "recurrence"]

BASES = ("monomial", "chebyshev", "legendre")

# Equispaced least-squares grid on the declared range: minimises the mean squared error under a
# uniform input on the range (the error at the ends matters as much as in the middle).
FIT_POINTS = 1025

_NUMPY = {"monomial": polynomial.Polynomial, "chebyshev": chebyshev.Chebyshev, "legendre": legendre.Legendre}
_VANDER = {"monomial": polynomial.polyvander, "chebyshev": chebyshev.chebvander, "legendre": legendre.legvander}


def recurrence(basis: str, k: int) -> tuple[float, float]:
    """``(A_k, C_k)`` of ``phi_{k+1} = A_k t phi_k - C_k phi_{k-1}`` (``C_0`` is unused)."""
    if basis == "monomial":
        return 1.0, 0.0
    if basis == "chebyshev":
        return (1.0, 0.0) if k == 0 else (2.0, 1.0)
    return (2 * k + 1) / (k + 1), k / (k + 1)  # legendre (Bonnet's recursion)


def basis_class(basis: str) -> type:
    """The `numpy.polynomial` class of ``basis`` (`Polynomial`, `Chebyshev` or `Legendre`)."""
    return _NUMPY[basis]


@dataclass(frozen=True)
class FitError:
    """Error of a SLAF against a target function on the fit range.

    Attributes:
        max_abs: largest absolute error over the grid (and over channels).
        rms: root mean square error over the grid (and over channels).
        range: the interval the error was measured on.
    """

    max_abs: float
    rms: float
    range: tuple[float, float]


def target_values(init: str, x: np.ndarray) -> np.ndarray:
    """A registered activation (name or spec string), in eval mode and float64, evaluated at ``x``."""
    module = create(init).to(torch.float64).eval()
    with torch.no_grad():
        return module(torch.as_tensor(x, dtype=torch.float64)).numpy()


def fit_coefficients(
    init: str, basis: str, degree: int, interval: tuple[float, float], *, subtract_relu: bool = False
) -> np.ndarray:
    """Least-squares coefficients (``degree + 1``, float64) of ``init`` on ``interval``.

    The basis is evaluated in the scaled variable ``t = (2x - lo - hi) / (hi - lo)`` on
    `FIT_POINTS` equispaced points of ``interval``. With ``subtract_relu`` the fitted target is
    ``init(x) - relu(x)`` (the residual that SLAF+ReLU adds to ReLU).
    """
    lo, hi = interval
    x = np.linspace(lo, hi, FIT_POINTS)
    y = target_values(init, x)
    if subtract_relu:
        y = y - np.maximum(x, 0.0)
    t = (2 * x - lo - hi) / (hi - lo)
    coef, *_ = np.linalg.lstsq(_VANDER[basis](t, degree), y, rcond=None)
    # A target that the basis represents exactly (e.g. a zero residual) should give exact zeros,
    # not 1e-17 noise, so `polynomial()` reads cleanly.
    coef[np.abs(coef) < 1e-14 * max(1.0, np.abs(y).max(initial=0.0))] = 0.0
    return coef
