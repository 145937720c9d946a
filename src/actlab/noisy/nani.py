r"""The official code's input-noise units (Gulcehre et al., 2016): NANI, learned-scale NANI, NANIS.

The paper's authors released three input-noise forms for hard-tanh and hard-sigmoid (their
Theano ``nunits.py``: ``NHardTanh``/``NHardSigmoid``, ``NTanhPInp``/``NSigmoidPInp``,
``NHardTanhSat``/``NHardSigmoidSat``); these are re-derived from their formulas:

- ``nani_*``: :math:`h(x + c\,\xi)`, noise everywhere, ``c = 0.05``.
- ``nani_learned_*``: :math:`h(x + c\,\mathrm{softplus}(a)\,\xi)`,
  :math:`a = p\,|\Delta(x)| / (|\xi| + 10^{-10})`, ``c = 0.25``, ``p`` learned (per unit or
  per channel): the scale grows with the distance from the linear region.
- ``nanis_*``: :math:`h(x + c\,\xi)` where :math:`|x|` is past the saturation threshold
  (1.001 for hard-tanh, 2 for hard-sigmoid), :math:`h(x)` elsewhere, ``c = 0.25``.

:math:`\xi \sim N(0, 1)` from the family's keyed generator (`actlab.noisy.noise`), so a
``generator`` or ``torch.manual_seed`` reproduces them. At test time the official code sets the
noise to 0 (``use_noise=0``), so every unit here is :math:`h(x)` in eval mode. That is the
paper's "replace the noise by its expectation" inside ``h``, not :math:`E_\xi[h(x + c\xi)]`,
which differs where ``h`` bends (a saturated input's expected output lies inside the bound).

The math is `actlab.noisy.parts` (modes ``"nani_const"``, ``"nani_learned"``, ``"nanis"``);
they run on the torch-op path (fused by Inductor on large inputs), not the C kernel. The
noise scale ``c`` is multiplied by the modules' ``noise_scale`` buffer, so annealing schedules
(`actlab.noisy.annealing`) scale it.

Deviations from the official code (each also in the docstrings):

- ``nanis_hard_sigmoid`` computes ``test h(x + c xi) + (1 - test) h(x)``; the official
  ``NHardSigmoidSat`` has ``(1 - test) + h(x)``, a typo (its outputs leave [0, 1]).
- No half-normal option: the official constant and saturation-only units have none, and the
  learned-scale one's half-normal branch reads an undefined ``alpha`` (it cannot run).
- The learned ``p`` starts at ``p_init=1`` by default (``"uniform"`` gives the official U(-1, 1)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from actlab.core.channels import channel_view
from actlab.core.registry import ActivationSpec, register
from actlab.noisy.core import PAPER, NoisyActivation, apply_noisy, check_channels
from actlab.noisy.output import saturated_sigmoid, saturated_tanh

__all__ = [
    "NANIHardSigmoid",
    "NANIHardTanh",
    "NANILearnedHardSigmoid",
    "NANILearnedHardTanh",
    "NANISHardSigmoid",
    "NANISHardTanh",
    "nani_hard_sigmoid",
    "nani_hard_tanh",
    "nani_learned_hard_sigmoid",
    "nani_learned_hard_tanh",
    "nanis_hard_sigmoid",
    "nanis_hard_tanh",
]


def _run(
    owner: str,
    unit: str,
    mode: str,
    x: Tensor,
    training: bool,
    c: float | Tensor,
    p: float | Tensor,
    generator: torch.Generator | None,
) -> Tensor:
    return apply_noisy(
        owner,
        x,
        unit=unit,
        mode=mode,
        training=training,
        alpha=1.0,
        c=c,
        p=p,
        half_normal=False,
        generator=generator,
    )


def nani_hard_tanh(
    x: Tensor, /, *, training: bool, c: float | Tensor = 0.05, generator: torch.Generator | None = None
) -> Tensor:
    r"""NANI hard-tanh, the official constant-scale input noise: ``h(x + c xi)``, ``h = clip(x, -1, 1)``.

    .. math::
        \phi(x, \xi) = h(x + c\,\xi), \qquad \xi \sim N(0, 1)

    Noise everywhere, the linear region included. Eval mode: :math:`h(x)` (the official
    test-time noise is 0).

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise std, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.05 (official).
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or non-finite.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANI); official ``NHardTanh``.

    Examples:
        >>> nani_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _run("nani_hard_tanh", "hard_tanh", "nani_const", x, training, c, 0.0, generator)


