r"""Noisy units with the noise added to their *output* (NAN; Gulcehre et al., 2016).

Hard-tanh and hard-sigmoid (the paper's units), and tanh and sigmoid through the same formula
with the linearisations the paper gives for them (``u = x`` and ``u = x/4 + 1/2``). The shared
math, kernels and base module are in `actlab.noisy.core`; the noise generator in
`actlab.noisy.noise`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from actlab.core.channels import channel_view
from actlab.core.registry import ActivationSpec, register
from actlab.core.validation import check_finite
from actlab.noisy.core import PAPER, NoisyActivation, apply_noisy, check_channels

__all__ = [
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisySigmoid",
    "NoisyTanh",
    "noisy_hard_sigmoid",
    "noisy_hard_tanh",
    "noisy_sigmoid",
    "noisy_tanh",
]


def noisy_hard_tanh(
    x: Tensor,
    /,
    *,
    training: bool,
    alpha: float = 1.15,
    c: float | Tensor = 0.5,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy hard-tanh, noise on the output (NAN): ``h = clip(x, -1, 1)``, ``u = x``.

    .. math::
        \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\xi, \qquad
        d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2

    with :math:`\Delta = h(x) - u(x)` (zero where ``h`` is linear, so there is no noise there),
    :math:`\xi \sim N(0, 1)` or, with ``half_normal=True`` (the paper's half-normal variant),
    :math:`|\xi|`, which ``d(x)`` points at ``h(x)`` from the leaky mix (``alpha > 1``) or into
    the range of ``h`` (``alpha <= 1``; the paper's ``d`` is 0 at ``alpha = 1``, we take the
    ``alpha < 1`` branch). In eval mode the noise is replaced by its expectation: 0, or
    :math:`E|\xi| = \sqrt{2/\pi}` for half-normal noise.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        alpha: mix of ``h`` and ``u``; ``> 1`` leaks past ``h`` with slope ``(1 - alpha) u'``. Default: 1.15.
        c: noise scale, > 0 (a float, or a 0-d tensor such as ``c * noise_scale``; not differentiated). Default: 0.5.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x`` (learnable). Default: 1.
        half_normal: use :math:`|\xi|` (NAN with half-normal noise). Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``alpha``, ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (NAN).

    Examples:
        >>> noisy_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-0.7000,  0.5000,  0.7000])
    """
    return apply_noisy(
        "noisy_hard_tanh",
        x,
        unit="hard_tanh",
        mode="nan",
        training=training,
        alpha=alpha,
        c=c,
        p=p,
        half_normal=half_normal,
        generator=generator,
    )


def noisy_hard_sigmoid(
    x: Tensor,
    /,
    *,
    training: bool,
    alpha: float = 1.1,
    c: float | Tensor = 0.15,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy hard-sigmoid, noise on the output (NAN): ``h = clip(x/4 + 1/2, 0, 1)``, ``u = x/4 + 1/2``.

    .. math::
        \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\xi, \qquad
        d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2

    with :math:`\Delta = h(x) - u(x)` (zero where ``h`` is linear, so there is no noise there),
    :math:`\xi \sim N(0, 1)` or, with ``half_normal=True`` (the paper's half-normal variant),
    :math:`|\xi|`, which ``d(x)`` points at ``h(x)`` from the leaky mix (``alpha > 1``) or into
    the range of ``h`` (``alpha <= 1``; the paper's ``d`` is 0 at ``alpha = 1``, we take the
    ``alpha < 1`` branch). In eval mode the noise is replaced by its expectation: 0, or
    :math:`E|\xi| = \sqrt{2/\pi}` for half-normal noise.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        alpha: mix of ``h`` and ``u``; ``> 1`` leaks past ``h`` with slope ``(1 - alpha) u'``. Default: 1.1.
        c: noise scale, > 0 (a float, or a 0-d tensor such as ``c * noise_scale``; not differentiated). Default: 0.15.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x`` (learnable). Default: 1.
        half_normal: use :math:`|\xi|` (NAN with half-normal noise). Default: ``False``,
            where the official ``NSigmoidP`` defaults to half-normal noise: Gaussian noise is the
            paper's equation as written, and all four NAN units then share one default.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``alpha``, ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (NAN).

    Examples:
        >>> noisy_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0500, 0.7500, 0.9500])
    """
    return apply_noisy(
        "noisy_hard_sigmoid",
        x,
        unit="hard_sigmoid",
        mode="nan",
        training=training,
        alpha=alpha,
        c=c,
        p=p,
        half_normal=half_normal,
        generator=generator,
    )


def noisy_tanh(
    x: Tensor,
    /,
    *,
    training: bool,
    alpha: float = 1.15,
    c: float | Tensor = 0.5,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy tanh, noise on the output (NAN): ``h = tanh``, ``u = x``.

    .. math::
        \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\xi, \qquad
        d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2

    with :math:`\Delta = h(x) - u(x)` (nonzero everywhere but at 0, growing with saturation),
    :math:`\xi \sim N(0, 1)` or, with ``half_normal=True`` (the paper's half-normal variant),
    :math:`|\xi|`, which ``d(x)`` points at ``h(x)`` from the leaky mix (``alpha > 1``) or into
    the range of ``h`` (``alpha <= 1``; the paper's ``d`` is 0 at ``alpha = 1``, we take the
    ``alpha < 1`` branch). In eval mode the noise is replaced by its expectation: 0, or
    :math:`E|\xi| = \sqrt{2/\pi}` for half-normal noise.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        alpha: mix of ``h`` and ``u``; ``> 1`` leaks past ``h`` with slope ``(1 - alpha) u'``. Default: 1.15.
        c: noise scale, > 0 (a float, or a 0-d tensor such as ``c * noise_scale``; not differentiated). Default: 0.5.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x`` (learnable). Default: 1.
        half_normal: use :math:`|\xi|` (NAN with half-normal noise). Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``alpha``, ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (NAN).

    Examples:
        >>> noisy_tanh(torch.tensor([-3.0, 0.0, 3.0]), training=False)
        tensor([-0.6943,  0.0000,  0.6943])
    """
    return apply_noisy(
        "noisy_tanh",
        x,
        unit="tanh",
        mode="nan",
        training=training,
        alpha=alpha,
        c=c,
        p=p,
        half_normal=half_normal,
        generator=generator,
    )


