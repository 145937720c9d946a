r"""actlab's own input-noise units: ``h(x - sgn(x) sigma(x) xi)`` with the output-noise ``sigma`` (Gulcehre et al., 2016).

Not the official code's input-noise units (NANI with a constant or learned scale, and NANIS,
noise only past the saturation threshold: `actlab.noisy.nani`). These put the paper's
output-noise scale :math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta) - \tfrac12)^2` on the input:
zero noise where ``h`` is linear and at most ``c/4``, so at the default ``c`` a saturated input
is seldom moved back; they need an annealed, large ``c``. Kept under their names (with this
note) because they are the input-noise form that has soft-unit versions (tanh, sigmoid gates)
and a C kernel, and because experiments and benchmarks recorded with them stay comparable.
Shares the units, the kernels and the module base with the output-noise units (`actlab.noisy.core`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from actlab.core.channels import channel_view
from actlab.core.registry import ActivationSpec, register
from actlab.noisy.core import PAPER, NoisyActivation, apply_noisy, check_channels
from actlab.noisy.output import saturated_sigmoid, saturated_tanh

__all__ = [
    "NoisyInputHardSigmoid",
    "NoisyInputHardTanh",
    "NoisyInputSigmoid",
    "NoisyInputTanh",
    "noisy_input_hard_sigmoid",
    "noisy_input_hard_tanh",
    "noisy_input_sigmoid",
    "noisy_input_tanh",
]


def _nani(
    owner: str,
    unit: str,
    x: Tensor,
    training: bool,
    c: float | Tensor,
    p: float | Tensor,
    half_normal: bool,
    generator: torch.Generator | None,
) -> Tensor:
    return apply_noisy(
        owner,
        x,
        unit=unit,
        mode="nani",
        training=training,
        alpha=1.0,
        c=c,
        p=p,
        half_normal=half_normal,
        generator=generator,
    )


def noisy_input_hard_tanh(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy hard-tanh with input noise scaled by the NAN sigma (actlab variant), ``h = clip(x, -1, 1)``.

    .. math::
        \phi(x, \xi) = h\bigl(x - \mathrm{sgn}(x)\,\sigma(x)\,\xi\bigr), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2, \qquad \Delta = h(x) - u(x)

    :math:`\xi \sim N(0, 1)` (the sign factor does not change its law), or :math:`|\xi|` with
    ``half_normal=True``, which always moves the input toward the linear region. No noise where ``h`` is linear.
    In eval mode :math:`\xi` is replaced by its expectation (0, or :math:`\sqrt{2/\pi}` for half-normal
    noise), as the paper prescribes; note that this is :math:`h(x + \sigma E\xi)`, not
    :math:`E[h(x + \sigma\xi)]`.

    **actlab's own variant, not the paper's official NANI units** (those are
    `actlab.noisy.nani`: ``nani_*``, ``nani_learned_*``, ``nanis_*``). The paper writes input
    noise as :math:`h(x + \sigma(x)\xi)`; this unit takes the output-noise :math:`\sigma`, which
    is 0 where ``h`` is linear and below ``c/4``, so at the default ``c`` it rarely moves a
    saturated input back (it needs an annealed, large ``c``). Kept because it is the one
    input-noise form with a soft-unit version and a C kernel.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x``. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (input noise, actlab variant).

    Examples:
        >>> noisy_input_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _nani("noisy_input_hard_tanh", "hard_tanh", x, training, c, p, half_normal, generator)


def noisy_input_hard_sigmoid(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy hard-sigmoid, input noise scaled by the NAN sigma (actlab variant), ``h = clip(x/4 + 1/2, 0, 1)``.

    .. math::
        \phi(x, \xi) = h\bigl(x - \mathrm{sgn}(x)\,\sigma(x)\,\xi\bigr), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2, \qquad \Delta = h(x) - u(x)

    :math:`\xi \sim N(0, 1)` (the sign factor does not change its law), or :math:`|\xi|` with
    ``half_normal=True``, which always moves the input toward the linear region. No noise where ``h`` is linear.
    In eval mode :math:`\xi` is replaced by its expectation (0, or :math:`\sqrt{2/\pi}` for half-normal
    noise), as the paper prescribes; note that this is :math:`h(x + \sigma E\xi)`, not
    :math:`E[h(x + \sigma\xi)]`.

    **actlab's own variant, not the paper's official NANI units** (those are
    `actlab.noisy.nani`: ``nani_*``, ``nani_learned_*``, ``nanis_*``). The paper writes input
    noise as :math:`h(x + \sigma(x)\xi)`; this unit takes the output-noise :math:`\sigma`, which
    is 0 where ``h`` is linear and below ``c/4``, so at the default ``c`` it rarely moves a
    saturated input back (it needs an annealed, large ``c``). Kept because it is the one
    input-noise form with a soft-unit version and a C kernel.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x``. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (input noise, actlab variant).

    Examples:
        >>> noisy_input_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0000, 0.7500, 1.0000])
    """
    return _nani("noisy_input_hard_sigmoid", "hard_sigmoid", x, training, c, p, half_normal, generator)


