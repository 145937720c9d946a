"""Gradient activation functions (GAF): registered entries of their own kind.

A gradient activation function ``g`` is applied elementwise to gradients inside the optimizer
(Chen et al., "Activated Gradients for Deep Neural Networks", IEEE TNNLS, arXiv 2107.04228).
The paper asks ``g`` to be odd (sign preserving), monotonically increasing and bounded, and to
enlarge small gradients while restraining large ones; its main form is
``g(x) = alpha * atan(beta * x)``.

Each entry holds the math twice on purpose: ``function`` is the out-of-place formula (the
reference, used by the checks and the docs), ``apply_`` the in-place multi-tensor
(``torch._foreach_*``) path that the optimizer wrapper runs; the tests tie the two together.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from actlab.core.registry import Registry
from actlab.core.validation import check_bound, fail

__all__ = [
    "GRADIENT_FUNCTIONS",
    "GradientFunctionSpec",
    "check_gradient_function",
    "get_gradient_function",
    "list_gradient_functions",
    "resolve",
]

PAPER = "Chen, Jin, et al., Activated Gradients for Deep Neural Networks, IEEE TNNLS 2021 (arXiv 2107.04228)"


@dataclass(frozen=True)
class GradientFunctionSpec:
    """One registered gradient activation function.

    Attributes:
        name: canonical snake_case name.
        function: ``function(x, /, *, alpha, beta) -> Tensor``, out of place (the reference math).
        apply_: ``apply_(grads, alpha, beta)`` transforms a list of tensors in place.
        alpha, beta: the defaults (``None`` where the entry takes no such argument).
        description: one line.
        slope_at_zero: ``(alpha, beta) -> g'(0)``; ``>= 1`` means small gradients are not shrunk.
        bound: ``(alpha, beta) -> sup |g|`` (``inf`` when unbounded).
        paper: the reference.
        aliases: other accepted names.
    """

    # Each callable gets a float for a parameter with a default and None for one without (see
    # `resolve`), which no annotation can tie to ``alpha``/``beta``: hence the ``Any``.
    name: str
    function: Callable[..., torch.Tensor]
    apply_: Callable[[list[torch.Tensor], Any, Any], None]
    alpha: float | None
    beta: float | None
    description: str
    slope_at_zero: Callable[[Any, Any], float]
    bound: Callable[[Any, Any], float]
    paper: str = PAPER
    aliases: tuple[str, ...] = ()


GRADIENT_FUNCTIONS: Registry[GradientFunctionSpec] = Registry("gradient activation")


def _register(spec: GradientFunctionSpec) -> GradientFunctionSpec:
    return GRADIENT_FUNCTIONS.add(spec.name, spec, spec.aliases)


def get_gradient_function(name: str) -> GradientFunctionSpec:
    """The entry for ``name`` (canonical or alias); unknown names raise with "did you mean"."""
    return GRADIENT_FUNCTIONS.get(name)


def list_gradient_functions() -> list[str]:
    """Sorted canonical names of the registered gradient activation functions."""
    return GRADIENT_FUNCTIONS.names()


# --- identity: the bare optimizer, bit for bit -------------------------------------------------


def identity(x: torch.Tensor, /, *, alpha: None = None, beta: None = None) -> torch.Tensor:
    """``g(x) = x``: leaves the optimizer unchanged (the control)."""
    return x


def _identity_(grads: list[torch.Tensor], alpha: None, beta: None) -> None:
    return None


_register(
    GradientFunctionSpec(
        name="identity",
        function=identity,
        apply_=_identity_,
        alpha=None,
        beta=None,
        description="g(x) = x: the bare optimizer",
        slope_at_zero=lambda a, b: 1.0,
        bound=lambda a, b: math.inf,
        aliases=("none",),
    )
)

# --- atan: the paper's main form ---------------------------------------------------------------


def atan(x: torch.Tensor, /, *, alpha: float = 0.3, beta: float = 4.5) -> torch.Tensor:
    r"""The paper's gradient activation :math:`g(x) = \alpha \arctan(\beta x)`.

    Slope :math:`\alpha\beta` at zero, bounded by :math:`\alpha\pi/2`. Defaults are the official
    SGD class defaults (``alpha=0.3, beta=4.5``).

    Examples:
        >>> atan(torch.tensor([0.0, 1e-4, 100.0]), alpha=0.3, beta=4.5)
        tensor([0.0000e+00, 1.3500e-04, 4.7057e-01])
    """
    return alpha * torch.atan(beta * x)


def _atan_(grads: list[torch.Tensor], alpha: float, beta: float) -> None:
    torch._foreach_mul_(grads, beta)
    torch._foreach_atan_(grads)
    torch._foreach_mul_(grads, alpha)


_register(
    GradientFunctionSpec(
        name="atan",
        function=atan,
        apply_=_atan_,
        alpha=0.3,
        beta=4.5,
        description="alpha * atan(beta * x), the paper's main form",
        slope_at_zero=lambda a, b: a * b,
        bound=lambda a, b: a * math.pi / 2,
    )
)


def atan_unit(x: torch.Tensor, /, *, alpha: float = 0.5, beta: None = None) -> torch.Tensor:
    r""":math:`g(x) = \alpha \arctan(x / \alpha)`: the ``beta = 1/alpha`` family the paper sweeps.

    Slope exactly 1 at zero (small gradients kept as they are), bounded by :math:`\alpha\pi/2`;
    ``alpha`` alone sets where clipping-like restraint starts.
    """
    return alpha * torch.atan(x / alpha)


def _atan_unit_(grads: list[torch.Tensor], alpha: float, beta: None) -> None:
    _atan_(grads, alpha, 1.0 / alpha)


_register(
    GradientFunctionSpec(
        name="atan_unit",
        function=atan_unit,
        apply_=_atan_unit_,
        alpha=0.5,
        beta=None,
        description="alpha * atan(x / alpha): the beta = 1/alpha family (slope 1 at zero)",
        slope_at_zero=lambda a, b: 1.0,
        bound=lambda a, b: a * math.pi / 2,
    )
)

# --- tanh ---------------------------------------------------------------------------------------


def tanh(x: torch.Tensor, /, *, alpha: float = 0.3, beta: float = 4.5) -> torch.Tensor:
    r""":math:`g(x) = \alpha \tanh(\beta x)`, offered by the official code beside atan.

    Slope :math:`\alpha\beta` at zero, bounded by :math:`\alpha` (saturates faster than atan).
    """
    return alpha * torch.tanh(beta * x)


def _tanh_(grads: list[torch.Tensor], alpha: float, beta: float) -> None:
    torch._foreach_mul_(grads, beta)
    torch._foreach_tanh_(grads)
    torch._foreach_mul_(grads, alpha)


_register(
    GradientFunctionSpec(
        name="tanh",
        function=tanh,
        apply_=_tanh_,
        alpha=0.3,
        beta=4.5,
        description="alpha * tanh(beta * x)",
        slope_at_zero=lambda a, b: a * b,
        bound=lambda a, b: a,
    )
)


# --- resolving a user's choice ------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A gradient activation ready to apply: a registered entry or a checked user callable."""

    fn: str | Callable[[torch.Tensor], torch.Tensor]
    alpha: float | None
    beta: float | None

    def apply_(self, grads: list[torch.Tensor]) -> None:
        if not grads:
            return
        if callable(self.fn):
            for g in grads:
                g.copy_(self.fn(g))
        else:
            get_gradient_function(self.fn).apply_(grads, self.alpha, self.beta)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if callable(self.fn):
            return self.fn(x)
        return get_gradient_function(self.fn).function(x, alpha=self.alpha, beta=self.beta)


