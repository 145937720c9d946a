"""Fused elementwise kernels for eager callers, one implementation for every path.

An activation written as a chain of torch ops costs one memory pass (and one saved tensor)
per op in eager mode: TERELU's ten ops run ~40x slower than `torch.relu` at 16M elements.
`fused` compiles the *same* Python function with Inductor the first time it sees a large
input, which yields one forward kernel, one backward kernel and only the inputs saved for
backward (AOTAutograd's partitioner recomputes the rest). Small inputs, code already being
traced (`torch.compile`, `torch.export`, ONNX export) and machines where Inductor cannot build
run the function as plain torch ops: the math is the same function either way.

`fused_function` ties a fused forward and a fused, hand-derived backward into a
`torch.autograd.Function` that saves only the inputs, the plumbing every elementwise family
would otherwise write by hand.
"""

from __future__ import annotations

import functools
import types
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import torch

__all__ = ["FUSE_MIN_NUMEL", "code_clone", "fused", "fused_function"]

# Any return: a fused backward returns a tuple of gradients, not one tensor.
F = TypeVar("F", bound=Callable[..., Any])

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
    compiled: dict[Hashable, Callable[..., Any]] = {}

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, /, *args: Any, **kwargs: Any) -> Any:
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


def fused_function(
    name: str,
    forward: Callable[..., torch.Tensor],
    backward: Callable[..., tuple[torch.Tensor | None, ...]],
    *,
    params: Sequence[int] = (),
    need_x: bool = False,
    forward_args: int | None = None,
    once_differentiable: bool = False,
    doc: str | None = None,
) -> type[torch.autograd.Function]:
    """Build the `torch.autograd.Function` subclass ``name`` from a fused forward and backward.

    Autograd of an elementwise chain of torch ops saves one tensor per op and runs one memory
    pass per op; and letting `torch.compile` differentiate a forward with hyperparameters as
    dynamic scalars gives slow backward kernels (docs/DEVELOPING.md, "Fast paths"). So each
    family writes its math twice, as two `fused` pure functions, and this helper writes the
    Function between them, which used to be ~30 lines of hand-written plumbing per family:

    - ``Function.apply(x, *args)`` returns ``forward(x, *args)`` (or, with ``forward_args=n``,
      ``forward`` of the first ``n`` inputs: the rest, such as an STE choice, are options of
      the backward alone and must not give the forward a compiled copy each); nothing but the inputs is
      saved: ``x`` and every tensor in ``args`` (in order) go to ``save_for_backward``, the
      other arguments are kept on ``ctx`` as they are.
    - The backward calls ``backward(g, x, *args, [need_x,] *shapes)`` and expects
      ``(grad_x, *param_grads)``. ``shapes`` has one entry per position in ``params`` (the
      arguments that may carry a gradient: tensors broadcast against ``x``): the shape to
      reduce that gradient to with ``sum_to_size`` in the same pass, or ``None`` when it is a
      float or needs no gradient (the backward then returns ``None`` for it). With
      ``need_x=True`` the backward also gets whether ``x`` needs a gradient, so a kernel can
      skip the input gradient (and return ``None`` for it).
    - Double backward: with ``create_graph=True`` the backward runs with grad enabled and
      ``fused`` runs it as plain differentiable torch ops, so autograd differentiates the
      backward itself (write it in differentiable ops). ``once_differentiable=True`` refuses
      that instead, for straight-through estimators whose second derivative means nothing.

    The class is built with ``type`` so that its name, and the grad_fn name autograd derives
    from it (``<name>Backward``), are those of a hand-written class. It uses the ``forward`` +
    ``setup_context`` form, the one `torch.func` transforms accept.
    """
    positions = tuple(params)

    def forward_(*inputs: Any) -> torch.Tensor:
        # `fused` runs this inference call from detached views (no `.grad` reads while tracing).
        return forward(*inputs[:forward_args])

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.tensor_at = tuple(isinstance(v, torch.Tensor) for v in inputs)
        ctx.constants = tuple(None if t else v for t, v in zip(ctx.tensor_at, inputs))
        ctx.save_for_backward(*(v for t, v in zip(ctx.tensor_at, inputs) if t))

    def backward_(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = iter(ctx.saved_tensors)
        inputs = [next(saved) if t else c for t, c in zip(ctx.tensor_at, ctx.constants)]
        needs = ctx.needs_input_grad
        shapes = [tuple(inputs[i].shape) if ctx.tensor_at[i] and needs[i] else None for i in positions]
        flags = (needs[0],) if need_x else ()
        # With create_graph=True this call keeps its graph; otherwise `fused` runs it detached.
        grad_x, *param_grads = backward(g, *inputs, *flags, *shapes)
        grads: list[torch.Tensor | None] = [None] * len(inputs)
        grads[0] = grad_x
        for i, grad in zip(positions, param_grads):
            grads[i] = grad
        return tuple(grads)

    backward_fn = torch.autograd.function.once_differentiable(backward_) if once_differentiable else backward_
    namespace = {
        "__doc__": doc,
        "__module__": forward.__module__,
        "__qualname__": name,
        "forward": staticmethod(forward_),
        "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward_fn),
    }
    return type(name, (torch.autograd.Function,), namespace)
