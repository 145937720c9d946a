"""The quantized family: N-level and binary activations trained with straight-through estimators.

The forward pass is the exact quantizer (piecewise constant, zero derivative almost
everywhere); the backward pass replaces that derivative with a *straight-through estimator*
(STE), the derivative of a chosen proxy function (Yin et al., 2019). Forward and backward are
one fused elementwise kernel each (``actlab.core.fused``) tied by a `torch.autograd.Function` that
saves only ``x``; a learnable range or threshold gets its gradient reduced in the same pass.

STE choices (``ste=``), each the derivative of a unit-slope proxy, as an exact 0/1 mask:

=================  ==========================================  ===================================
``ste``            ``quantize`` on ``range=(a, b)``             ``binary`` with threshold ``t``
=================  ==========================================  ===================================
``identity``       1                                           1
``relu``           1 if ``x >= a``                             1 if ``x - t >= 0``
``clipped_relu``   1 if ``a <= x <= b``                        1 if ``0 <= x - t <= 1``
``clipped``        1 if ``a <= x <= b`` (same as clipped_relu)  1 if ``|x - t| <= 1`` (hard-tanh')
=================  ==========================================  ===================================

For ``quantize`` the clip interval of the clipped identity *is* the quantizer's range, so
``clipped`` and ``clipped_relu`` coincide; both names are accepted so the two activations
share one vocabulary. ``binary``'s ``relu``/``clipped_relu`` are Yin et al.'s STEs for the
0/1 step ``1{x > 0}`` moved to the threshold, ``clipped`` is the hard-tanh STE of binarized
networks (Hubara et al., 2016).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from actlab.core.channels import channel_view
from actlab.core.fused import fused, fused_function
from actlab.core.hyper import SavedHyperparameters
from actlab.core.registry import ActivationSpec, register
from actlab.core.validation import check_choice, check_finite, check_floating, check_int, check_type, fail

__all__ = ["STES", "Binary", "Quantize", "binary", "quantize"]

STES = ("identity", "relu", "clipped_relu", "clipped")

_STE_PAPER = "Yin et al., 'Understanding straight-through estimator in training activation quantized neural nets', ICLR 2019, arXiv:1903.05662"
_SHIFT_PAPER = "Kim et al., 'Improving accuracy of binary neural networks using unbalanced activation distribution', 2020, arXiv:2012.00938"


def _check_range(owner: str, value: object) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        fail(owner, "range", "a (low, high) pair", value, TypeError)
    low, high = value
    check_finite(owner, "range[0]", low)
    check_finite(owner, "range[1]", high)
    if not low < high:
        fail(owner, "range", "a non-empty interval (low, high) with low < high", tuple(value))
    return float(low), float(high)


def _check_quantize(owner: str, levels: int, ste: str) -> None:
    check_int(owner, "levels", levels, ">=", 2)
    check_type(owner, "ste", ste, str)
    check_choice(owner, "ste", ste, STES)


# --------------------------------------------------------------------------------------- quantize


def quantize(
    x: Tensor,
    /,
    *,
    levels: int = 4,
    range: tuple[float | Tensor, float | Tensor] = (0.0, 1.0),
    ste: str = "clipped_relu",
) -> Tensor:
    r"""Uniform N-level quantization on ``[a, b]`` with a straight-through estimator backward.

    .. math::
        s = \frac{b - a}{N - 1}, \qquad
        Q(x) = a + s \,\operatorname{round}\!\left(\operatorname{clamp}\!\left(\frac{x - a}{s}, 0, N - 1\right)\right)

    i.e. the nearest of the ``N`` levels :math:`a + k s` (``round`` is PyTorch's, ties to even:
    a tie exactly on a decision boundary goes to the even level index). The backward pass is
    the STE selected by ``ste`` (module docstring); with a tensor range its gradient is the
    LSQ/PACT-style one obtained by passing ``round`` straight through and differentiating the
    rest exactly (:math:`u = (x - a)/s`, :math:`r = \operatorname{round}(u)`):

    .. math::
        \frac{\partial Q}{\partial b} = \begin{cases} 0 & x < a \\ (r - u)/(N-1) & a \le x \le b \\ 1 & x > b \end{cases}
        \qquad
        \frac{\partial Q}{\partial a} = \begin{cases} 1 & x < a \\ -(r - u)/(N-1) & a \le x \le b \\ 0 & x > b \end{cases}

    (outside the range the output *is* ``a`` or ``b``, as in PACT's clip gradient; inside,
    LSQ's rounding residual, which is all that is left once ``round`` is the identity: moving
    both ends together then moves nothing). The range gradient does not depend on ``ste``. Nothing keeps a learned range
    non-empty: use a learning rate that keeps ``a < b``.

    Args:
        x: input of any shape.
        levels: number of levels ``N >= 2``. Default: 4.
        range: ``(a, b)``, the lowest and highest level, ``a < b``; floats or tensors
            broadcastable to ``x`` (the module's per-channel parameters; not checked).
            Default: ``(0.0, 1.0)`` (a quantized clipped ReLU).
        ste: ``"identity"``, ``"relu"``, ``"clipped_relu"`` or ``"clipped"``. Default:
            ``"clipped_relu"``, the STE that Yin et al. show gives a descent direction.

    Raises:
        ValueError: ``levels < 2``, an empty or non-finite float range, an unknown ``ste``.

    Examples:
        >>> quantize(torch.tensor([-1.0, 0.1, 0.2, 0.6, 2.0]), levels=4)
        tensor([0.0000, 0.0000, 0.3333, 0.6667, 1.0000])

    Paper: P. Yin, J. Lyu, S. Zhang, S. Osher, Y. Qi, J. Xin, "Understanding straight-through
    estimator in training activation quantized neural nets", ICLR 2019, arXiv:1903.05662.
    """
    check_floating("quantize", x)
    _check_quantize("quantize", levels, ste)
    low, high = range
    if not isinstance(low, Tensor) and not isinstance(high, Tensor):
        _check_range("quantize", (low, high))
    return _QuantizeFunction.apply(x, low, high, levels, ste)


@fused
def _quantize_forward(x: Tensor, low: float | Tensor, high: float | Tensor, levels: int) -> Tensor:
    steps = levels - 1
    scale = (high - low) / steps
    # clamp keeps NaN (NaN in, NaN out) and maps +-inf to the end levels.
    return low + torch.round(torch.clamp((x - low) / scale, 0, steps)) * scale


def _ste_mask(ste: str, z: Tensor, lo: float | Tensor, hi: float | Tensor, relu_at: float | Tensor) -> Tensor:
    if ste == "relu":
        return z >= relu_at
    return (z >= lo) & (z <= hi)


@fused
def _quantize_backward(
    g: Tensor,
    x: Tensor,
    low: float | Tensor,
    high: float | Tensor,
    levels: int,
    ste: str,
    low_shape: tuple[int, ...] | None,
    high_shape: tuple[int, ...] | None,
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    zero = torch.zeros((), dtype=g.dtype, device=g.device)
    grad_x = g if ste == "identity" else torch.where(_ste_mask(ste, x, low, high, low), g, zero)
    if low_shape is None and high_shape is None:
        return grad_x, None, None
    steps = levels - 1
    u = (x - low) / ((high - low) / steps)
    residual = (torch.round(u) - u) / steps
    below, above = x < low, x > high
    grad_low = grad_high = None
    if low_shape is not None:
        grad_low = (g * torch.where(below, 1.0, torch.where(above, zero, -residual))).sum_to_size(low_shape)
    if high_shape is not None:
        grad_high = (g * torch.where(below, zero, torch.where(above, 1.0, residual))).sum_to_size(high_shape)
    return grad_x, grad_low, grad_high


_QuantizeFunction = fused_function(
    "_QuantizeFunction",
    _quantize_forward,
    _quantize_backward,
    params=(1, 2),  # low, high
    forward_args=4,  # the STE choice matters to the backward only
    once_differentiable=True,
    doc="Fused quantizer forward, fused STE backward; saves ``x`` (and tensor range ends).",
)


class Quantize(SavedHyperparameters, nn.Module):
    r"""Uniform N-level quantized activation on a fixed or learnable range, with an STE backward.

    See :func:`actlab.functional.quantize` for the math and the STE / range gradients.

    Args:
        levels: number of levels ``N >= 2``. Default: 4.
        range: initial ``(low, high)``, the lowest and highest level, ``low < high``.
            Default: ``(0.0, 1.0)``.
        ste: ``"identity"``, ``"relu"``, ``"clipped_relu"`` or ``"clipped"``. Default: ``"clipped_relu"``.
        learn_range: whether ``low`` and ``high`` are trained (LSQ/PACT-style gradient).
            Default: ``False``.
        num_parameters: 1 for one shared range or the number of channels (dim 1). Default: 1.
        device, dtype: factory arguments for the range tensors.

    Shape:
        - Input: :math:`(*)`, with channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape as the input.

    Attributes:
        low, high: range ends, shape ``(num_parameters,)``, initialised from ``range``.

    Raises:
        ValueError: ``levels < 2``, an empty range, an unknown ``ste`` (with close matches).

    Examples:
        >>> Quantize(levels=2, ste="identity")(torch.tensor([0.4, 0.6]))
        tensor([0., 1.])
    """

    _saved_hyperparameters = ("levels", "ste")

    def __init__(
        self,
        levels: int = 4,
        range: tuple[float, float] = (0.0, 1.0),
        ste: str = "clipped_relu",
        learn_range: bool = False,
        num_parameters: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        _check_quantize(owner, levels, ste)
        self.range = _check_range(owner, range)
        check_type(owner, "learn_range", learn_range, bool)
        check_int(owner, "num_parameters", num_parameters, ">=", 1)
        self.levels, self.ste, self.num_parameters = levels, ste, num_parameters
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.low = nn.Parameter(torch.empty(num_parameters, **factory), requires_grad=learn_range)
        self.high = nn.Parameter(torch.empty(num_parameters, **factory), requires_grad=learn_range)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.low.fill_(self.range[0])
            self.high.fill_(self.range[1])

    def forward(self, x: Tensor, /) -> Tensor:
        return quantize(
            x, levels=self.levels, range=(channel_view(self.low, x), channel_view(self.high, x)), ste=self.ste
        )

    def extra_repr(self) -> str:
        return (
            f"levels={self.levels}, range={self.range}, ste={self.ste!r}, "
            f"learn_range={self.low.requires_grad}, num_parameters={self.num_parameters}"
        )


# ----------------------------------------------------------------------------------------- binary


def binary(x: Tensor, /, *, threshold: float | Tensor = 0.0, ste: str = "clipped") -> Tensor:
    r"""Sign activation with a (shiftable) threshold and a straight-through estimator backward.

    .. math::
        B(x) = \begin{cases} +1 & x \ge t \\ -1 & x < t \end{cases}

    (NaN stays NaN). With :math:`z = x - t` the backward is
    :math:`\partial B/\partial x \approx m(z)` for the STE mask ``m`` chosen by ``ste`` (module
    docstring) and, because ``B`` depends on ``x`` only through ``x - t``,
    :math:`\partial B/\partial t \approx -m(z)`: the threshold gradient is the STE's negative.
    Shifting ``t`` away from 0 gives the unbalanced activations of Kim et al. (2020).

    Args:
        x: input of any shape.
        threshold: ``t``; a float or a tensor broadcastable to ``x`` (the module's
            per-channel parameter). Default: 0.
        ste: ``"identity"``, ``"relu"``, ``"clipped_relu"`` or ``"clipped"``. Default:
            ``"clipped"`` (hard-tanh', the usual choice for sign activations).

    Raises:
        ValueError: unknown ``ste`` (with close matches), non-finite float threshold.

    Examples:
        >>> binary(torch.tensor([-0.5, 0.0, 0.5]), threshold=0.25)
        tensor([-1., -1.,  1.])

    Papers: Yin et al., ICLR 2019, arXiv:1903.05662 (STEs); H. Kim, J. Park, C. Lee, J.-J. Kim,
    "Improving accuracy of binary neural networks using unbalanced activation distribution",
    2020, arXiv:2012.00938 (threshold shifting).
    """
    check_floating("binary", x)
    check_type("binary", "ste", ste, str)
    check_choice("binary", "ste", ste, STES)
    if not isinstance(threshold, Tensor):
        check_finite("binary", "threshold", threshold)
    return _BinaryFunction.apply(x, threshold, ste)


@fused
def _binary_forward(x: Tensor, threshold: float | Tensor) -> Tensor:
    # The inner where returns x itself where neither comparison holds, i.e. for NaN.
    return torch.where(x >= threshold, 1.0, torch.where(x < threshold, -1.0, x))


@fused
def _binary_backward(
    g: Tensor, x: Tensor, threshold: float | Tensor, ste: str, t_shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor | None]:
    zero = torch.zeros((), dtype=g.dtype, device=g.device)
    if ste == "identity":
        grad_x = g
    else:
        lo, hi = (-1.0, 1.0) if ste == "clipped" else (0.0, 1.0)
        grad_x = torch.where(_ste_mask(ste, x - threshold, lo, hi, 0.0), g, zero)
    grad_t = None if t_shape is None else (-grad_x).sum_to_size(t_shape)
    return grad_x, grad_t


_BinaryFunction = fused_function(
    "_BinaryFunction",
    _binary_forward,
    _binary_backward,
    params=(1,),  # threshold
    forward_args=2,
    once_differentiable=True,
    doc="Fused sign forward, fused STE backward; saves ``x`` (and a tensor threshold).",
)


class Binary(SavedHyperparameters, nn.Module):
    r"""Binary (sign) activation with a fixed or learnable threshold and an STE backward.

    See :func:`actlab.functional.binary` for the math and the threshold gradient.

    Args:
        threshold: initial threshold ``t``. Default: 0.
        learn_threshold: whether ``t`` is trained. Default: ``True``.
        ste: ``"identity"``, ``"relu"``, ``"clipped_relu"`` or ``"clipped"``. Default: ``"clipped"``.
        num_parameters: 1 for one shared threshold or the number of channels (dim 1). Default: 1.
        device, dtype: factory arguments for ``threshold``.

    Shape:
        - Input: :math:`(*)`, with channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape as the input, values in ``{-1, +1}``.

    Attributes:
        threshold: shape ``(num_parameters,)``, initialised to the ``threshold`` argument.

    Examples:
        >>> Binary()(torch.tensor([-2.0, 3.0]))
        tensor([-1.,  1.], grad_fn=<_BinaryFunctionBackward>)
    """

    _saved_hyperparameters = ("ste",)

    def __init__(
        self,
        threshold: float = 0.0,
        learn_threshold: bool = True,
        ste: str = "clipped",
        num_parameters: int = 1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.init_threshold = float(check_finite(owner, "threshold", threshold))
        check_type(owner, "learn_threshold", learn_threshold, bool)
        check_type(owner, "ste", ste, str)
        check_choice(owner, "ste", ste, STES)
        check_int(owner, "num_parameters", num_parameters, ">=", 1)
        self.ste, self.num_parameters = ste, num_parameters
        self.threshold = nn.Parameter(
            torch.empty(num_parameters, device=device, dtype=dtype), requires_grad=learn_threshold
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.threshold.fill_(self.init_threshold)

    def forward(self, x: Tensor, /) -> Tensor:
        return binary(x, threshold=channel_view(self.threshold, x), ste=self.ste)

    def extra_repr(self) -> str:
        return (
            f"threshold={self.init_threshold}, learn_threshold={self.threshold.requires_grad}, "
            f"ste={self.ste!r}, num_parameters={self.num_parameters}"
        )


register(
    ActivationSpec(
        name="quantize",
        module=Quantize,
        function=quantize,
        family="quantized",
        description="uniform N-level quantizer on a fixed or learnable range, STE backward",
        paper=_STE_PAPER,
        saturation=lambda x: (x < 0.0) | (x > 1.0),
    )
)
register(
    ActivationSpec(
        name="binary",
        module=Binary,
        function=binary,
        family="quantized",
        description="sign(x - t) with a learnable threshold t, STE backward",
        paper=f"{_STE_PAPER}; {_SHIFT_PAPER}",
        aliases=("sign",),
        saturation=lambda x: x.abs() > 1.0,
    )
)