def nani_hard_sigmoid(
    x: Tensor, /, *, training: bool, c: float | Tensor = 0.05, generator: torch.Generator | None = None
) -> Tensor:
    r"""NANI hard-sigmoid, the official constant-scale input noise: ``h(x + c xi)``, ``h = clip(x/4 + 1/2, 0, 1)``.

    .. math::
        \phi(x, \xi) = h(x + c\,\xi), \qquad \xi \sim N(0, 1)

    Noise everywhere, the linear region included. Eval mode: :math:`h(x)` (the official
    test-time noise is 0).

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise std, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.05 (official).
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or non-finite.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANI); official ``NHardSigmoid``.

    Examples:
        >>> nani_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0000, 0.7500, 1.0000])
    """
    return _run("nani_hard_sigmoid", "hard_sigmoid", "nani_const", x, training, c, 0.0, generator)


def nani_learned_hard_tanh(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Learned-scale NANI hard-tanh (official ``NTanhPInp``), ``h = clip(x, -1, 1)``, ``u = x``.

    .. math::
        \phi(x, \xi) = h\bigl(x + c\,\mathrm{softplus}(a)\,\xi\bigr), \qquad
        a = \frac{p\,|\Delta(x)|}{|\xi| + 10^{-10}}, \qquad \Delta = h(x) - u(x)

    In the linear region :math:`\Delta = 0` and the noise std is :math:`c \ln 2`; a saturated
    input moves by about :math:`c\,p\,|\Delta|` (where :math:`|\xi| \ll p|\Delta|`, the move tends
    to :math:`c\,p\,|\Delta|\,\mathrm{sgn}\,\xi`) or more. ``p`` is differentiable. Eval mode:
    :math:`h(x)` (the official test-time noise is 0).

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25 (official).
        p: slope of the scale; a float or a tensor broadcastable to ``x``. Default: 1.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANI with learned p); official ``NTanhPInp``.

    Examples:
        >>> nani_learned_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _run("nani_learned_hard_tanh", "hard_tanh", "nani_learned", x, training, c, p, generator)


def nani_learned_hard_sigmoid(
    x: Tensor,
    /,
    *,
    training: bool,
    c: float | Tensor = 0.25,
    p: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Learned-scale NANI hard-sigmoid (official ``NSigmoidPInp``), ``h = clip(x/4 + 1/2, 0, 1)``.

    .. math::
        \phi(x, \xi) = h\bigl(x + c\,\mathrm{softplus}(a)\,\xi\bigr), \qquad
        a = \frac{p\,|\Delta(x)|}{|\xi| + 10^{-10}}, \qquad \Delta = h(x) - (x/4 + 1/2)

    As `nani_learned_hard_tanh`; :math:`\Delta` is in output units (a quarter of the input's
    distance past the kink), so a saturated input moves by about :math:`c\,p\,|\Delta|` or more.
    Eval mode: :math:`h(x)`.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise scale, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25 (official).
        p: slope of the scale; a float or a tensor broadcastable to ``x``. Default: 1.
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or a non-finite ``c`` or ``p``; ``p`` not broadcastable to ``x``.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANI with learned p); official ``NSigmoidPInp``.

    Examples:
        >>> nani_learned_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0000, 0.7500, 1.0000])
    """
    return _run("nani_learned_hard_sigmoid", "hard_sigmoid", "nani_learned", x, training, c, p, generator)


def nanis_hard_tanh(
    x: Tensor, /, *, training: bool, c: float | Tensor = 0.25, generator: torch.Generator | None = None
) -> Tensor:
    r"""NANIS hard-tanh (official ``NHardTanhSat``): input noise only past the saturation threshold.

    .. math::
        \phi(x, \xi) = h\bigl(x + [\,|x| > 1.001\,]\;c\,\xi\bigr), \qquad h = \mathrm{clip}(x, -1, 1)

    The official threshold 1.001 (the kink at 1 plus a margin). Eval mode: :math:`h(x)`.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise std, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25 (official).
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or non-finite.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANIS); official ``NHardTanhSat``.

    Examples:
        >>> nanis_hard_tanh(torch.tensor([-3.0, 0.5, 3.0]), training=False)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return _run("nanis_hard_tanh", "hard_tanh", "nanis", x, training, c, 0.0, generator)


