"""Safe parsing of activation spec strings such as ``"slaf(degree=4, init='gelu')"``.

Only a name, optionally called with keyword (or positional) *literal* arguments, is accepted:
numbers, strings, booleans, ``None`` and tuples/lists of those. Nothing is evaluated.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

__all__ = ["parse_spec"]


def _literal(node: ast.AST, text: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ValueError(
            f"spec {text!r}: argument {ast.unparse(node)!r} is not a literal (numbers, strings, booleans, None, tuples)"
        ) from None
    if isinstance(value, (dict, set, bytes, complex)):
        raise ValueError(f"spec {text!r}: argument {ast.unparse(node)!r} has unsupported type {type(value).__name__}")
    _check_ints(value, node, text)
    return value


def _check_ints(value: Any, node: ast.AST, text: str) -> None:
    # A 400-digit integer would overflow at its first use as a float (OverflowError, far from the spec).
    if isinstance(value, (tuple, list)):
        for v in value:
            _check_ints(v, node, text)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
        raise ValueError(f"spec {text!r}: argument {ast.unparse(node)[:40]!r}... is an integer beyond the float range")


_FLOAT_MAX = int(sys.float_info.max)


def parse_spec(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """Split a spec string into ``(name, args, kwargs)``.

    Examples:
        >>> parse_spec("relu")
        ('relu', (), {})
        >>> parse_spec("noisy_hard_tanh(c=0.5, learn_p=True)")
        ('noisy_hard_tanh', (), {'c': 0.5, 'learn_p': True})
        >>> parse_spec("quantize(range=(-1, 1))")
        ('quantize', (), {'range': (-1, 1)})
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"spec must be a non-empty string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"spec {text!r} is not of the form name or name(key=value, ...): {exc.msg}") from None
    body = tree.body
    if isinstance(body, ast.Name):
        return body.id, (), {}
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name):
        if any(isinstance(a, ast.Starred) for a in body.args) or any(k.arg is None for k in body.keywords):
            raise ValueError(f"spec {text!r}: *args/**kwargs are not allowed")
        args = tuple(_literal(a, text) for a in body.args)
        names = [str(k.arg) for k in body.keywords]  # k.arg is not None: checked above
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:  # Python's parser accepts f(a=1, a=2); the last would silently win
            raise ValueError(f"spec {text!r}: keyword argument repeated: {', '.join(repeated)}")
        kwargs = {n: _literal(k.value, text) for n, k in zip(names, body.keywords)}
        return body.func.id, args, kwargs
    raise ValueError(f"spec {text!r} is not of the form name or name(key=value, ...)")
