"""Fused elementwise kernels for eager callers, one implementation for every path.

An activation written as a chain of torch ops costs one memory pass (and one saved tensor)
per op in eager mode: TERELU's ten ops run ~40x slower than `torch.relu` at 16M elements.
`fused` compiles the *same* Python function with Inductor the first time it sees a large
input, which yields one forward kernel, one backward kernel and only the inputs saved for
backward (AOTAutograd's partitioner recomputes the rest). Small inputs, code already being
traced (`torch.compile`, `torch.export`, ONNX export) and machines where Inductor cannot build
run the function as plain torch ops: the math is the same function either way.
"""

from __future__ import annotations

import functools
import types
import warnings
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import torch

__all__ = ["FUSE_MIN_NUMEL", "code_clone", "fused"]

F = TypeVar("F", bound=Callable[..., torch.Tensor])

# Below this size kernel-launch and guard overheads beat fusion, and compiling would slow the
# first call of small models (and of the test-suite) for nothing.
FUSE_MIN_NUMEL = 1 << 16


def _static_key(value: Any) -> Hashable:
    """What Dynamo would guard on for one argument: tensor dtype/rank/device/grad, literal values.

    Python floats are left out: under ``dynamic=True`` they are symbols, so a new value must not
    start a new compilation.
    """
    if isinstance(value, torch.Tensor):
        return ("tensor", value.dtype, value.dim(), value.device.type, value.requires_grad)
    if isinstance(value, float):
        return ("float",)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *(_static_key(v) for v in value))
    try:
        hash(value)
    except TypeError:  # e.g. a dict of options: Dynamo guards on its contents, so key on them too
        return ("repr", type(value).__name__, repr(value))
    return ("value", type(value).__name__, value)


def code_clone(fn: Callable[..., Any]) -> Callable[..., Any]:
    # Dynamo keys its cache and its recompile limit (8) on the code object; a copy per static
    # configuration gives each configuration its own entry instead of sharing one budget.
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


def fused(fn: F) -> F:
    """Decorate a pure elementwise function ``fn(x, *args)`` so eager calls on large ``x`` run fused.

    Pass hyperparameters as Python floats: dynamic compilation treats them as symbols, so a new
    value does not trigger a recompile. Every other static configuration (tensor dtypes and
    ranks, grad mode, ints, bools, strings) gets its own compiled copy of ``fn``, so a process
    that uses many configurations never exhausts Dynamo's per-function recompile limit. The first
    large call of a configuration compiles (seconds; cached on disk by Inductor afterwards); a
    failure to compile warns once and falls back to plain torch ops for that configuration.
    """
    compiled: dict[Hashable, Callable[..., torch.Tensor]] = {}

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, /, *args, **kwargs) -> torch.Tensor:
        if torch.compiler.is_compiling() or x.numel() < FUSE_MIN_NUMEL or x.device.type not in ("cpu", "cuda"):
            return fn(x, *args, **kwargs)
        if not torch.is_grad_enabled():
            # An inference call (e.g. inside an autograd.Function): compile it from detached views.
            # A tensor with autograd history, such as the output of a Linear, would make Dynamo
            # read its `.grad` while building guards, which warns for non-leaf tensors.
            x, args = x.detach(), tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
            kwargs = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
        key = (torch.is_grad_enabled(), _static_key(x), _static_key(args), _static_key(tuple(sorted(kwargs.items()))))
        kernel = compiled.get(key)
        if kernel is None:
            kernel = compiled[key] = torch.compile(code_clone(fn), dynamic=True, fullgraph=True)
        try:
            return kernel(x, *args, **kwargs)
        except Exception as exc:
            warnings.warn(
                f"actlab: could not build a fused kernel for {fn.__name__} ({type(exc).__name__}: {exc}); "
                "running it as plain torch ops",
                RuntimeWarning,
                stacklevel=2,
            )
            compiled[key] = fn
            return fn(x, *args, **kwargs)

    wrapper.unfused = fn  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