def noisy_sigmoid(
    x: Tensor,
    /,
    *,
    training: bool,
    alpha: float = 1.1,
    c: float | Tensor = 0.15,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy sigmoid, noise on the output (NAN): ``h = sigmoid``, ``u = x/4 + 1/2``.

    .. math::
        \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\xi, \qquad
        d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1 - \alpha), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2

    with :math:`\Delta = h(x) - u(x)` (nonzero everywhere but at 0, growing with saturation),
    :math:`\xi \sim N(0, 1)` or, with ``half_normal=True`` (the paper's half-normal variant),
    :math:`|\xi|`, which ``d(x)`` points at ``h(x)`` from the leaky mix (``alpha > 1``) or into
    the range of ``h`` (``alpha <= 1``; the paper's ``d`` is 0 at ``alpha = 1``, we take the
    ``alpha < 1`` branch). In eval mode the noise is replaced by its expectation: 0, or
    :math:`E|\xi| = \sqrt{2/\pi}` for half-normal noise.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        alpha: mix of ``h`` and ``u``; ``> 1`` leaks past ``h`` with slope ``(1 - alpha) u'``. Default: 1.1.
        c: noise scale, > 0 (a float, or a 0-d tensor such as ``c * noise_scale``; not differentiated). Default: 0.15.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x`` (learnable). Default: 1.
        half_normal: use :math:`|\xi|` (NAN with half-normal noise). Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``alpha``, ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (NAN).

    Examples:
        >>> noisy_sigmoid(torch.tensor([-4.0, 0.0, 4.0]), training=False)
        tensor([0.0698, 0.5000, 0.9302])
    """
    return apply_noisy(
        "noisy_sigmoid",
        x,
        unit="sigmoid",
        mode="nan",
        training=training,
        alpha=alpha,
        c=c,
        p=p,
        half_normal=half_normal,
        generator=generator,
    )


class _NANModule(NoisyActivation):
    _function = staticmethod(noisy_hard_tanh)

    def __init__(
        self,
        alpha: float,
        c: float,
        p_init: float | str,
        half_normal: bool,
        num_parameters: int,
        learn_p: bool,
        device=None,
        dtype=None,
    ) -> None:
        check_finite(type(self).__name__, "alpha", alpha)
        super().__init__(
            c=c,
            p_init=p_init,
            half_normal=half_normal,
            num_parameters=num_parameters,
            learn_p=learn_p,
            device=device,
            dtype=dtype,
        )
        self.alpha = float(alpha)

    def forward(self, x: Tensor, /) -> Tensor:
        check_channels(type(self).__name__, self.num_parameters, x)
        return self._function(
            x,
            training=self.training,
            alpha=self.alpha,
            c=self._effective_c(),
            p=channel_view(self.p, x),
            half_normal=bool(self.half_normal),
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, " + super().extra_repr()


class NoisyHardTanh(_NANModule):
    r"""Hard-tanh + output noise in its saturated part (NAN; half_normal=True: half-normal noise).

    See :func:`actlab.functional.noisy_hard_tanh` for the math. Noise only in training mode.

    Args:
        alpha: mix of ``h`` and its linearisation ``u``. Default: 1.15.
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.5.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
        half_normal: half-normal noise pointed by ``d(x)``. Default: ``False``.
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained (the paper learns it per unit). Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.

    Examples:
        >>> m = NoisyHardTanh().eval()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    _function = staticmethod(noisy_hard_tanh)

    def __init__(
        self,
        alpha: float = 1.15,
        c: float = 0.5,
        p_init: float | str = 1.0,
        half_normal: bool = False,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(alpha, c, p_init, half_normal, num_parameters, learn_p, device, dtype)


class NoisyHardSigmoid(_NANModule):
    r"""Hard-sigmoid x/4+1/2 + output noise in its saturated part (NAN; half_normal=True: half-normal noise).

    See :func:`actlab.functional.noisy_hard_sigmoid` for the math. Noise only in training mode.

    Args:
        alpha: mix of ``h`` and its linearisation ``u``. Default: 1.1.
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.15.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
        half_normal: half-normal noise pointed by ``d(x)``. Default: ``False`` (the official
            ``NSigmoidP`` defaults to half-normal; see `noisy_hard_sigmoid`).
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained (the paper learns it per unit). Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.

    Examples:
        >>> m = NoisyHardSigmoid().eval()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    _function = staticmethod(noisy_hard_sigmoid)

    def __init__(
        self,
        alpha: float = 1.1,
        c: float = 0.15,
        p_init: float | str = 1.0,
        half_normal: bool = False,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(alpha, c, p_init, half_normal, num_parameters, learn_p, device, dtype)


class NoisyTanh(_NANModule):
    r"""Tanh + output noise growing with its distance from the linearisation x (NAN).

    See :func:`actlab.functional.noisy_tanh` for the math. Noise only in training mode.

    Args:
        alpha: mix of ``h`` and its linearisation ``u``. Default: 1.15.
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.5.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
        half_normal: half-normal noise pointed by ``d(x)``. Default: ``False``.
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained (the paper learns it per unit). Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.

    Examples:
        >>> m = NoisyTanh().eval()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    _function = staticmethod(noisy_tanh)

    def __init__(
        self,
        alpha: float = 1.15,
        c: float = 0.5,
        p_init: float | str = 1.0,
        half_normal: bool = False,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(alpha, c, p_init, half_normal, num_parameters, learn_p, device, dtype)


class NoisySigmoid(_NANModule):
    r"""Sigmoid + output noise growing with its distance from x/4+1/2 (NAN).

    See :func:`actlab.functional.noisy_sigmoid` for the math. Noise only in training mode.

    Args:
        alpha: mix of ``h`` and its linearisation ``u``. Default: 1.1.
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.15.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
        half_normal: half-normal noise pointed by ``d(x)``. Default: ``False``.
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained (the paper learns it per unit). Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: noise-sigmoid slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.

    Examples:
        >>> m = NoisySigmoid().eval()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    _function = staticmethod(noisy_sigmoid)

    def __init__(
        self,
        alpha: float = 1.1,
        c: float = 0.15,
        p_init: float | str = 1.0,
        half_normal: bool = False,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(alpha, c, p_init, half_normal, num_parameters, learn_p, device, dtype)


def saturated_tanh(x: Tensor) -> Tensor:
    return x.abs() >= 1.0


def saturated_sigmoid(x: Tensor) -> Tensor:
    return x.abs() >= 2.0


for _name, _cls, _fn, _sat, _desc in (
    (
        "noisy_hard_tanh",
        NoisyHardTanh,
        noisy_hard_tanh,
        saturated_tanh,
        "hard-tanh + output noise in its saturated part (NAN; half_normal=True: half-normal noise)",
    ),
    (
        "noisy_hard_sigmoid",
        NoisyHardSigmoid,
        noisy_hard_sigmoid,
        saturated_sigmoid,
        "hard-sigmoid x/4+1/2 + output noise in its saturated part (NAN; half_normal=True: half-normal noise)",
    ),
    (
        "noisy_tanh",
        NoisyTanh,
        noisy_tanh,
        None,
        "tanh + output noise growing with its distance from the linearisation x (NAN)",
    ),
    (
        "noisy_sigmoid",
        NoisySigmoid,
        noisy_sigmoid,
        None,
        "sigmoid + output noise growing with its distance from x/4+1/2 (NAN)",
    ),
):
    register(
        ActivationSpec(
            name=_name,
            module=_cls,
            function=_fn,
            family="noisy",
            description=_desc,
            paper=PAPER,
            stochastic=True,
            saturation=_sat,
        )
    )