def nanis_hard_sigmoid(
    x: Tensor, /, *, training: bool, c: float | Tensor = 0.25, generator: torch.Generator | None = None
) -> Tensor:
    r"""NANIS hard-sigmoid (official ``NHardSigmoidSat``): input noise only past the saturation threshold.

    .. math::
        \phi(x, \xi) = h\bigl(x + [\,|x| > 2\,]\;c\,\xi\bigr), \qquad h = \mathrm{clip}(x/4 + 1/2, 0, 1)

    Deviation: the official ``NHardSigmoidSat`` returns ``test h(x + c xi) + (1 - test) + h(x)``,
    a typo for ``... + (1 - test) h(x)`` (its outputs leave [0, 1]); this is the intended form.
    Eval mode: :math:`h(x)`.

    Args:
        x: input of any shape (at most 2**31 - 1 elements in training).
        training: draw noise (``True``) or not (``False``); required.
        c: noise std, > 0 (a float or a 0-d tensor; not differentiated). Default: 0.25 (official).
        generator: source of the noise key; default the global generator.

    Raises:
        ValueError: ``c <= 0`` or non-finite.
        TypeError: a non-bool ``training``.

    Paper: Gulcehre et al., ICML 2016, arXiv:1603.00391 (NANIS); official ``NHardSigmoidSat``.

    Examples:
        >>> nanis_hard_sigmoid(torch.tensor([-4.0, 1.0, 4.0]), training=False)
        tensor([0.0000, 0.7500, 1.0000])
    """
    return _run("nanis_hard_sigmoid", "hard_sigmoid", "nanis", x, training, c, 0.0, generator)


class _FixedScale(NoisyActivation):
    """A unit whose only hyperparameter is ``c`` (no ``p``, Gaussian noise)."""

    _function = staticmethod(nani_hard_tanh)

    def __init__(self, c: float = 0.05, *, device=None, dtype=None) -> None:
        super().__init__(c=c, p_init=None, half_normal=None, device=device, dtype=dtype)

    def forward(self, x: Tensor, /) -> Tensor:
        return self._function(x, training=self.training, c=self._effective_c())


class NANIHardTanh(_FixedScale):
    """NANI hard-tanh: ``clip(x + c xi, -1, 1)`` in training, noise everywhere (official ``NHardTanh``).

    See :func:`actlab.functional.nani_hard_tanh` for the math. Noise only in training mode.

    Args:
        c: noise std, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.05 (official).
        device, dtype: factory arguments for ``noise_scale``.

    Shape:
        - Input: :math:`(*)`. Output: same shape.

    Attributes:
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nani_hard_tanh)


class NANIHardSigmoid(_FixedScale):
    """NANI hard-sigmoid: ``clip((x + c xi)/4 + 1/2, 0, 1)`` in training (official ``NHardSigmoid``).

    See :func:`actlab.functional.nani_hard_sigmoid` for the math. Noise only in training mode.

    Args:
        c: noise std, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.05 (official).
        device, dtype: factory arguments for ``noise_scale``.

    Shape:
        - Input: :math:`(*)`. Output: same shape.

    Attributes:
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nani_hard_sigmoid)


class NANISHardTanh(_FixedScale):
    """NANIS hard-tanh: input noise only where ``|x| > 1.001`` (official ``NHardTanhSat``).

    See :func:`actlab.functional.nanis_hard_tanh` for the math. Noise only in training mode.

    Args:
        c: noise std, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25 (official).
        device, dtype: factory arguments for ``noise_scale``.

    Shape:
        - Input: :math:`(*)`. Output: same shape.

    Attributes:
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nanis_hard_tanh)

    def __init__(self, c: float = 0.25, *, device=None, dtype=None) -> None:
        super().__init__(c, device=device, dtype=dtype)


class NANISHardSigmoid(_FixedScale):
    """NANIS hard-sigmoid: input noise only where ``|x| > 2`` (official ``NHardSigmoidSat``, its typo fixed).

    See :func:`actlab.functional.nanis_hard_sigmoid` for the math and the deviation. Noise only
    in training mode.

    Args:
        c: noise std, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25 (official).
        device, dtype: factory arguments for ``noise_scale``.

    Shape:
        - Input: :math:`(*)`. Output: same shape.

    Attributes:
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nanis_hard_sigmoid)

    def __init__(self, c: float = 0.25, *, device=None, dtype=None) -> None:
        super().__init__(c, device=device, dtype=dtype)