def resolve(
    owner: str,
    fn: str | Callable[[torch.Tensor], torch.Tensor],
    alpha: float | None,
    beta: float | None,
    *,
    check: bool = True,
) -> Resolved:
    """Validate ``fn``/``alpha``/``beta`` and fill the entry's defaults.

    Args:
        owner: the name used in error messages.
        fn: a registered name or alias, or a callable ``g(x) -> Tensor`` (elementwise).
        alpha, beta: the registered entry's parameters (``None``: its default). A callable
            takes none: pass them through a closure or `functools.partial`.
        check: for a callable, run `check_gradient_function` (refuse / warn).

    Raises:
        ValueError: unknown name (with "did you mean"), ``alpha <= 0``, ``beta <= 0``, or a
            callable that is not odd, increasing and bounded.
        TypeError: ``fn`` of another type, parameters passed to an entry that takes none.
    """
    if callable(fn) and not isinstance(fn, str):
        for name, value in (("alpha", alpha), ("beta", beta)):
            if value is not None:
                fail(owner, name, "None when `fn` is a callable (bind it inside the callable)", value, TypeError)
        if check:
            check_gradient_function(fn, owner=owner)
        return Resolved(fn, None, None)
    if not isinstance(fn, str):
        fail(owner, "fn", "a registered name or a callable", f"{type(fn).__name__} {fn!r}", TypeError)
    try:
        spec = get_gradient_function(fn)
    except ValueError as exc:
        raise ValueError(f"{owner}: `fn` {exc}") from None
    values: dict[str, float | None] = {}
    for name, value, default in (("alpha", alpha, spec.alpha), ("beta", beta, spec.beta)):
        if default is None:
            if value is not None:
                fail(owner, name, f"None for fn={spec.name!r} (it takes no {name})", value, TypeError)
            values[name] = None
        else:
            values[name] = float(check_bound(owner, name, default if value is None else value, ">", 0))
    if spec.slope_at_zero(values["alpha"], values["beta"]) < 1.0:
        # Allowed (the paper's sweeps touch it) but outside its conditions: say so.
        warnings.warn(
            f"{owner}: fn={spec.name!r} with alpha*beta = "
            f"{spec.slope_at_zero(values['alpha'], values['beta']):.3g} < 1 shrinks small gradients; "
            "the paper asks g to enlarge them",
            UserWarning,
            stacklevel=3,
        )
    return Resolved(spec.name, values["alpha"], values["beta"])


