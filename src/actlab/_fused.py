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
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["FUSE_MIN_NUMEL", "fused"]

F = TypeVar("F", bound=Callable[..., torch.Tensor])

# Below this size kernel-launch and guard overheads beat fusion, and compiling would slow the
# first call of small models (and of the test-suite) for nothing.
FUSE_MIN_NUMEL = 1 << 16


def fused(fn: F) -> F:
    """Decorate a pure elementwise function ``fn(x, *args)`` so eager calls on large ``x`` run fused.

    Pass hyperparameters as Python floats: dynamic compilation treats them as symbols, so a new
    value does not trigger a recompile. The first large call compiles (seconds; cached on disk
    by Inductor afterwards); a failure to compile warns once and falls back to plain torch ops.
    """
    compiled: Callable[..., torch.Tensor] | None = None

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, /, *args, **kwargs) -> torch.Tensor:
        nonlocal compiled
        if torch.compiler.is_compiling() or x.numel() < FUSE_MIN_NUMEL or x.device.type not in ("cpu", "cuda"):
            return fn(x, *args, **kwargs)
        if compiled is None:
            compiled = torch.compile(fn, dynamic=True, fullgraph=True)
        try:
            return compiled(x, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any Inductor/toolchain failure: same math, unfused
            warnings.warn(
                f"actlab: could not build a fused kernel for {fn.__name__} ({type(exc).__name__}: {exc}); "
                "running it as plain torch ops",
                RuntimeWarning,
                stacklevel=2,
            )
            compiled = fn
            return fn(x, *args, **kwargs)

    wrapper.unfused = fn  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