class _LearnedScale(NoisyActivation):
    _function = staticmethod(nani_learned_hard_tanh)

    def __init__(
        self,
        c: float = 0.25,
        p_init: float | str = 1.0,
        num_parameters: int = 1,
        learn_p: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            c=c,
            p_init=p_init,
            half_normal=None,
            num_parameters=num_parameters,
            learn_p=learn_p,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: Tensor, /) -> Tensor:
        check_channels(type(self).__name__, self.num_parameters, x)
        return self._function(x, training=self.training, c=self._effective_c(), p=channel_view(self.p, x))


class NANILearnedHardTanh(_LearnedScale):
    """Learned-scale NANI hard-tanh (official ``NTanhPInp``): ``clip(x + c softplus(p |Delta| / |xi|) xi, -1, 1)``.

    See :func:`actlab.functional.nani_learned_hard_tanh` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25 (official).
        p_init: initial ``p``: a number, or ``"uniform"`` for U(-1, 1) per element (the official
            initialisation). Default: 1, not the official U(-1, 1): a constant keeps
            `reset_parameters` idempotent and the noise level independent of the seed, and a
            ``p`` near 0 or below makes the scale ``c ln 2`` or less everywhere (no extra noise
            where saturated).
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1); the official
            code learns one per unit. Default: 1.
        learn_p: whether ``p`` is trained. Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: scale slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nani_learned_hard_tanh)


class NANILearnedHardSigmoid(_LearnedScale):
    """Learned-scale NANI hard-sigmoid (official ``NSigmoidPInp``).

    See :func:`actlab.functional.nani_learned_hard_sigmoid` for the math. Noise only in training mode.

    Args:
        c: noise scale, > 0 (multiplied by the ``noise_scale`` buffer). Default: 0.25 (official).
        p_init: initial ``p``: a number, or ``"uniform"`` for U(-1, 1) per element (the official
            initialisation). Default: 1 (see `NANILearnedHardTanh` for why).
        num_parameters: 1 for one shared ``p`` or the number of channels (dim 1). Default: 1.
        learn_p: whether ``p`` is trained. Default: ``True``.
        device, dtype: factory arguments for ``p`` and ``noise_scale``.

    Shape:
        - Input: :math:`(*)`, channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape.

    Attributes:
        p: scale slope, shape ``(num_parameters,)``.
        noise_scale: 0-d buffer multiplying ``c`` (set by `actlab.noisy.annealing` schedules), initially 1.
    """

    _function = staticmethod(nani_learned_hard_sigmoid)


for _name, _cls, _fn, _sat, _desc in (
    ("nani_hard_tanh", NANIHardTanh, nani_hard_tanh, saturated_tanh, "hard-tanh of x + c xi (official NANI)"),
    (
        "nani_hard_sigmoid",
        NANIHardSigmoid,
        nani_hard_sigmoid,
        saturated_sigmoid,
        "hard-sigmoid x/4+1/2 of x + c xi (official NANI)",
    ),
    (
        "nani_learned_hard_tanh",
        NANILearnedHardTanh,
        nani_learned_hard_tanh,
        saturated_tanh,
        "hard-tanh of x + c softplus(p |Delta| / |xi|) xi (official learned-scale NANI)",
    ),
    (
        "nani_learned_hard_sigmoid",
        NANILearnedHardSigmoid,
        nani_learned_hard_sigmoid,
        saturated_sigmoid,
        "hard-sigmoid x/4+1/2 of x + c softplus(p |Delta| / |xi|) xi (official learned-scale NANI)",
    ),
    (
        "nanis_hard_tanh",
        NANISHardTanh,
        nanis_hard_tanh,
        saturated_tanh,
        "hard-tanh with input noise only where |x| > 1.001 (official NANIS)",
    ),
    (
        "nanis_hard_sigmoid",
        NANISHardSigmoid,
        nanis_hard_sigmoid,
        saturated_sigmoid,
        "hard-sigmoid x/4+1/2 with input noise only where |x| > 2 (official NANIS)",
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
