r"""Noisy hard units with the noise added to their *input* (NANI; Gulcehre et al., 2016).

Shares the hard functions, :math:`\sigma(x)`, the in-kernel noise and the module base with
`actlab.activations.noisy` (the output-noise units).
"""

from __future__ import annotations

import torch
from torch import Tensor

from actlab._channels import channel_view
from actlab._fused import fused
from actlab._validation import check_type
from actlab.activations.noisy import (
    HALF_NORMAL_MEAN,
    HARD_SIGMOID,
    HARD_TANH,
    PAPER,
    NoisyActivation,
    as_tensor,
    check_channels,
    check_common,
    check_p,
    draw_seed,
    hard_parts,
    noise_std,
    saturated_sigmoid,
    saturated_tanh,
    standard_normal,
)
from actlab.registry import ActivationSpec, register

__all__ = ["NoisyInputHardSigmoid", "NoisyInputHardTanh", "noisy_input_hard_sigmoid", "noisy_input_hard_tanh"]


def _shift(xo: Tensor, p: Tensor, c: Tensor, seed: Tensor | None, shape, half: bool):
    """``(z, u, h, inside, xi_dir)``: the perturbed input and the parts its derivative needs."""
    u, h, inside = hard_parts(xo, shape)
    sigma, dsig = noise_std(h - u, p, c)
    xi = standard_normal(xo, seed, half=half) if seed is not None else HALF_NORMAL_MEAN
    # -sgn(x) points half-normal noise at the linear region; Gaussian noise is symmetric anyway.
    xi_dir = -torch.sign(xo) * xi
    return xo + xi_dir * sigma, u, h, inside, xi_dir * dsig


@fused
def _nani_forward(x: Tensor, p: Tensor, c: Tensor, seed: Tensor | None, shape, half: bool) -> Tensor:
    xo = x.to(p.dtype)
    if seed is None and not half:
        return torch.clamp(shape[0] * xo + shape[1], shape[2], shape[3]).to(x.dtype)
    z = _shift(xo, p, c, seed, shape, half)[0]
    return torch.clamp(shape[0] * z + shape[1], shape[2], shape[3]).to(x.dtype)


@fused
def _nani_backward(g: Tensor, x: Tensor, p: Tensor, c: Tensor, seed: Tensor | None, shape, half: bool,
                   p_shape: tuple[int, ...] | None) -> tuple[Tensor, Tensor | None]:
    k, b, lo, hi = shape
    xo, go = x.to(p.dtype), g.to(p.dtype)
    if seed is None and not half:
        u = k * xo + b
        return (go * (((u > lo) & (u < hi)).to(xo.dtype) * k)).to(g.dtype), None
    z, u, h, inside, ddelta = _shift(xo, p, c, seed, shape, half)
    uz = k * z + b
    gz = go * (((uz > lo) & (uz < hi)).to(xo.dtype) * k)  # dL/dz
    dz_dx = 1.0 + ddelta * p * (inside.to(xo.dtype) * k - k)  # d Delta / dx = h' - k
    grad_p = (gz * ddelta * (h - u)).sum_to_size(p_shape).to(p.dtype) if p_shape is not None else None
    return (gz * dz_dx).to(g.dtype), grad_p


class _NANIFunction(torch.autograd.Function):
    """NANI, fused forward and hand-derived fused backward; noise re-drawn from the saved seed."""

    @staticmethod
    def forward(x, p, c, seed, shape, half):
        return _nani_forward(x, p, c, seed, shape, half)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, p, c, seed, shape, half = inputs
        ctx.shape, ctx.half = shape, half
        ctx.save_for_backward(x, p, c, *([seed] if seed is not None else []))

    @staticmethod
    def backward(ctx, g):
        x, p, c, *seed = ctx.saved_tensors
        p_shape = tuple(p.shape) if ctx.needs_input_grad[1] else None
        grad_x, grad_p = _nani_backward(g, x, p, c, seed[0] if seed else None, ctx.shape, ctx.half, p_shape)
        return grad_x, grad_p, None, None, None, None


def _nani(owner: str, x: Tensor, shape, *, training: bool, c: float | Tensor, p: float | Tensor,
          half_normal: bool, generator: torch.Generator | None) -> Tensor:
    if not isinstance(c, Tensor):
        check_common(owner, c)
    check_p(owner, p, x)
    check_type(owner, "training", training, bool)
    check_type(owner, "half_normal", half_normal, bool)
    seed = draw_seed(x, generator) if training else None
    return _NANIFunction.apply(x, as_tensor(p, x), as_tensor(c, x), seed, shape, half_normal)


