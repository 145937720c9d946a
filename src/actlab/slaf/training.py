"""Training-routine pieces for learnable activations, usable with `actlab.training.train`.

The SLAF paper's routines (PAPERS.md, section 2) as small composable parts rather than a
trainer: a coefficient parameter group with its own learning rate and weight decay
(`optimizer_factory`), staged freezing of coefficients or weights (`CoefficientStages`, an
epoch callback), the authors' L1 penalty on the coefficients (`CoefficientL1`, a regulariser),
element-wise gradient clipping of the coefficients (`clip_coefficient_gradients`), and
`cycle_activations` to alternate activations by layer.

Example:
    >>> from actlab.harness.models import MLP
    >>> model = MLP(40, 10, act=cycle_activations("slaf(degree=4)", "relu"), hidden=(32, 32))
    >>> [type(m).__name__ for m in model.net if not isinstance(m, nn.Linear)]
    ['Flatten', 'SLAF', 'ReLU']
    >>> stages = CoefficientStages(coefficients_from=2)
    >>> stages.apply(model, epoch=1)  # before training: coefficients frozen in epoch 1
    >>> model.net[2].coefficients.requires_grad
    False
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from actlab.core.registry import activation_modules, create
from actlab.core.validation import check_bound, check_finite, check_int
from actlab.slaf.activation import SLAF
from actlab.slaf.batchnorm import SLAFBN

__all__ = [
    "CoefficientL1",
    "CoefficientStages",
    "activation_parameters",
    "clip_coefficient_gradients",
    "cycle_activations",
    "learned_polynomials",
    "optimizer_factory",
]


def activation_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters owned by registered activation modules (SLAF coefficients, PReLU slopes, ...).

    Frozen ones included, so an optimizer built from this list can train them after a later
    stage unfreezes them.
    """
    seen: dict[int, nn.Parameter] = {}
    for _, m in activation_modules(model):
        for p in m.parameters():
            seen.setdefault(id(p), p)
    return list(seen.values())


def optimizer_factory(
    model: nn.Module,
    optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
    *,
    lr: float = 1e-3,
    coef_lr: float | None = None,
    weight_decay: float = 0.0,
    coef_weight_decay: float = 0.0,
    **kwargs: Any,
) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    """An ``optimizer=`` for `train` with the activation coefficients in their own group.

    Args:
        model: the model whose activation parameters form the second group.
        optimizer: optimizer class. Default: Adam.
        lr, weight_decay: for every other parameter.
        coef_lr, coef_weight_decay: for the activation parameters (``coef_lr=None``: ``lr``).
        **kwargs: passed to ``optimizer``.

    The coefficient group holds all of ``model``'s activation parameters, even those frozen when
    the optimizer is built (``train`` hands over only trainable ones), so
    `CoefficientStages` can unfreeze them later; frozen parameters get no gradient and are skipped.
    """
    check_bound("optimizer_factory", "lr", lr, ">", 0)
    if coef_lr is not None:
        check_bound("optimizer_factory", "coef_lr", coef_lr, ">", 0)

    def make(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        coefs = activation_parameters(model)
        ids = {id(p) for p in coefs}
        groups = [
            {"params": [p for p in params if id(p) not in ids], "lr": lr, "weight_decay": weight_decay},
            {"params": coefs, "lr": lr if coef_lr is None else coef_lr, "weight_decay": coef_weight_decay},
        ]
        return optimizer([g for g in groups if g["params"]], **kwargs)

    return make


@dataclass
class CoefficientStages:
    """Epoch callback that freezes and unfreezes activation coefficients and the other weights.

    Epochs count from 1. ``train`` calls callbacks *after* each epoch, so the callback
    sets up epoch ``epoch + 1``; call ``apply(model, epoch=1)`` once before training.

    Attributes:
        coefficients_from: first epoch in which the activation parameters train (1: from the
            start; e.g. 3: the layer keeps its fitted ``init`` shape for two epochs first).
        weights_until: last epoch in which the other parameters train (``None``: always; e.g.
            to end with a stage that tunes only the activations).
    """

    coefficients_from: int = 1
    weights_until: int | None = None

    def __post_init__(self) -> None:
        check_int("CoefficientStages", "coefficients_from", self.coefficients_from, ">=", 1)
        if self.weights_until is not None:
            check_int("CoefficientStages", "weights_until", self.weights_until, ">=", 1)

    def apply(self, model: nn.Module, epoch: int) -> None:
        """Set ``requires_grad`` for ``epoch``."""
        coefs = {id(p) for p in activation_parameters(model)}
        train_weights = self.weights_until is None or epoch <= self.weights_until
        for p in model.parameters():
            p.requires_grad_(epoch >= self.coefficients_from if id(p) in coefs else train_weights)

    def __call__(self, epoch: int, model: nn.Module, record: dict[str, float]) -> None:
        self.apply(model, epoch + 1)


@dataclass
class CoefficientL1:
    r"""``regularizer=`` for `train`: :math:`\lambda \sum |a_k|` over activation coefficients.

    Works for every learnable family: each registered activation module's parameters are
    penalised whole, unless the module says otherwise with a ``penalised_parameters(include_bias)``
    method. SLAF does: the authors' code penalises its coefficients with
    :math:`\lambda = 10^{-4}` and leaves the constant term :math:`a_0` (their separate bias) out
    unless ``include_bias``.
    """

    weight: float = 1e-4
    include_bias: bool = False

    def __post_init__(self) -> None:
        check_finite("CoefficientL1", "weight", self.weight)
        check_bound("CoefficientL1", "weight", self.weight, ">=", 0)

    def __call__(self, model: nn.Module) -> Tensor:
        terms: list[Tensor] = []
        for _, m in activation_modules(model):
            own = getattr(m, "penalised_parameters", None)
            params = own(self.include_bias) if own is not None else list(m.parameters(recurse=False))
            terms.extend(p.abs().sum() for p in params)
        return self.weight * torch.stack(terms).sum() if terms else torch.zeros(())


class _ClampGrad:
    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, grad: Tensor) -> Tensor:
        return grad.clamp(-self.value, self.value)


