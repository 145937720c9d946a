"""The test spec that drives the generic tests of every registered activation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL


@dataclass(frozen=True)
class ActTestSpec:
    """How to test one registry entry.

    Attributes:
        name: the registered name.
        reference: float64 reference of ``create(name, **kwargs)`` in eval mode, written
            independently of the implementation (from the paper's formula).
        kwargs: constructor arguments used throughout the generic tests.
        domain: interval the test inputs are drawn from.
        kinks: points where the function is not differentiable; gradient checks stay 1e-3 away.
        grad: ``"gradcheck"`` (finite differences, float64), ``"ste"`` (backward compared with
            ``ste_grad``, for straight-through estimators) or ``"none"``.
        ste_grad: for ``grad="ste"``: ``(x, module) -> d sum(f(x)) / dx`` that the backward must equal.
        smooth: also run ``gradgradcheck``.
        functional: ``(module, x) -> Tensor`` calling the functional form as the module does;
            default ``entry.function(x, **kwargs)``.
        errors: ``(kwargs, exception type, regex)`` triples that construction must raise.
        compile_backend: backend for the ``torch.compile(fullgraph=True)`` test.
        nonfinite: run the NaN/Inf propagation test against ``reference``.
        atol: absolute tolerance of the reference test (float64).
        bf16_atol: absolute tolerance of bfloat16 against float32, relative to the output scale.
        autograd_reference: ``(x, module) -> Tensor``, the formula as differentiable torch ops
            on the module's own parameters (straight-through where the forward is piecewise
            constant), for entries with a fused fast path: the module must match its values and
            autograd's gradients (``x`` and every trainable parameter), in float64 and float32,
            below and above ``FUSE_MIN_NUMEL``.
        fast_kwargs: constructor arguments of the fast-path and saved-bytes tests, on top of
            ``kwargs`` (per-channel parameters, non-default hyperparameters).
        saved_bytes: ``(x, module) -> int``, the bytes autograd may keep for the backward of
            ``module(x)`` (e.g. `input_and_parameters`); ``None``: not checked.
        reset_kwargs: constructor arguments (on top of ``kwargs``) of the test that
            ``reset_parameters()`` is idempotent and restores the initial values, for modules
            that have one; ``None`` where the initialisation is random.
        seed: for modules with a random initialisation (e.g. ``slaf_bn``): `build` draws it
            with ``torch.manual_seed(seed)`` (the global generator's state is restored after),
            so ``reference`` can rebuild the same draw; ``None``: built unseeded.
    """

    name: str
    reference: Callable[[Tensor], Tensor]
    kwargs: dict[str, Any] = field(default_factory=dict)
    domain: tuple[float, float] = (-4.0, 4.0)
    kinks: tuple[float, ...] = ()
    grad: Literal["gradcheck", "ste", "none"] = "gradcheck"
    ste_grad: Callable[[Tensor, nn.Module], Tensor] | None = None
    smooth: bool = True
    functional: Callable[[nn.Module, Tensor], Tensor] | None = None
    errors: tuple[tuple[dict[str, Any], type[Exception], str], ...] = ()
    compile_backend: str = "inductor"
    nonfinite: bool = True
    atol: float = 1e-10
    bf16_atol: float = 0.05
    autograd_reference: Callable[[Tensor, nn.Module], Tensor] | None = None
    fast_kwargs: dict[str, Any] = field(default_factory=dict)
    saved_bytes: Callable[[Tensor, nn.Module], int] | None = None
    reset_kwargs: dict[str, Any] | None = field(default_factory=dict)
    seed: int | None = None

    def build(self, **overrides: Any) -> nn.Module:
        if self.seed is None:
            return actlab.create(self.name, **{**self.kwargs, **overrides})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return actlab.create(self.name, **{**self.kwargs, **overrides})

    def call_functional(self, module: nn.Module, x: Tensor) -> Tensor:
        if self.functional is not None:
            return self.functional(module, x)
        return actlab.get_spec(self.name).function(x, **self.kwargs)

    def sample(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float64, *, gen: torch.Generator) -> Tensor:
        """Uniform draws on ``domain``, pushed at least 1e-3 away from every kink."""
        lo, hi = self.domain
        x = lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)
        for k in self.kinks:
            near = (x - k).abs() < 1e-3
            x = torch.where(near, x + torch.where(x >= k, 2e-3, -2e-3), x)
        return x.to(dtype)

    def grid(self, n: int = 257) -> Tensor:
        return torch.linspace(*self.domain, n, dtype=torch.float64)


def input_and_parameters(x: Tensor, module: nn.Module) -> int:
    """Bytes of ``x`` and of every parameter: all that a fused Function should save."""
    return x.numel() * x.element_size() + sum(p.numel() * p.element_size() for p in module.parameters())


def below_fuse(fn: Callable[..., Tensor], x: Tensor, /, **kwargs: Any) -> Tensor:
    """``fn(x, **kwargs)`` computed over row chunks of ``x`` below ``FUSE_MIN_NUMEL``, concatenated.

    For statistical tests of stochastic units: a shared ``generator`` in ``kwargs`` gives every
    chunk fresh noise, so the sample is as large as one big call, but no Inductor kernel compiles
    (seconds per configuration on a cold cache); the fused path has its own tests.
    """
    rows = max(1, (FUSE_MIN_NUMEL - 1) // max(1, x[0].numel()))
    return torch.cat([fn(chunk, **kwargs) for chunk in x.split(rows)])
