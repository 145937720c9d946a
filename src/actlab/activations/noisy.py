r"""The noisy family: hard-saturating units with noise in their saturated part (Gulcehre et al., 2016).

This file holds what the output-noise (NAN) and input-noise (NANI, `noisy_input.py`) units
share: the hard functions and their linearisations, the noise-scale
:math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2`, the counter-based noise
generator, and the module base class with its learnable ``p`` and annealing ``noise_scale``.

Noise is generated *inside* the fused kernel from a 32-bit seed drawn from the caller's
generator (or the global one): a hash of (element index, seed) gives two 16-bit uniforms and
Box-Muller turns them into a standard normal. The backward pass re-draws the same noise from
the seed, so only ``x`` (and ``p``) are saved. ``torch.randn`` outside the kernel costs 8x a
hard-tanh forward+backward at 16M elements on these CPUs and would have to be saved too
(docs/BENCHMARKS.md). The draw is a discretised normal (2**32 values, truncated at
:math:`|\xi| \le 4.85`, a tail mass of 1.2e-6), with mean 0 and variance 1 to 1e-3.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from actlab._channels import channel_view
from actlab._fused import fused
from actlab._validation import check_bound, check_finite, check_int, check_type, fail
from actlab.registry import ActivationSpec, register

__all__ = ["NoisyHardSigmoid", "NoisyHardTanh", "noisy_hard_sigmoid", "noisy_hard_tanh"]

PAPER = "Gulcehre, Moczulski, Denil, Bengio, 'Noisy Activation Functions', ICML 2016, arXiv:1603.00391"

#: ``E|xi|`` for a standard normal ``xi``: the test-time value of half-normal noise.
HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)

# (slope k, offset b, low, high) of u(x) = k x + b and h(x) = clamp(u(x), low, high).
HARD_TANH = (1.0, 0.0, -1.0, 1.0)
HARD_SIGMOID = (0.25, 0.5, 0.0, 1.0)


# --------------------------------------------------------------------------- noise


def _hash32(v: Tensor) -> Tensor:
    # A 32-bit integer finaliser (xor-shift / multiply rounds). int32 products wrap; the masks
    # make the right shifts logical. Multipliers are odd and < 2**31.
    v = v ^ ((v >> 16) & 0xFFFF)
    v = v * 0x7FEB352D
    v = v ^ ((v >> 15) & 0x1FFFF)
    v = v * 0x2C1B3C6D
    return v ^ ((v >> 16) & 0xFFFF)


def standard_normal(x: Tensor, seed: Tensor, *, half: bool) -> Tensor:
    """Noise shaped like ``x``: N(0, 1) (or its absolute value) from a 0-d int32 ``seed``.

    Element ``i`` (in logical, row-major order) gets ``hash(hash(i) ^ seed)``: the same seed
    gives the same noise whatever ``x``'s memory layout; a second hash round keeps the draws of
    two seeds from being permutations of each other.
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    idx = torch.arange(x.numel(), device=x.device, dtype=torch.int32).view(x.shape)
    bits = _hash32(_hash32(idx) ^ seed)
    u1 = (((bits >> 16) & 0xFFFF).to(dtype) + 0.5) * (2.0**-16)  # in (0, 1): log is finite
    u2 = (bits & 0xFFFF).to(dtype) * (2.0**-16)
    angle = torch.cos((2.0 * math.pi) * u2)
    radius = torch.sqrt(-2.0 * torch.log(u1))
    return radius * (angle.abs() if half else angle)


