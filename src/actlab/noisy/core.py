r"""What the noisy units share (Gulcehre et al., 2016): the fused kernels, their dispatch, the base module.

A noisy unit is a saturating function ``h`` with its linearisation ``u`` (first-order Taylor
expansion at 0) and :math:`\Delta = h - u`, zero where a hard ``h`` is linear. Its math is one
``*_parts`` function in `actlab.noisy.parts` that returns the output *and its two partial
derivatives*, per mode: output noise (NAN, `actlab.noisy.output`), actlab's input-noise variant
(`actlab.noisy.input`) and the official code's three input-noise units (`actlab.noisy.nani`).
The C kernel covers the first two; the official input-noise units run as fused torch ops.

Speed and memory. In training the forward kernel draws the noise (`actlab.noisy.noise`)
and writes ``y``, :math:`\partial y/\partial x` and, when ``p`` is learned,
:math:`\partial y/\partial p`; the backward is ``g * dy/dx`` and a per-channel sum of
``g * dy/dp`` (float32 on CPU: a C kernel, `actlab/noisy/noisy.c`, for one ``p`` or one per
channel, and for large inputs with a fixed ``p``), so the noise is drawn once and the costly
parts (the draw, ``sigmoid``) run once. What is saved is the input-sized slope (and the ``p``
slope that stands in for the noise draw), never ``x``. Second derivatives through a
training-mode unit are refused (the saved slopes are constants). In eval mode (deterministic)
only ``x`` is saved and the slopes are recomputed in backward from differentiable ops, so double
backward works there.

Dispatch. The C kernels are the operators ``actlab::noisy_forward`` and ``actlab::noisy_backward``
(`torch.library`, with fake implementations and the forward's autograd registered), so under
`torch.compile` the kernel is one node of the graph rather than bypassed. Where the kernel does
not apply (dtype, device, soft units, eval mode, no C compiler) the same function runs as fused
torch ops inside `_NoisyFunction`, which Dynamo traces.
"""

from __future__ import annotations

import ctypes
import functools
import math

import torch
from torch import Tensor, nn

from actlab.core import native as _native
from actlab.core.fused import fused
from actlab.core.validation import check_bound, check_finite, check_floating, check_int, check_type, fail
from actlab.noisy import noise as _noise
from actlab.noisy.noise import draw_key, standard_normal
from actlab.noisy.parts import _HARD_LO, PARTS as _PARTS, UNITS, unit_parts

__all__ = ["HALF_NORMAL_MEAN", "P_INIT_UNIFORM", "PAPER", "UNITS", "NoisyActivation", "apply_noisy", "unit_parts"]

PAPER = "Gulcehre, Moczulski, Denil, Bengio, 'Noisy Activation Functions', ICML 2016, arXiv:1603.00391"

#: ``E|xi|`` for a standard normal ``xi``: the test-time value of half-normal noise.
HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)


@fused
def _forward(
    x: Tensor, p: Tensor, c: Tensor, key: Tensor | None, alpha: float, unit: str, mode: str, half: bool, slopes: int
) -> tuple[Tensor, ...]:
    """``y`` and the first ``slopes`` of ``(dy/dx, dy/dp)``; ``dy/dp`` stays in ``p``'s dtype.

    ``dy/dp`` is summed over the whole input in backward: rounding each term to a bfloat16
    input's precision moved the ``p`` gradient by ~0.4%.
    """
    xo = x.to(p.dtype)
    xi: Tensor | float
    if key is not None:
        xi = standard_normal(xo, key, half=half).to(p.dtype)
    else:
        xi = HALF_NORMAL_MEAN if half else 0.0
    y, dydx, dydp = _PARTS[mode](xo, xi, p, c, alpha, unit)
    return (y.to(x.dtype), dydx.to(x.dtype), dydp)[: 1 + slopes]