def noisy_input_tanh(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy tanh with input noise scaled by the NAN sigma (actlab variant), ``h = tanh``, ``u = x``.

    .. math::
        \phi(x, \xi) = h\bigl(x - \mathrm{sgn}(x)\,\sigma(x)\,\xi\bigr), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2, \qquad \Delta = h(x) - u(x)

    :math:`\xi \sim N(0, 1)` (the sign factor does not change its law), or :math:`|\xi|` with
    ``half_normal=True``, which always moves the input toward the linear region. The noise grows
    with the distance of ``tanh`` from its linearisation.
    In eval mode :math:`\xi` is replaced by its expectation (0, or :math:`\sqrt{2/\pi}` for half-normal
    noise), as the paper prescribes; note that this is :math:`h(x + \sigma E\xi)`, not
    :math:`E[h(x + \sigma\xi)]`.

    **actlab's own variant, not the paper's official NANI units** (those are
    `actlab.noisy.nani`: ``nani_*``, ``nani_learned_*``, ``nanis_*``). The paper writes input
    noise as :math:`h(x + \sigma(x)\xi)`; this unit takes the output-noise :math:`\sigma`, which
    is 0 where ``h`` is linear and below ``c/4``, so at the default ``c`` it rarely moves a
    saturated input back (it needs an annealed, large ``c``). Kept because it is the one
    input-noise form with a soft-unit version and a C kernel.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x``. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (input noise, actlab variant).

    Examples:
        >>> noisy_input_tanh(torch.tensor([-3.0, 0.0, 3.0]), training=False)
        tensor([-0.9951,  0.0000,  0.9951])
    """
    return _nani("noisy_input_tanh", "tanh", x, training, c, p, half_normal, generator)


def noisy_input_sigmoid(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    half_normal: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Noisy sigmoid with input noise scaled by the NAN sigma (actlab variant), ``h = sigmoid``.

    .. math::
        \phi(x, \xi) = h\bigl(x - \mathrm{sgn}(x)\,\sigma(x)\,\xi\bigr), \qquad
        \sigma(x) = c\,\bigl(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12\bigr)^2, \qquad \Delta = h(x) - u(x)

    :math:`\xi \sim N(0, 1)` (the sign factor does not change its law), or :math:`|\xi|` with
    ``half_normal=True``, which always moves the input toward the linear region. The noise grows
    with the distance of ``sigmoid`` from its linearisation.
    In eval mode :math:`\xi` is replaced by its expectation (0, or :math:`\sqrt{2/\pi}` for half-normal
    noise), as the paper prescribes; note that this is :math:`h(x + \sigma E\xi)`, not
    :math:`E[h(x + \sigma\xi)]`.

    **actlab's own variant, not the paper's official NANI units** (those are
    `actlab.noisy.nani`: ``nani_*``, ``nani_learned_*``, ``nanis_*``). The paper writes input
    noise as :math:`h(x + \sigma(x)\xi)`; this unit takes the output-noise :math:`\sigma`, which
    is 0 where ``h`` is linear and below ``c/4``, so at the default ``c`` it rarely moves a
    saturated input back (it needs an annealed, large ``c``). Kept because it is the one
    input-noise form with a soft-unit version and a C kernel.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or use its expectation (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25.
        p: slope of the noise sigmoid; a float or a tensor broadcastable to ``x``. Default: 1.
        half_normal: half-normal noise toward the linear region. Default: ``False``.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training`` or ``half_normal``.

    Paper: Gulcehre et al., "Noisy Activation Functions", ICML 2016, arXiv:1603.00391 (input noise, actlab variant).

    Examples:
        >>> noisy_input_sigmoid(torch.tensor([-4.0, 0.0, 4.0]), training=False)
        tensor([0.0180, 0.5000, 0.9820])
    """
    return _nani("noisy_input_sigmoid", "sigmoid", x, training, c, p, half_normal, generator)


class _NANIModule(NoisyActivation):
    _function = staticmethod(noisy_input_hard_tanh)

    def __init__(
        self,
        c: float = 0.25,
        p_init: float | str = 1.0,
        half_normal: bool = False,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            c=c,
            p_init=p_init,
            half_normal=half_normal,
            num_parameters=num_parameters,
            learn_p=learn_p,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: Tensor, /) -> Tensor:
        check_channels(type(self).__name__, self.num_parameters, x)
        return self._function(
            x,
            training=self.training,
            c=self._effective_c(),
            p=channel_view(self.p, x),
            half_normal=bool(self.half_normal),
        )


class NoisyInputHardTanh(_NANIModule):
    r"""Hard-tanh of an input perturbed in its saturated part (actlab's input-noise variant).

    See :func:`actlab.functional.noisy_input_hard_tanh` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
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

    _function = staticmethod(noisy_input_hard_tanh)


class NoisyInputHardSigmoid(_NANIModule):
    r"""Hard-sigmoid x/4+1/2 of an input perturbed in its saturated part (actlab's input-noise variant).

    See :func:`actlab.functional.noisy_input_hard_sigmoid` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
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

    _function = staticmethod(noisy_input_hard_sigmoid)


class NoisyInputTanh(_NANIModule):
    r"""Tanh of an input perturbed as it saturates (actlab's input-noise variant).

    See :func:`actlab.functional.noisy_input_tanh` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
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

    _function = staticmethod(noisy_input_tanh)


class NoisyInputSigmoid(_NANIModule):
    r"""Sigmoid of an input perturbed as it saturates (actlab's input-noise variant).

    See :func:`actlab.functional.noisy_input_sigmoid` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25.
        p_init: initial slope ``p`` of the noise sigmoid: a number, or ``"uniform"`` for U(-1, 1)
            per element (the official code's initialisation). Default: 1, not the official
            U(-1, 1): a constant keeps `reset_parameters` idempotent and the noise level
            independent of the seed, and U(-1, 1) starts ``p`` near 0, where
            :math:`\sigma \propto p^2` is almost no noise.
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

    _function = staticmethod(noisy_input_sigmoid)


for _name, _cls, _fn, _sat, _desc in (
    (
        "noisy_input_hard_tanh",
        NoisyInputHardTanh,
        noisy_input_hard_tanh,
        saturated_tanh,
        "hard-tanh of an input perturbed in its saturated part (actlab variant of input noise)",
    ),
    (
        "noisy_input_hard_sigmoid",
        NoisyInputHardSigmoid,
        noisy_input_hard_sigmoid,
        saturated_sigmoid,
        "hard-sigmoid x/4+1/2 of an input perturbed in its saturated part (actlab variant of input noise)",
    ),
    (
        "noisy_input_tanh",
        NoisyInputTanh,
        noisy_input_tanh,
        None,
        "tanh of an input perturbed as it saturates (actlab variant)",
    ),
    (
        "noisy_input_sigmoid",
        NoisyInputSigmoid,
        noisy_input_sigmoid,
        None,
        "sigmoid of an input perturbed as it saturates (actlab variant of input noise)",
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
