"""`GradientActivation`: gradient activation functions for any `torch.optim.Optimizer`.

Chen et al. (arXiv 2107.04228) apply ``g`` to the raw gradient before weight decay and
momentum (their ``SGD_atan``/``Adam_atan``); that is ``placement="grad"`` here, the default.
Their code also applies ``g`` to the momentum output (``SGD_atanMom``); ``placement="update"``
generalises that to any optimizer by activating the update direction ``(p_old - p_new) / lr``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import optimizer as _optimizer_module

from actlab.core.validation import check_choice, check_type, fail
from actlab.gaf.functions import Resolved, resolve
from actlab.gaf.fused import FusedStep, check_fusable

__all__ = ["GradientActivation", "activate_gradients_", "exclude_parameters"]

PLACEMENTS = ("grad", "update")
# Per-group settings live in the param group itself, so the inner optimizer's state_dict saves
# them, and a user can set them per group (``{"params": ..., "gaf_alpha": 0.1}``) or schedule them.
KEYS = ("gaf_fn", "gaf_alpha", "gaf_beta")
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm, nn.LocalResponseNorm)

GradFn = str | Callable[[torch.Tensor], torch.Tensor]


def _dense_grads(owner: str, params: Iterable[torch.Tensor], skip: set[int]) -> list[torch.Tensor]:
    grads = []
    for p in params:
        g = p.grad
        if g is None or id(p) in skip:
            continue
        if g.layout != torch.strided:  # sparse COO/CSR/... layouts
            fail(
                owner,
                "p.grad",
                "a dense (strided) tensor; sparse gradients are not supported",
                f"layout {g.layout} for a parameter of shape {tuple(p.shape)}",
                TypeError,
            )
        grads.append(g)
    return grads


@torch.no_grad()
def activate_gradients_(
    params: Iterable[torch.Tensor], fn: GradFn = "atan", *, alpha: float | None = None, beta: float | None = None
) -> None:
    r"""Apply a gradient activation to every ``p.grad`` in place (for custom training loops).

    .. math:: \nabla_p \leftarrow g(\nabla_p), \quad g(x) = \alpha \arctan(\beta x) \text{ by default}

    Call it between ``backward()`` (after any all-reduce and unscaling) and ``optimizer.step()``.
    ``None`` gradients are skipped.

    Args:
        params: parameters (or tensors) whose ``.grad`` is transformed.
        fn: a registered name (``atan``, ``atan_unit``, ``tanh``, ``identity``) or a callable.
        alpha, beta: the entry's parameters (``None``: its defaults, ``0.3``/``4.5`` for atan).

    Raises:
        ValueError: invalid ``fn``/``alpha``/``beta``.
        TypeError: a sparse gradient.

    Examples:
        >>> p = torch.zeros(2, requires_grad=True); p.grad = torch.tensor([1e-3, 10.0])
        >>> activate_gradients_([p], "atan", alpha=0.1, beta=20.0); p.grad
        tensor([0.0020, 0.1566])
    """
    owner = "activate_gradients_"
    resolve(owner, fn, alpha, beta).apply_(_dense_grads(owner, params, set()))


def exclude_parameters(
    model: nn.Module, *patterns: str, biases: bool = False, norms: bool = False
) -> list[nn.Parameter]:
    """Parameters to pass as ``GradientActivation(..., exclude=...)``.

    Args:
        model: the model.
        *patterns: `fnmatch` patterns over qualified names, e.g. ``"fc.*"`` for the head.
        biases: include every parameter whose name ends in ``bias``.
        norms: include every parameter of a normalisation layer (batch/group/layer/RMS norm).
    """
    norm_ids = {id(p) for m in model.modules() if isinstance(m, _NORMS) for p in m.parameters(recurse=False)}
    return [
        p
        for name, p in model.named_parameters()
        if any(fnmatch.fnmatchcase(name, pat) for pat in patterns)
        or (biases and name.rsplit(".", 1)[-1] == "bias")
        or (norms and id(p) in norm_ids)
    ]


class GradientActivation(torch.optim.Optimizer):
    r"""Wrap any optimizer so that its ``step()`` sees activated gradients ``g(grad)``.

    With ``placement="grad"`` (default, the paper's ``SGD_atan``/``Adam_atan``) ``g`` is applied
    to ``p.grad`` in place right before the wrapped ``step()``, i.e. to the raw gradient *before*
    weight decay and momentum:

    .. math:: \tilde\nabla = g(\nabla L), \quad \text{then the inner update on } \tilde\nabla.

    With ``placement="update"`` the inner optimizer steps on the raw gradient and ``g`` is applied
    to its update direction ``d = (p_{old} - p_{new}) / lr``, giving ``p_{old} - lr\, g(d)``; for
    SGD with momentum ``d`` is the momentum buffer, which is the official ``SGD_atanMom`` (the
    buffer itself is left unactivated, as there).

    The wrapper is an `Optimizer` (LR schedulers, `GradScaler`, `train` accept it)
    whose ``param_groups`` and ``state`` *are* the inner optimizer's. Per-group settings are the
    group keys ``gaf_fn``, ``gaf_alpha``, ``gaf_beta`` (filled from the constructor where a group
    lacks them, saved by ``state_dict``).

    Correct in real loops: under ``GradScaler``, ``scaler.step(wrapped)`` unscales the gradients
    (and checks for infs) before calling ``wrapped.step()``, so ``g`` sees true gradients; with
    gradient accumulation ``g`` runs once per ``step()`` on the accumulated gradient; under DDP
    ``step()`` runs after backward's all-reduce. ``None`` gradients are skipped; sparse ones raise.

    Args:
        optimizer: the inner optimizer (not LBFGS, whose closure is re-evaluated inside step).
        fn: a registered gradient activation (``atan``, ``atan_unit``, ``tanh``, ``identity``)
            or a callable ``g(x) -> Tensor`` checked with `check_gradient_function`.
        alpha, beta: the entry's parameters; ``None`` takes its defaults (atan: ``0.3``, ``4.5``).
        placement: ``"grad"`` or ``"update"`` (see above).
        exclude: parameters left as they are (e.g. `exclude_parameters(model, "fc.*",
            biases=True, norms=True)`), or a predicate ``param -> bool``.
        check: check a callable ``fn`` against the paper's conditions.
        fused: run ``g`` and the update as one compiled kernel per param group (inner `SGD`,
            `Adam` or `AdamW`, ``placement="grad"``; see `actlab.gaf.fused`). Same math as the
            plain path (``atan`` to 8e-7 relative error), the memory traffic of a bare fused
            optimizer; ``p.grad`` keeps the raw gradient. The first step of a new parameter set
            compiles (seconds for a small model, about a minute for a ResNet-18 on 2 cores;
            cached on disk by Inductor). Default: ``False``.

    Raises:
        ValueError: unknown ``fn`` (with "did you mean"), ``alpha <= 0`` or ``beta <= 0``,
            unknown ``placement``, ``fused=True`` with ``placement="update"``.
        TypeError: ``optimizer`` not an Optimizer, LBFGS, or a nested wrapper; ``fused=True``
            with an inner optimizer other than SGD, Adam or AdamW.

    Paper: Chen, Jin, et al., Activated Gradients for Deep Neural Networks (arXiv 2107.04228).

    Examples:
        >>> model = nn.Linear(3, 1)
        >>> opt = GradientActivation(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), "atan")
        >>> opt
        GradientActivation(SGD, fn='atan', alpha=0.3, beta=4.5, placement='grad', excluded=0)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        fn: GradFn = "atan",
        *,
        alpha: float | None = None,
        beta: float | None = None,
        placement: str = "grad",
        exclude: Iterable[torch.Tensor] | Callable[[torch.Tensor], bool] | None = None,
        check: bool = True,
        fused: bool = False,
    ) -> None:
        # No Optimizer.__init__: param_groups/state/defaults are views of the inner optimizer.
        owner = type(self).__name__
        check_type(owner, "optimizer", optimizer, torch.optim.Optimizer)
        if isinstance(optimizer, (GradientActivation, torch.optim.LBFGS)):
            fail(
                owner,
                "optimizer",
                "a single-step optimizer, not LBFGS or another GradientActivation",
                type(optimizer).__name__,
                TypeError,
            )
        self.optimizer = optimizer
        self.placement = check_choice(owner, "placement", placement, PLACEMENTS)
        check_type(owner, "fused", fused, bool)
        if fused:
            check_fusable(owner, optimizer, self.placement)
        self._fused = FusedStep(optimizer) if fused else None
        self._check = check
        self._default = resolve(owner, fn, alpha, beta, check=check)
        self._exclude = exclude
        self._excluded: set[int] = set()
        self._init_groups()

    # --- the Optimizer surface, delegated -------------------------------------------------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @property
    def state(self):  # type: ignore[override]
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        d = self._default
        fn = d.fn if isinstance(d.fn, str) else getattr(d.fn, "__name__", repr(d.fn))
        return (
            f"{type(self).__name__}({type(self.optimizer).__name__}, fn={fn!r}, alpha={d.alpha}, "
            f"beta={d.beta}, placement={self.placement!r}, excluded={len(self._excluded)}"
            + (", fused=True)" if self._fused is not None else ")")
        )

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)
        self._init_groups()

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state dict; its ``param_groups`` carry the ``gaf_*`` settings."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict from this wrapper or from the bare inner optimizer (defaults fill in)."""
        self.optimizer.load_state_dict(state_dict)
        self._init_groups()

    # Hooks run around the inner step, i.e. after the gradients are activated.
    def register_step_pre_hook(self, hook):  # type: ignore[override]
        return self.optimizer.register_step_pre_hook(hook)

    def register_step_post_hook(self, hook):  # type: ignore[override]
        return self.optimizer.register_step_post_hook(hook)

    # --- the transform --------------------------------------------------------------------------
    def _init_groups(self) -> None:
        d = self._default
        for group in self.optimizer.param_groups:
            for key, value in zip(KEYS, (d.fn, d.alpha, d.beta)):
                group.setdefault(key, value)
            self._group_fn(group)  # validate user-set per-group values now, close to the cause
        excluded = self._exclude
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if callable(excluded):
            self._excluded = {id(p) for p in params if excluded(p)}
        elif excluded is not None:
            self._excluded = {id(p) for p in excluded}

    def _group_fn(self, group: dict[str, Any]) -> Resolved:
        key = (group["gaf_fn"], group["gaf_alpha"], group["gaf_beta"])
        cache = self.__dict__.setdefault("_resolved", {})
        # Checked (and warned about) once per distinct setting, not on every step.
        if key not in cache:
            d = self._default
            cache[key] = (
                d
                if key == (d.fn, d.alpha, d.beta)
                else resolve(f"{type(self).__name__} param group", *key, check=self._check)
            )
        return cache[key]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Activate the gradients (or the update), then run the inner optimizer's step.

        A ``closure`` is evaluated once, here, before the gradients are activated.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        if self._fused is not None:
            self._fused_step(owner, self._fused)
            return loss
        if self.placement == "grad":
            for group in self.optimizer.param_groups:
                self._group_fn(group).apply_(_dense_grads(owner, group["params"], self._excluded))
            self.optimizer.step()
            return loss
        # placement == "update": remember p, step on raw gradients, activate the direction.
        before = []
        for group in self.optimizer.param_groups:
            params = [p for p in group["params"] if p.grad is not None and id(p) not in self._excluded]
            _dense_grads(owner, params, set())
            before.append((params, [p.detach().clone() for p in params]))
        self.optimizer.step()
        for group, (params, old) in zip(self.optimizer.param_groups, before):
            lr = group["lr"]
            if not params or lr == 0:
                continue
            direction = list(torch._foreach_sub(old, params))  # a tuple; apply_ takes a list
            torch._foreach_div_(direction, lr)
            self._group_fn(group).apply_(direction)
            torch._foreach_mul_(direction, lr)
            torch._foreach_sub_(old, direction)
            torch._foreach_copy_([p.detach() for p in params], old)
        return loss

    def _fused_step(self, owner: str, fused: FusedStep) -> None:
        # The inner step() is not called, so run its step hooks here, as Optimizer.step would.
        inner = self.optimizer
        pre = _optimizer_module._global_optimizer_pre_hooks
        post = _optimizer_module._global_optimizer_post_hooks
        for hook in [*pre.values(), *inner._optimizer_step_pre_hooks.values()]:
            hook(inner, (), {})
        for group in inner.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = _dense_grads(owner, params, set())
            resolved = self._group_fn(group)
            activate = tuple(id(p) not in self._excluded for p in params)
            fused.step_group(group, params, grads, activate, resolved.fn, resolved.alpha, resolved.beta)
        for hook in [*post.values(), *inner._optimizer_step_post_hooks.values()]:
            hook(inner, (), {})