#: units and modes of the C kernel (actlab/noisy/noisy.c), by its integer codes
_NATIVE_UNITS = {"hard_tanh": 0, "hard_sigmoid": 1}
_NATIVE_MODES = {"nan": 0, "nani": 1}
# rows of at least this many elements per channel take one p per row; shorter ones an expanded p row
_NATIVE_ROW_MIN = 64
# smaller inputs take the fused backward, whose fixed per-call cost is lower: 24 against 28 us at
# 8192 elements, 34 against 25 us at 32768 (and 125 against 37 us at 65536, where threads start)
_NATIVE_BACKWARD_MIN = 1 << 14
# from this many elements (16 MiB of float32) the backward streams its gradient past the caches;
# below, its reader may still find it in cache (measured with a reader: 1M elements 0.50 against
# 0.23 ms; 4M 5.3 against 5.8 ms; 16M 16.6 against 18.5 ms). It is also the size from which a
# fixed p's backward runs in C (otherwise the same multiply as ATen's).
_NATIVE_STREAM_MIN = 1 << 22


def _native_walk(p: Tensor, x: Tensor) -> tuple[int, int, int, int]:
    """``(rows, row_len, pmode, channels)``: how the C kernel walks ``x`` for a ``p`` that broadcasts to it.

    pmode 0: one ``p``; 1: ``p[row % channels]`` per row (channels at dim 1, long rows);
    2: a ``p`` per element of a row, repeated for every row (``p`` expanded over the trailing dims).
    """
    n = x.numel()
    if p.numel() == 1:
        return 1, n, 0, 1
    shape, lead = _p_lead(p, x)
    rows = math.prod(x.shape[:lead])
    channel_vector = lead == 1 and all(s == 1 for s in shape[2:])
    inner = math.prod(x.shape[2:])
    if channel_vector and inner >= _NATIVE_ROW_MIN:
        return rows * x.shape[1], inner, 1, x.shape[1]
    return rows, math.prod(x.shape[lead:]), 2, 1


def _native_p_buffer(p: Tensor, x: Tensor, pmode: int) -> Tensor:
    """``p`` as the kernel reads it for `_native_walk`'s ``pmode``: contiguous, expanded over a row for pmode 2."""
    if pmode < 2:
        return p.reshape(-1).contiguous()
    shape, lead = _p_lead(p, x)
    return p.reshape(shape[lead:]).expand(x.shape[lead:]).contiguous()


def _p_lead(p: Tensor, x: Tensor) -> tuple[tuple[int, ...], int]:
    """``p``'s shape aligned to ``x``'s dims, and its first dim that is not 1 (``p`` has more than one element)."""
    shape = (1,) * (x.dim() - p.dim()) + tuple(p.shape)
    return shape, next(i for i, s in enumerate(shape) if s != 1)


# The C kernel's sigmoid: sigmoid(z) - 1/2 = tanh(z/2) / 2, tanh(v) = v P(v^2) / Q(v^2) on
# |v| <= _TANH_CLAMP (where float32 tanh reaches 1), lowest power first (noisy.c, sigmoid_centered).
_TANH_P = (
    0.9999999691529429,
    0.12858165982351827,
    0.0028492681159516036,
    8.396915233606086e-06,
    -8.236814710051244e-09,
    -1.1210341058053129e-11,
    1.022764161103097e-13,
)
_TANH_Q = (1.0, 0.461914710896255, 0.023487940500985852, 0.0002170315352655094)
_TANH_CLAMP = 7.90531110763549805


@functools.cache  # every call of the kernel looks the library up by its source, header included
def _native_header() -> str:
    """The C kernel's numeric constants as ``#define`` lines, generated from their Python definition."""

    def f32(v: float) -> str:
        return f"({float(v)!r}f)"

    names: dict[str, str] = {"LN2": f32(_noise._LN2), "TWO_THIRDS_BITS": hex(_noise._TWO_THIRDS_BITS)}
    names |= {f"MIX_M{i + 1}": f"{hex(m)}u" for i, m in enumerate(_noise._MIX_MUL)}
    for prefix, coeffs in (
        ("LOG1P_Q", _noise._LOG1P_Q),
        ("SIN_S", _noise._SIN_S),
        ("TANH_P", _TANH_P),
        ("TANH_Q", _TANH_Q),
    ):
        names |= {f"{prefix}{i}": f32(v) for i, v in enumerate(coeffs)}
    names["TANH_CLAMP"] = f32(_TANH_CLAMP)
    for unit, short in (("hard_tanh", "HTANH"), ("hard_sigmoid", "HSIG")):
        k, b = UNITS[unit]
        names |= {f"{short}_K": f32(k), f"{short}_B": f32(b), f"{short}_LO": f32(_HARD_LO[unit])}
    return "".join(f"#define {name} {value}\n" for name, value in names.items())