def check_gradient_function(
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    owner: str = "check_gradient_function",
    grid: Sequence[float] | None = None,
) -> dict[str, bool]:
    """Check a user's ``g`` numerically against the paper's conditions.

    On a float64 grid of magnitudes ``1e-6 .. 1e6`` (and ``1e12`` for the bound) it checks:
    ``odd`` (``g(-x) = -g(x)``, ``g(0) = 0``), ``increasing`` (non-decreasing on the grid),
    ``bounded`` (``|g(1e12)| <= 1.01 |g(1e6)|``, i.e. saturated), ``enlarges_small``
    (``|g(x)| >= |x|`` for ``|x| <= 1e-5``, up to 1e-4 relative: ``g'(0) >= 1``) and ``restrains_large``
    (``|g(x)| < |x|`` at ``|x| = 1e6``).

    A numerical check cannot prove these laws; it catches the common mistakes (an even or
    unbounded ``g``, a sign flip). The paper's conditions are summarised in docs/gaf.md.

    Raises:
        ValueError: ``g`` is not odd, increasing and bounded, or returns a wrong shape/NaN.

    Warns:
        UserWarning: ``g`` shrinks small gradients or does not restrain large ones.

    Returns:
        The name -> bool map of every condition.

    Examples:
        >>> check_gradient_function(lambda x: 0.2 * torch.atan(10 * x))["bounded"]
        True
    """
    mags = (
        torch.logspace(-6, 6, 121, dtype=torch.float64) if grid is None else torch.as_tensor(grid, dtype=torch.float64)
    )
    x = torch.cat([-mags.flip(0), torch.zeros(1, dtype=torch.float64), mags])
    y = fn(x.clone())
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or not torch.isfinite(y).all():
        fail(owner, "fn", "elementwise, returning finite values of the input's shape", fn)
    n = len(mags)
    neg, zero, pos = y[:n].flip(0), y[n], y[n + 1 :]
    big = fn(torch.tensor([1e12], dtype=torch.float64)).abs().item()
    small = mags <= 1e-5
    result = {
        "odd": bool(zero == 0 and torch.allclose(neg, -pos, rtol=1e-6, atol=0.0)),
        "increasing": bool((y.diff() >= -1e-12 * y.abs().max()).all()),
        "bounded": bool(math.isfinite(big) and big <= 1.01 * pos[-1].abs().item()),
        "enlarges_small": bool((pos[small].abs() >= mags[small] * (1 - 1e-4)).all()),
        "restrains_large": bool(pos[-1].abs() < mags[-1]),
    }
    refused = [k for k in ("odd", "increasing", "bounded") if not result[k]]
    if refused:
        fail(
            owner,
            "fn",
            "odd, monotonically increasing and bounded (paper's conditions)",
            f"{getattr(fn, '__name__', fn)} (fails: {', '.join(refused)})",
        )
    warned = [k for k in ("enlarges_small", "restrains_large") if not result[k]]
    if warned:
        warnings.warn(
            f"{owner}: `fn` {getattr(fn, '__name__', fn)} does not meet the paper's condition(s): {', '.join(warned)}",
            UserWarning,
            stacklevel=2,
        )
    return result