def clip_coefficient_gradients(model: nn.Module, max_value: float = 5.0) -> list[RemovableHandle]:
    """Clip every activation parameter's gradient element-wise to ``[-max_value, max_value]``.

    One of the authors' routines (their history clips at 5.0). Implemented as tensor hooks, so
    it composes with any loop; ``handle.remove()`` undoes it. PyTorch warns when pickling a whole
    model with hooks (state dicts are unaffected): remove them before ``torch.save(model)``.
    """
    check_finite("clip_coefficient_gradients", "max_value", max_value)
    check_bound("clip_coefficient_gradients", "max_value", max_value, ">", 0)
    return [p.register_hook(_ClampGrad(float(max_value))) for p in activation_parameters(model)]


def cycle_activations(*specs: str) -> Callable[[], nn.Module]:
    """A zero-argument factory returning ``create(spec)`` for each spec in turn, cycling.

    For models that take an activation factory (``actlab.harness.models.MLP(act=...)``), e.g.
    ``cycle_activations("slaf", "relu")`` alternates SLAF and ReLU layers. The authors' "SLAF
    with ReLU" is a split by layer type instead (SLAF in the conv layers, BN + ReLU in the dense
    ones): the harness spec ``hybrid(conv='slaf_bn', dense='relu')``
    (`actlab.harness.models.LayerActs`). `SLAFReLU` (ReLU plus a polynomial in one unit) is
    neither.
    """
    if not specs:
        raise ValueError("cycle_activations: `specs` must name at least one activation, got ()")
    for s in specs:
        create(s)  # fail now, not at the model's third layer
    it = itertools.cycle(specs)
    return lambda: create(next(it))


def learned_polynomials(model: nn.Module) -> dict[str, list[np.polynomial.Polynomial]]:
    """``{module name: .polynomial()}`` for every `SLAF` / `SLAFBN` in ``model`` (closed forms, per channel).

    Where each is exact: a `SLAF` with a ``range`` is the polynomial on the range only (tangent
    lines outside); a `SLAFReLU`'s is the part added to ReLU; a `SLAFBN`'s is its eval-mode
    function (running statistics) on the whole line.
    """
    return {name: m.polynomial() for name, m in model.named_modules() if isinstance(m, (SLAF, SLAFBN))}