#: whether the C kernel may run; tests set it False (a fixture) to run the torch-op path alone
_NATIVE = True


def _native_lib():
    if not _NATIVE:
        return None
    lib = _native.load("actlab.noisy", "noisy", header=_native_header())
    if lib is not None and lib.actlab_noisy_forward.argtypes is None:
        ptr, i64, i32, f32, u32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_float, ctypes.c_uint32
        lib.actlab_noisy_forward.argtypes = [
            ptr,
            ptr,
            ptr,
            ptr,
            i64,
            i64,
            ptr,
            i32,
            i64,
            i32,
            i32,
            i32,
            f32,
            f32,
            u32,
            u32,
            i32,
            i32,
        ]
        lib.actlab_noisy_backward.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i32, i64, i32, i32]
        lib.actlab_noisy_forward.restype = lib.actlab_noisy_backward.restype = i32
    return lib


def _native_kernel():
    lib = _native_lib()
    return None if lib is None else lib.actlab_noisy_forward


def _native_built() -> bool:
    # Under torch.compile the ops go into the graph without asking: building the library is not
    # traceable, and their implementations fall back to the same function as torch ops where it
    # cannot be built. (Not `assume_constant_result`: it imports Dynamo, 1.7 s, at `import actlab`.)
    return torch.compiler.is_compiling() or _native_lib() is not None


def _native_applies(x: Tensor, p: Tensor, c: Tensor, key: Tensor | None, unit: str, mode: str) -> bool:
    """Whether the C kernel computes the training forward of ``unit`` in ``mode`` on these arguments.

    It covers float32 CPU inputs with one ``c`` and any float32 ``p`` that broadcasts to the input
    (one value, per channel, per element); everything else and a machine without a C compiler
    take `_forward`, the same function as torch ops.
    """
    return (
        key is not None
        and unit in _NATIVE_UNITS
        and mode in _NATIVE_MODES
        and x.dtype == torch.float32
        and p.dtype == torch.float32
        and x.device.type == "cpu"
        and c.numel() == 1
        and _NATIVE
        and _native_built()
    )


# The C kernels as torch.library operators: under torch.compile they are single nodes of the
# graph (Inductor calls them; their fake implementations give it the output shapes), and their
# autograd is registered with the op instead of wrapped around it. Every output is a fresh
# contiguous tensor; slopes that are not asked for come back empty, so the schema is fixed.
# Defined with Library.define + impl rather than the custom_op decorator: its kernel wrapper
# (aliasing checks, a Dynamo-disable frame) cost ~16 us more per training step at 8192 elements.
_LIB = torch.library.Library("actlab", "FRAGMENT")  # kept alive: dropping it drops the registrations
_LIB.define(
    "noisy_forward(Tensor x, Tensor p, Tensor c, Tensor key, float alpha, str unit, str mode, bool half, "
    "int slopes) -> (Tensor, Tensor, Tensor)"
)
_LIB.define("noisy_backward(Tensor g, Tensor dydx, Tensor? dydp, Tensor p) -> (Tensor, Tensor)")