_NANI_DOC = r"""

    .. math::
        \phi(x, \xi) = h\bigl(x - \mathrm{sgn}(x)\,\sigma(x)\,\xi\bigr), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2, \qquad \Delta = h(x) - u(x)

    :math:`\xi \sim N(0, 1)` (the sign factor does not change its law), or :math:`|\xi|` with
    ``half_normal=True``, which always moves the input toward the linear region. No noise where
    ``h`` is linear. In eval mode :math:`\xi` is replaced by its expectation (0, or
    :math:`\sqrt{2/\pi}` for half-normal noise), as the paper prescribes; note that this is
    :math:`h(x + \sigma E\xi)`, not :math:`E[h(x + \sigma\xi)]`.

    The paper's :math:`\sigma` is used; the official code's input-noise units use a different
    scale (``c * softplus(p |Delta| / |xi|)``), not reproduced.

    Args:
        x: input of any shape.
        training: draw noise (``True``) or use its expectation (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x``. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        generator: source of the noise seed; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (NANI).
    """


def noisy_input_hard_tanh(x: Tensor, /, *, training: bool, c: float | Tensor = 0.25, p: float | Tensor = 1.0,
                          half_normal: bool = False, generator: torch.Generator | None = None) -> Tensor:
    return _nani("noisy_input_hard_tanh", x, HARD_TANH, training=training, c=c, p=p,
                 half_normal=half_normal, generator=generator)


def noisy_input_hard_sigmoid(x: Tensor, /, *, training: bool, c: float | Tensor = 0.25, p: float | Tensor = 1.0,
                             half_normal: bool = False, generator: torch.Generator | None = None) -> Tensor:
    return _nani("noisy_input_hard_sigmoid", x, HARD_SIGMOID, training=training, c=c, p=p,
                 half_normal=half_normal, generator=generator)


noisy_input_hard_tanh.__doc__ = "Noisy hard-tanh with noise added to its input (NANI), ``h = clip(x, -1, 1)``." + _NANI_DOC + """
    Examples:
        >>> noisy_input_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-1.0000,  0.5000,  1.0000])
    """
noisy_input_hard_sigmoid.__doc__ = (
    "Noisy hard-sigmoid with noise added to its input (NANI), ``h = clip(0.25 x + 0.5, 0, 1)``." + _NANI_DOC + """
    Examples:
        >>> noisy_input_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0000, 0.7500, 1.0000])
    """
)


class _NANIModule(NoisyActivation):
    _function = staticmethod(noisy_input_hard_tanh)

    def __init__(self, c: float = 0.25, p: float = 1.0, half_normal: bool = False, num_parameters: int = 1,
                 learn_p: bool = True, *, device=None, dtype=None) -> None:
        super().__init__(c=c, p=p, half_normal=half_normal, num_parameters=num_parameters, learn_p=learn_p,
                         device=device, dtype=dtype)

    def forward(self, x: Tensor, /) -> Tensor:
        check_channels(type(self).__name__, self.num_parameters, x)
        return self._function(x, training=self.training, c=self._effective_c(), p=channel_view(self.p, x),
                              half_normal=self.half_normal)


_DOC = """

    See :func:`actlab.functional.{fn}` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25.
        p: initial slope of the noise sigmoid. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained. Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c``, initially 1.
    """


class NoisyInputHardTanh(_NANIModule):
    __doc__ = "Noisy hard-tanh with noise on its input (NANI)." + _DOC.format(fn="noisy_input_hard_tanh")
    _function = staticmethod(noisy_input_hard_tanh)


class NoisyInputHardSigmoid(_NANIModule):
    __doc__ = "Noisy hard-sigmoid with noise on its input (NANI)." + _DOC.format(fn="noisy_input_hard_sigmoid")
    _function = staticmethod(noisy_input_hard_sigmoid)


for _name, _cls, _fn, _sat, _desc in (
    ("noisy_input_hard_tanh", NoisyInputHardTanh, noisy_input_hard_tanh, saturated_tanh,
     "hard-tanh of an input perturbed in its saturated part (NANI)"),
    ("noisy_input_hard_sigmoid", NoisyInputHardSigmoid, noisy_input_hard_sigmoid, saturated_sigmoid,
     "hard-sigmoid 0.25x+0.5 of an input perturbed in its saturated part (NANI)"),
):
    register(ActivationSpec(name=_name, module=_cls, function=_fn, family="noisy", description=_desc,
                            paper=PAPER, stochastic=True, saturation=_sat))
