"""Argument checks that all produce one error format.

Every message reads ``Owner: `arg` must be <constraint>, got <value>`` and is built from the
same bound the check uses, so the message and the check cannot drift apart.
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar, overload

import torch

__all__ = [
    "ValidationError",
    "check_bound",
    "check_choice",
    "check_finite",
    "check_floating",
    "check_int",
    "check_interval",
    "check_shape",
    "check_type",
    "fail",
    "suggest",
]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "!=": operator.ne,
}

T = TypeVar("T")


class ValidationError(ValueError):
    """A `ValueError` raised for an argument outside its allowed values."""


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def fail(owner: str, name: str, constraint: str, value: Any, exc: type[Exception] = ValidationError) -> NoReturn:
    """Raise ``exc`` with the project's message format."""
    raise exc(f"{owner}: `{name}` must be {constraint}, got {_fmt(value)}")


def check_bound(owner: str, name: str, value: Any, op: str, bound: Any) -> Any:
    """Check ``value <op> bound`` (``op`` one of ``> >= < <= !=``) and return ``value``.

    Example:
        >>> check_bound("TERELU", "alpha", 1.0, ">", 0)
        1.0
        >>> check_bound("TERELU", "alpha", -1.0, ">", 0)
        Traceback (most recent call last):
        ...
        actlab.core.validation.ValidationError: TERELU: `alpha` must be > 0, got -1.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(owner, name, "a real number", value, TypeError)
    if math.isnan(value) or not _OPS[op](value, bound):
        fail(owner, name, f"{op} {bound}", value)
    return value


def check_interval(owner: str, name: str, value: Any, low: float, high: float, *, closed: str = "both") -> Any:
    """Check that ``value`` lies in an interval; ``closed`` is ``both``, ``left``, ``right`` or ``neither``."""
    lo_ok = operator.ge if closed in ("both", "left") else operator.gt
    hi_ok = operator.le if closed in ("both", "right") else operator.lt
    text = ("[" if lo_ok is operator.ge else "(") + f"{low}, {high}" + ("]" if hi_ok is operator.le else ")")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(owner, name, "a real number", value, TypeError)
    if math.isnan(value) or not (lo_ok(value, low) and hi_ok(value, high)):
        fail(owner, name, f"in {text}", value)
    return value


def check_finite(owner: str, name: str, value: Any) -> Any:
    """Check that a number is finite (not NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(owner, name, "a real number", value, TypeError)
    if not math.isfinite(value):
        fail(owner, name, "finite", value)
    return value


def check_int(owner: str, name: str, value: Any, op: str | None = None, bound: int | None = None) -> int:
    """Check that ``value`` is an ``int`` (not a bool) and optionally ``value <op> bound``."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(owner, name, "an int", value, TypeError)
    if op is not None and not _OPS[op](value, bound):
        fail(owner, name, f"an int {op} {bound}", value)
    return value


@overload
def check_type(owner: str, name: str, value: Any, types: type[T]) -> T: ...
@overload
def check_type(owner: str, name: str, value: Any, types: tuple[type, ...]) -> Any: ...
def check_type(owner: str, name: str, value: Any, types: type | tuple[type, ...]) -> Any:
    """Check ``isinstance(value, types)``; raise `TypeError` naming the expected type(s)."""
    if not isinstance(value, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        fail(owner, name, f"of type {names}", f"{type(value).__name__} {_fmt(value)}", TypeError)
    return value


def check_floating(owner: str, x: Any) -> None:
    """An activation's input is a floating-point tensor; integers and booleans raise `TypeError` naming the dtype.

    Not promoted: an integer input is almost always a mistake upstream (labels or indices fed as
    features), and the noisy units would otherwise round their noise away and return the
    input's dtype (``noisy_sigmoid([1, -2, 3])`` gave ``[0, 0, 0]``).
    """
    if isinstance(x, torch.Tensor) and not x.is_floating_point():
        fail(owner, "input", "a floating-point tensor (float16/bfloat16/float32/float64)", x.dtype, TypeError)


def suggest(value: str, choices: Iterable[str]) -> str:
    """Return a "did you mean" phrase for ``value`` among ``choices`` (empty when nothing is close)."""
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def check_choice(owner: str, name: str, value: Any, choices: Sequence[str]) -> Any:
    """Check that ``value`` is one of ``choices``, suggesting close matches when it is not."""
    if value not in choices:
        hint = suggest(value, choices) if isinstance(value, str) else ""
        fail(owner, name, f"one of {', '.join(map(repr, choices))}{hint}", value)
    return value


def check_shape(owner: str, name: str, shape: Sequence[int], expected: Sequence[int | None]) -> None:
    """Check a tensor shape against ``expected`` where ``None`` matches any size."""
    shape = tuple(shape)
    ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        fail(owner, name, f"of shape {want}", tuple(shape))