def _noisy_forward_cpu(
    x: Tensor, p: Tensor, c: Tensor, key: Tensor, alpha: float, unit: str, mode: str, half: bool, slopes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """``(y, dy/dx, dy/dp)`` of a hard unit's training forward by the C kernel (`_native_applies`)."""
    x = x.contiguous()
    kernel = _native_kernel()
    if kernel is None:  # the op called directly where the kernel cannot be built: same function
        outs = [t.contiguous() for t in _forward(x, p, c, key, alpha, unit, mode, half, slopes)]
        return (*outs, *(x.new_empty(0) for _ in range(2 - slopes)))  # type: ignore[return-value]
    rows, row_len, pmode, channels = _native_walk(p, x)
    pbuf = _native_p_buffer(p, x, pmode)  # below autograd: no graph
    outs = [x.new_empty(x.shape) for _ in range(1 + slopes)]
    ptr = [t.data_ptr() for t in outs] + [None] * (2 - slopes)
    key_a, key_b = (int(k) & 0xFFFFFFFF for k in key.tolist())
    status = kernel(
        x.data_ptr(),
        *ptr,
        rows,
        row_len,
        pbuf.data_ptr(),
        pmode,
        channels,
        _NATIVE_UNITS[unit],
        _NATIVE_MODES[mode],
        int(half),
        float(c),
        alpha,
        key_a,
        key_b,
        slopes,
        torch.get_num_threads(),
    )
    if status != 0:
        raise RuntimeError(f"noisy activation: the C kernel rejected its arguments (status {status})")
    return (*outs, *(x.new_empty(0) for _ in range(2 - slopes)))  # type: ignore[return-value]


@torch.library.register_fake("actlab::noisy_forward", lib=_LIB)
def _(x, p, c, key, alpha, unit, mode, half, slopes):
    return (*(x.new_empty(x.shape) for _ in range(1 + slopes)), *(x.new_empty(0) for _ in range(2 - slopes)))


def _noisy_backward_cpu(g: Tensor, dydx: Tensor, dydp: Tensor | None, p: Tensor) -> tuple[Tensor, Tensor]:
    """``(g * dy/dx, the p gradient)`` by the C backward; the p gradient is empty without ``dy/dp``."""
    lib = _native_lib()
    n = dydx.numel()
    # without sums the walk only splits the work: one row
    rows, row_len, pmode, channels = _native_walk(p, dydx) if dydp is not None else (1, n, 0, 1)
    if lib is None or pmode == 2:  # the op called directly where the C backward does not apply
        grad_x, grad_p = _grads(g, dydx, dydp, p, tuple(p.shape) if dydp is not None else None)
        return grad_x.contiguous(), (grad_p if grad_p is not None else g.new_empty(0))
    g = g.contiguous()
    grad_x = dydx.new_empty(dydx.shape)
    grad_p = p.new_empty(p.shape) if dydp is not None else g.new_empty(0)
    status = lib.actlab_noisy_backward(
        g.data_ptr(),
        dydx.data_ptr(),
        None if dydp is None else dydp.data_ptr(),
        grad_x.data_ptr(),
        None if dydp is None else grad_p.data_ptr(),
        rows,
        row_len,
        pmode,
        channels,
        int(n >= _NATIVE_STREAM_MIN),
        torch.get_num_threads(),
    )
    if status != 0:
        raise RuntimeError(f"noisy activation: the C backward failed (status {status})")
    return grad_x, grad_p


@torch.library.register_fake("actlab::noisy_backward", lib=_LIB)
def _(g, dydx, dydp, p):
    return dydx.new_empty(dydx.shape), (p.new_empty(p.shape) if dydp is not None else g.new_empty(0))


_LIB.impl("noisy_forward", _noisy_forward_cpu, "CPU")
_LIB.impl("noisy_backward", _noisy_backward_cpu, "CPU")
_noisy_forward_op = torch.ops.actlab.noisy_forward.default
_noisy_backward_op = torch.ops.actlab.noisy_backward.default


def _native_forward(
    x: Tensor, p: Tensor, c: Tensor, key: Tensor | None, alpha: float, unit: str, mode: str, half: bool, slopes: int
) -> tuple[Tensor, ...] | None:
    """The training forward of a hard unit by the C kernel (its custom op), or None where it does not apply."""
    if key is None or not _native_applies(x, p, c, key, unit, mode):
        return None
    return _noisy_forward_op(x, p, c, key, alpha, unit, mode, half, slopes)[: 1 + slopes]


def _native_backward(
    g: Tensor, dydx: Tensor, dydp: Tensor | None, p: Tensor, p_shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor | None] | None:
    """``(g * dy/dx, the p gradient or None)`` by the C backward (its custom op), or None where it does not apply.

    It covers float32 CPU slopes from the forward kernel with one ``p`` or one per channel:
    with ``dy/dp`` from `_NATIVE_BACKWARD_MIN` elements, without from `_NATIVE_STREAM_MIN` (where
    its streamed stores beat ATen's multiply). The p gradient is summed in float64 per work item
    of the forward's walk (`_native_walk`) and over the items in a fixed order, so it does not
    depend on the thread count.
    """
    n, slopes = dydx.numel(), (dydx,) if dydp is None else (dydx, dydp)
    if (
        n < (_NATIVE_BACKWARD_MIN if dydp is not None else _NATIVE_STREAM_MIN)
        or g.dtype != torch.float32
        or p.dtype != torch.float32
        or g.device.type != "cpu"
        or any(s.dtype != torch.float32 or not s.is_contiguous() for s in slopes)
        or (dydp is not None and _native_walk(p, dydx)[2] == 2)  # a p per element of a row: the fused reduction
        or not (_NATIVE and _native_built())
    ):
        return None
    grad_x, grad_p = _noisy_backward_op(g, dydx, dydp, p)
    return grad_x, (grad_p if dydp is not None else None)


def _grads(
    g: Tensor, dydx: Tensor, dydp: Tensor | None, p: Tensor, p_shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor | None]:
    # The p gradient is a sum over the whole input: accumulate it in p's dtype (float32 for a
    # bfloat16 input), not in the input's. Callers pass both dydp and p_shape or neither.
    grad_p = (g.to(p.dtype) * dydp).sum_to_size(p_shape) if dydp is not None and p_shape is not None else None
    return g * dydx, grad_p


_backward_saved = fused(_grads)


@fused
def _backward_eval(
    g: Tensor,
    x: Tensor,
    p: Tensor,
    c: Tensor,
    alpha: float,
    unit: str,
    mode: str,
    half: bool,
    p_shape: tuple[int, ...] | None,
) -> tuple[Tensor, Tensor | None]:
    _, dydx, dydp = _PARTS[mode](x.to(p.dtype), HALF_NORMAL_MEAN if half else 0.0, p, c, alpha, unit)
    grad_x, grad_p = _grads(g.to(p.dtype), dydx, dydp, p, p_shape)
    return grad_x.to(g.dtype), grad_p


_NO_SECOND_DERIVATIVE = (
    "noisy activation: second derivatives through a training-mode noisy unit are not "
    "supported (its backward multiplies by slopes saved with the noise); "
    "use eval mode for double backward"
)


def _backward_training(
    g: Tensor, dydx: Tensor, dydp: Tensor | None, p: Tensor, p_shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor | None]:
    """``(grad_x, grad_p)`` from the slopes saved in training: the C backward where it applies, else fused ops."""
    if torch.is_grad_enabled():  # create_graph=True: a second derivative through constants would be wrong
        raise RuntimeError(_NO_SECOND_DERIVATIVE)
    if dydp is None or p_shape is None:  # fixed p: one multiply, which ATen runs ~15% faster than Inductor
        out = _native_backward(g, dydx, None, p, None)  # large inputs: streamed stores
        return (out[0] if out is not None else g * dydx), None
    out = _native_backward(g, dydx, dydp, p, p_shape)
    return out if out is not None else _backward_saved(g, dydx, dydp, p, p_shape)


def _op_setup_context(ctx, inputs, output) -> None:
    p, slopes = inputs[1], inputs[8]
    ctx.mark_non_differentiable(*output[1:])
    ctx.set_materialize_grads(False)  # no zero-filled gradients for the slope outputs
    ctx.slopes = slopes
    ctx.save_for_backward(p, output[1], output[2] if slopes == 2 else None)


def _op_backward(ctx, g, *_):
    if g is None:  # y unused (only reachable through the non-differentiable slope outputs)
        return (None,) * 9
    if ctx.slopes == 0:  # apply_noisy asks for slopes whenever a gradient is wanted
        raise RuntimeError("actlab::noisy_forward: `slopes` must be >= 1 to differentiate, got 0")
    p, dydx, dydp = ctx.saved_tensors
    p_shape = tuple(p.shape) if ctx.needs_input_grad[1] else None
    grad_x, grad_p = _backward_training(g, dydx, dydp, p, p_shape)
    return grad_x, grad_p, None, None, None, None, None, None, None


torch.library.register_autograd("actlab::noisy_forward", _op_backward, setup_context=_op_setup_context, lib=_LIB)


class _NoisyFunction(torch.autograd.Function):
    """A noisy unit as fused torch ops, where the C kernel does not apply; see the module docstring for what is saved.

    Checked against autograd of the paper's formula with the same noise (tests/test_noisy.py).
    """

    @staticmethod
    def forward(x, p, c, key, alpha, unit, mode, half, slopes):
        return _forward(x, p, c, key, alpha, unit, mode, half, slopes)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, p, c, key, alpha, unit, mode, half, slopes = inputs
        ctx.alpha, ctx.unit, ctx.mode, ctx.half, ctx.training = alpha, unit, mode, half, key is not None
        ctx.mark_non_differentiable(*output[1:])
        ctx.set_materialize_grads(False)  # no zero-filled gradients for the slope outputs
        if ctx.training:
            ctx.save_for_backward(p, *output[1:])
        else:
            ctx.save_for_backward(p, x, c)

    @staticmethod
    def backward(ctx, g, *_):
        if g is None:  # y unused (only reachable through the non-differentiable slope outputs)
            return (None,) * 9
        p, *saved = ctx.saved_tensors
        p_shape = tuple(p.shape) if ctx.needs_input_grad[1] else None
        if not ctx.training:
            x, c = saved
            grad_x, grad_p = _backward_eval(g, x, p, c, ctx.alpha, ctx.unit, ctx.mode, ctx.half, p_shape)
        else:
            dydx, *dydp = saved
            grad_x, grad_p = _backward_training(g, dydx, dydp[0] if dydp else None, p, p_shape)
        return grad_x, grad_p, None, None, None, None, None, None, None


def as_tensor(value: float | Tensor, x: Tensor) -> Tensor:
    dtype = torch.promote_types(x.dtype, torch.float32)
    if isinstance(value, Tensor):
        return value.to(dtype)
    return torch.tensor(value, dtype=dtype, device=x.device)


def check_p(owner: str, p: float | Tensor, x: Tensor) -> None:
    """A float ``p`` must be finite; a tensor ``p`` must broadcast to ``x`` without growing it."""
    if not isinstance(p, Tensor):
        check_finite(owner, "p", p)
        return
    ok = p.dim() <= x.dim() and all(a in (1, b) for a, b in zip(reversed(p.shape), reversed(x.shape)))
    if not ok:
        fail(owner, "p", f"broadcastable to the input's shape {tuple(x.shape)}", tuple(p.shape))


def check_common(owner: str, c: float) -> None:
    check_finite(owner, "c", c)
    check_bound(owner, "c", c, ">", 0)


def apply_noisy(
    owner: str,
    x: Tensor,
    *,
    unit: str,
    mode: str,
    training: bool,
    alpha: float,
    c: float | Tensor,
    p: float | Tensor,
    half_normal: bool,
    generator: torch.Generator | None,
) -> Tensor:
    """Validate the arguments of a noisy functional and run its unit (``mode`` ``"nan"`` or ``"nani"``)."""
    check_floating(owner, x)
    check_finite(owner, "alpha", alpha)
    if not isinstance(c, Tensor):
        check_common(owner, c)
    check_p(owner, p, x)
    check_type(owner, "training", training, bool)
    check_type(owner, "half_normal", half_normal, bool)
    key = draw_key(owner, x, generator) if training else None
    pt, ct = as_tensor(p, x), as_tensor(c, x)
    grad = torch.is_grad_enabled() and (x.requires_grad or pt.requires_grad)
    # Training saves the slopes; eval saves x and recomputes them (deterministic, double-differentiable).
    slopes = (2 if pt.requires_grad else 1) if training and grad else 0
    if key is not None and _native_applies(x, pt, ct, key, unit, mode):
        return _noisy_forward_op(x, pt, ct, key, float(alpha), unit, mode, half_normal, slopes)[0]
    if not grad:
        return _forward(x, pt, ct, key, float(alpha), unit, mode, half_normal, 0)[0]
    return _NoisyFunction.apply(x, pt, ct, key, float(alpha), unit, mode, half_normal, slopes)[0]


def check_channels(owner: str, num_parameters: int, x: Tensor) -> None:
    # Channels at dim 1, or dim 0 of a 1-D input (as `channel_view` and `torch.nn.PReLU` do).
    if num_parameters > 1 and (x.dim() == 0 or x.shape[min(1, x.dim() - 1)] != num_parameters):
        got = tuple(x.shape)
        fail(owner, "input", f"of shape (N, {num_parameters}, *) for num_parameters={num_parameters}", got)


#: the ``p_init`` that draws ``p`` uniformly in [-1, 1], as the official code initialises its learned ``p``
P_INIT_UNIFORM = "uniform"


def check_p_init(owner: str, p_init: float | str) -> None:
    """``p_init`` is a finite number or ``"uniform"``."""
    if isinstance(p_init, str):
        if p_init != P_INIT_UNIFORM:
            fail(owner, "p_init", f"a finite number or {P_INIT_UNIFORM!r}", p_init)
        return
    check_finite(owner, "p_init", p_init)


class NoisyActivation(nn.Module):
    """Base of the noisy modules: validation, the learnable ``p`` and the ``noise_scale`` buffer.

    ``noise_scale`` multiplies ``c``; annealing schedules (`actlab.noisy.annealing`) set it on every
    module that has one. It is a buffer, so it is saved with the model and changing it does not
    recompile a `torch.compile`-d model.

    ``p_init`` is the initial ``p``: a number (every element), or ``"uniform"`` for U(-1, 1) per
    element (the official code's initialisation; then `reset_parameters` draws again from the
    global generator). ``p_init=None``: the unit has no ``p`` (``self.p`` is ``None``).
    ``half_normal=None``: the unit has no half-normal option.
    """

    c: float
    noise_scale: Tensor  # a buffer

    def __init__(
        self,
        *,
        c: float,
        p_init: float | str | None,
        half_normal: bool | None,
        num_parameters: int = 1,
        learn_p: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_common(owner, c)
        if half_normal is not None:
            check_type(owner, "half_normal", half_normal, bool)
        self.c, self.half_normal = float(c), half_normal
        self.p_init: float | str | None = None
        if p_init is None:
            self.num_parameters = 1
            self.register_parameter("p", None)
        else:
            check_p_init(owner, p_init)
            check_int(owner, "num_parameters", num_parameters, ">=", 1)
            check_type(owner, "learn_p", learn_p, bool)
            self.p_init = p_init if isinstance(p_init, str) else float(p_init)
            self.num_parameters = num_parameters
            self.p = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype), requires_grad=learn_p)
        self.register_buffer("noise_scale", torch.ones((), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.p is None:
            return
        with torch.no_grad():
            if isinstance(self.p_init, str):  # P_INIT_UNIFORM, the only string check_p_init accepts
                self.p.uniform_(-1.0, 1.0)
            elif self.p_init is not None:
                self.p.fill_(self.p_init)

    def set_noise_scale(self, value: float) -> None:
        """Set the multiplier of ``c`` (0 turns the noise off; the eval expectation scales too)."""
        check_finite(type(self).__name__, "noise_scale", value)
        check_bound(type(self).__name__, "noise_scale", value, ">=", 0)
        with torch.no_grad():
            self.noise_scale.fill_(value)

    def _effective_c(self) -> Tensor:
        # tensor * float: float * tensor goes through Tensor.__rmul__'s Python wrapper (2x the time)
        return self.noise_scale * self.c

    def extra_repr(self) -> str:
        parts = [f"c={self.c}"]
        if self.p is not None:
            parts += [
                f"p_init={self.p_init!r}",
                f"num_parameters={self.num_parameters}",
                f"learn_p={self.p.requires_grad}",
            ]
        if self.half_normal is not None:
            parts.append(f"half_normal={self.half_normal}")
        return ", ".join(parts)