def draw_seed(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One 32-bit seed from ``generator`` (or the global generator), as a 0-d int32 on ``x``'s device."""
    device = generator.device if generator is not None else x.device
    seed = torch.randint(-(2**31), 2**31 - 1, (), dtype=torch.int32, device=device, generator=generator)
    return seed.to(x.device)


# --------------------------------------------------------------------------- shared math


def hard_parts(x: Tensor, shape: tuple[float, float, float, float]) -> tuple[Tensor, Tensor, Tensor]:
    """``(u, h, inside)``: the linearisation, the hard function and the mask where ``h' = k``."""
    k, b, lo, hi = shape
    u = k * x + b
    return u, torch.clamp(u, lo, hi), (u > lo) & (u < hi)


def noise_std(delta: Tensor, p: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    r"""``sigma = c (sigmoid(p Delta) - 1/2)^2`` and ``d sigma / d(p Delta)``."""
    s = torch.sigmoid(p * delta)
    return c * (s - 0.5) ** 2, 2.0 * c * (s - 0.5) * s * (1.0 - s)


def direction(x: Tensor, alpha: float) -> Tensor:
    r"""The paper's :math:`d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha)`, taking sgn(1 - alpha) := 1 at ``alpha = 1``.

    Read literally, ``alpha = 1`` gives ``d = 0`` (no noise at all); we take the ``alpha < 1``
    branch there, which points half-normal noise into the range of ``h``.
    """
    return torch.sign(x) * (1.0 if alpha > 1.0 else -1.0)


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


def check_channels(owner: str, num_parameters: int, x: Tensor) -> None:
    # Channels at dim 1, or dim 0 of a 1-D input (as `channel_view` and `torch.nn.PReLU` do).
    if num_parameters > 1 and (x.dim() == 0 or x.shape[min(1, x.dim() - 1)] != num_parameters):
        got = tuple(x.shape)
        fail(owner, "input", f"of shape (N, {num_parameters}, *) for num_parameters={num_parameters}", got)


def check_common(owner: str, c: float, p: float | None = None) -> None:
    check_finite(owner, "c", c)
    check_bound(owner, "c", c, ">", 0)
    if p is not None:
        check_finite(owner, "p", p)


# --------------------------------------------------------------------------- NAN: noise on the output


@fused
def _nan_forward(x: Tensor, p: Tensor, c: Tensor, seed: Tensor | None, alpha: float,
                 shape: tuple[float, float, float, float], half: bool) -> Tensor:
    xo = x.to(p.dtype)
    u, h, _ = hard_parts(xo, shape)
    y = alpha * h + (1.0 - alpha) * u
    if seed is not None or half:
        sigma, _ = noise_std(h - u, p, c)
        xi = standard_normal(xo, seed, half=half) if seed is not None else HALF_NORMAL_MEAN
        y = y + direction(xo, alpha) * sigma * xi
    return y.to(x.dtype)


@fused
def _nan_backward(g: Tensor, x: Tensor, p: Tensor, c: Tensor, seed: Tensor | None, alpha: float,
                  shape: tuple[float, float, float, float], half: bool,
                  p_shape: tuple[int, ...] | None) -> tuple[Tensor, Tensor | None]:
    k = shape[0]
    xo, go = x.to(p.dtype), g.to(p.dtype)
    u, h, inside = hard_parts(xo, shape)
    dh = inside.to(xo.dtype) * k
    grad = alpha * dh + (1.0 - alpha) * k
    grad_p = None
    if seed is not None or half:
        _, dsig = noise_std(h - u, p, c)  # d sigma / d(p Delta)
        xi = standard_normal(xo, seed, half=half) if seed is not None else HALF_NORMAL_MEAN
        dxi = direction(xo, alpha) * xi * dsig
        grad = grad + dxi * p * (dh - k)  # d Delta / dx = h' - k
        if p_shape is not None:
            grad_p = (go * dxi * (h - u)).sum_to_size(p_shape).to(p.dtype)
    return (go * grad).to(g.dtype), grad_p


class _NANFunction(torch.autograd.Function):
    """NAN with a fused forward and a hand-derived fused backward; saves ``x``, ``p``, ``c`` and the seed.

    The noise is re-drawn from the saved seed in the backward. Checked against autograd of the
    reference formula with the same noise in tests/test_noisy.py.
    """

    @staticmethod
    def forward(x, p, c, seed, alpha, shape, half):
        return _nan_forward(x, p, c, seed, alpha, shape, half)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, p, c, seed, alpha, shape, half = inputs
        ctx.alpha, ctx.shape, ctx.half, ctx.has_seed = alpha, shape, half, seed is not None
        ctx.save_for_backward(x, p, c, *([seed] if seed is not None else []))

    @staticmethod
    def backward(ctx, g):
        x, p, c, *seed = ctx.saved_tensors
        p_shape = tuple(p.shape) if ctx.needs_input_grad[1] else None
        grad_x, grad_p = _nan_backward(g, x, p, c, seed[0] if seed else None, ctx.alpha, ctx.shape, ctx.half, p_shape)
        return grad_x, grad_p, None, None, None, None, None


def _nan(owner: str, x: Tensor, shape, *, training: bool, alpha: float, c: float | Tensor, p: float | Tensor,
         half_normal: bool, generator: torch.Generator | None) -> Tensor:
    check_finite(owner, "alpha", alpha)
    if not isinstance(c, Tensor):
        check_common(owner, c)
    check_p(owner, p, x)
    check_type(owner, "training", training, bool)
    check_type(owner, "half_normal", half_normal, bool)
    seed = draw_seed(x, generator) if training else None
    return _NANFunction.apply(x, as_tensor(p, x), as_tensor(c, x), seed, float(alpha), shape, half_normal)


_NAN_DOC = r"""

    .. math::
        \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\xi, \qquad
        d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2

    with :math:`\Delta = h(x) - u(x)` (zero where ``h`` is linear, so there is no noise there),
    :math:`\xi \sim N(0, 1)` or, with ``half_normal=True`` (the paper's half-normal variant),
    :math:`|\xi|`, which ``d(x)`` points at ``h(x)`` from the leaky mix (``alpha > 1``) or into
    the range of ``h`` (``alpha <= 1``). In eval mode the noise is replaced by its expectation:
    0, or :math:`E|\xi| = \sqrt{2/\pi}` for half-normal noise.

    Args:
        x: input of any shape.
        training: draw noise (``True``) or use its expectation (``False``); required.
        alpha: mix of ``h`` and ``u``; ``> 1`` leaks past ``h`` with slope ``(1 - alpha) u'``.
        c: noise scale, > 0 (a float, or a 0-d tensor such as ``c * noise_scale``; not differentiated).
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x`` (learnable).
        half_normal: use :math:`|\xi|` (NANIS). Default: ``False``.
        generator: source of the noise seed; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``alpha``, ``c`` or ``p``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (eq. for NAN).
    """


def noisy_hard_tanh(x: Tensor, /, *, training: bool, alpha: float = 1.15, c: float | Tensor = 0.5,
                    p: float | Tensor = 1.0, half_normal: bool = False,
                    generator: torch.Generator | None = None) -> Tensor:
    return _nan("noisy_hard_tanh", x, HARD_TANH, training=training, alpha=alpha, c=c, p=p,
                half_normal=half_normal, generator=generator)


def noisy_hard_sigmoid(x: Tensor, /, *, training: bool, alpha: float = 1.1, c: float | Tensor = 0.15,
                       p: float | Tensor = 1.0, half_normal: bool = False,
                       generator: torch.Generator | None = None) -> Tensor:
    return _nan("noisy_hard_sigmoid", x, HARD_SIGMOID, training=training, alpha=alpha, c=c, p=p,
                half_normal=half_normal, generator=generator)


noisy_hard_tanh.__doc__ = (
    "Noisy hard-tanh, noise added to the output (NAN): ``h(x) = clip(x, -1, 1)``, ``u(x) = x``." + _NAN_DOC
    + """
    Examples:
        >>> noisy_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-0.7000,  0.5000,  0.7000])
    """
)
noisy_hard_sigmoid.__doc__ = (
    "Noisy hard-sigmoid, noise added to the output (NAN): ``h(x) = clip(0.25 x + 0.5, 0, 1)``, "
    "``u(x) = 0.25 x + 0.5``." + _NAN_DOC
    + """
    Examples:
        >>> noisy_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0500, 0.7500, 0.9500])
    """
)


# --------------------------------------------------------------------------- modules


class NoisyActivation(nn.Module):
    """Base of the noisy modules: validation, the learnable ``p`` and the ``noise_scale`` buffer.

    ``noise_scale`` multiplies ``c``; annealing schedules (`actlab.annealing`) set it on every
    module that has one. It is a buffer, so it is saved with the model and changing it does not
    recompile a `torch.compile`-d model.
    """

    c: float

    def __init__(self, *, c: float, p: float, half_normal: bool, num_parameters: int, learn_p: bool,
                 device=None, dtype=None) -> None:
        super().__init__()
        owner = type(self).__name__
        check_common(owner, c, p)
        check_type(owner, "half_normal", half_normal, bool)
        check_int(owner, "num_parameters", num_parameters, ">=", 1)
        check_type(owner, "learn_p", learn_p, bool)
        self.c, self.p_init, self.half_normal, self.num_parameters = float(c), float(p), half_normal, num_parameters
        self.p = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype), requires_grad=learn_p)
        self.register_buffer("noise_scale", torch.ones((), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.p.fill_(self.p_init)

    def set_noise_scale(self, value: float) -> None:
        """Set the multiplier of ``c`` (0 turns the noise off; the eval expectation scales too)."""
        check_finite(type(self).__name__, "noise_scale", value)
        check_bound(type(self).__name__, "noise_scale", value, ">=", 0)
        with torch.no_grad():
            self.noise_scale.fill_(value)

    def _effective_c(self) -> Tensor:
        return self.c * self.noise_scale

    def extra_repr(self) -> str:
        return (f"c={self.c}, p={self.p_init}, half_normal={self.half_normal}, "
                f"num_parameters={self.num_parameters}, learn_p={self.p.requires_grad}")


class _NANModule(NoisyActivation):
    _function = staticmethod(noisy_hard_tanh)

    def __init__(self, alpha: float, c: float, p: float, half_normal: bool, num_parameters: int, learn_p: bool,
                 device=None, dtype=None) -> None:
        check_finite(type(self).__name__, "alpha", alpha)
        super().__init__(c=c, p=p, half_normal=half_normal, num_parameters=num_parameters, learn_p=learn_p,
                         device=device, dtype=dtype)
        self.alpha = float(alpha)

    def forward(self, x: Tensor, /) -> Tensor:
        check_channels(type(self).__name__, self.num_parameters, x)
        return self._function(x, training=self.training, alpha=self.alpha, c=self._effective_c(),
                              p=channel_view(self.p, x), half_normal=self.half_normal)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, " + super().extra_repr()


_MODULE_DOC = """

    See :func:`actlab.functional.{fn}` for the math. Noise only in training mode.

    Args:
        alpha: mix of ``h`` and its linearisation ``u``. Default: {alpha}.
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: {c}.
        p: initial slope of the noise sigmoid. Default: 1.
        half_normal: half-normal noise pointed by ``d(x)`` (NANIS). Default: ``False``.
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained (the paper learns it per unit). Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.annealing` schedules), initially 1.

    Examples:
        >>> m = {cls}().eval()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """


class NoisyHardTanh(_NANModule):
    _function = staticmethod(noisy_hard_tanh)

    def __init__(self, alpha: float = 1.15, c: float = 0.5, p: float = 1.0, half_normal: bool = False,
                 num_parameters: int = 1, learn_p: bool = True, *, device=None, dtype=None) -> None:
        super().__init__(alpha, c, p, half_normal, num_parameters, learn_p, device, dtype)


class NoisyHardSigmoid(_NANModule):
    _function = staticmethod(noisy_hard_sigmoid)

    def __init__(self, alpha: float = 1.1, c: float = 0.15, p: float = 1.0, half_normal: bool = False,
                 num_parameters: int = 1, learn_p: bool = True, *, device=None, dtype=None) -> None:
        super().__init__(alpha, c, p, half_normal, num_parameters, learn_p, device, dtype)


NoisyHardTanh.__doc__ = "Noisy hard-tanh with noise on the output (NAN)." + _MODULE_DOC.format(
    fn="noisy_hard_tanh", alpha=1.15, c=0.5, cls="NoisyHardTanh")
NoisyHardSigmoid.__doc__ = "Noisy hard-sigmoid with noise on the output (NAN)." + _MODULE_DOC.format(
    fn="noisy_hard_sigmoid", alpha=1.1, c=0.15, cls="NoisyHardSigmoid")


def saturated_tanh(x: Tensor) -> Tensor:
    return x.abs() >= 1.0


def saturated_sigmoid(x: Tensor) -> Tensor:
    return x.abs() >= 2.0


for _name, _cls, _fn, _sat, _desc in (
    ("noisy_hard_tanh", NoisyHardTanh, noisy_hard_tanh, saturated_tanh,
     "hard-tanh + output noise in its saturated part (NAN; half_normal=True: NANIS)"),
    ("noisy_hard_sigmoid", NoisyHardSigmoid, noisy_hard_sigmoid, saturated_sigmoid,
     "hard-sigmoid 0.25x+0.5 + output noise in its saturated part (NAN; half_normal=True: NANIS)"),
):
    register(ActivationSpec(name=_name, module=_cls, function=_fn, family="noisy", description=_desc,
                            paper=PAPER, stochastic=True, saturation=_sat))
