r"""Fused GAF steps: the gradient activation and the SGD / Adam(W) update in one compiled kernel.

Why a fused path exists: applying ``g`` to the gradients and then running the optimizer costs
at least two extra memory passes over every gradient, and ``torch.atan`` itself is
compute-bound on CPUs (on an 11.7M-parameter set it took twice as long as a whole bare SGD
step; docs/BENCHMARKS.md). Here one Inductor kernel per parameter reads ``p``, ``grad`` and
the optimizer state once, applies ``g`` in registers, and writes ``p`` and the state once:
the memory traffic of the bare fused optimizer. ``atan`` is evaluated by `fast_atan`, a range
reduction plus a rational approximation sharing one division (float32 accurate to 8e-7).

The update math is PyTorch's own (``torch.optim.SGD`` and ``torch.optim.Adam``/``AdamW``,
single-tensor form) with ``g`` applied to the raw gradient first, as the paper's ``SGD_atan``
and ``Adam_atan`` do; the optimizer state uses PyTorch's keys, so a state dict moves freely
between the fused and the plain path and the bare optimizer. Unlike the plain path, ``p.grad``
is left holding the raw gradient (writing the activated one back would cost a memory pass).

Hyperparameters travel as one small tensor per step, so LR schedules and per-group
``gaf_alpha``/``gaf_beta`` changes do not recompile; a new parameter list, dtype or structural
option (momentum on/off, Nesterov, AMSGrad, ...) compiles once more (each configuration gets
its own code object, so Dynamo's recompile limit never silently drops to eager).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import Tensor

from actlab.core.fused import code_clone
from actlab.core.validation import fail

__all__ = ["FUSED_OPTIMIZERS", "FusedStep", "check_fusable", "fast_atan"]

#: Inner optimizers with a fused GAF step (exact types: a subclass may change ``step``).
FUSED_OPTIMIZERS: tuple[type[torch.optim.Optimizer], ...] = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)

# atan(t) / t ~ P(s) / Q(s), s = t^2, P and Q quadratics fitted (iteratively reweighted least
# squares on the relative error) over t in [0, 1] with P(1) / Q(1) = pi/4 exactly, so that the two
# branches of the range reduction meet at |z| = 1 and the result is monotone.
_ATAN_P = (0.999999463558197, 0.663996160030365, 0.0419137142598629)
_ATAN_Q = (0.9972935318946838, 0.17473767697811127)
# Beyond this |z| float32 atan is pi/2 to the last bit; the clamp keeps m^5 finite.
_ATAN_CLAMP = 1e7


def fast_atan(z: Tensor) -> Tensor:
    r"""``atan(z)`` to 8e-7 relative error (float32) with one division and seven multiply-adds.

    Range reduction :math:`\operatorname{atan}(z) = \operatorname{sgn}(z)\pi/2 - \operatorname{atan}(1/z)`
    for :math:`|z| > 1`, and a rational approximation of degree (5, 4) on :math:`[-1, 1]`,
    written homogeneously so that the reduction's division and the rational's are one:

    .. math::
        c = \mathrm{clamp}(z, -1, 1), \quad m = \mathrm{clamp}(|z|, 1, 10^7), \quad
        r = \frac{c\,(p_0 m^4 + p_1 c^2 m^2 + p_2 c^4)}{m\,(m^4 + q_1 c^2 m^2 + q_2 c^4)}
        \approx \operatorname{atan}(c / m), \qquad
        \operatorname{atan}(z) \approx \begin{cases} r & |z| \le 1 \\
        \tfrac{\pi}{2} c - r & |z| > 1 \end{cases}

    Like ``atan`` it is odd (bit for bit), monotone and bounded by :math:`\pi/2` (checked in
    tests/test_optim_fused.py); ``NaN`` in, ``NaN`` out. Why not ``torch.atan``: on CPUs it is
    compute-bound at about twelve memory passes' worth of time (docs/BENCHMARKS.md); this form
    costs about a third of that and hides partly behind the optimizer's memory traffic.

    Examples:
        >>> fast_atan(torch.tensor([0.0, 1.0, -1e30]))
        tensor([ 0.0000,  0.7854, -1.5708])
    """
    p0, p1, p2 = _ATAN_P
    q1, q2 = _ATAN_Q
    c = torch.clamp(z, -1.0, 1.0)
    m = torch.clamp(z.abs(), 1.0, _ATAN_CLAMP)
    u, w = c * c, m * m
    uu = u * u
    r = (c * (w * (p0 * w + p1 * u) + p2 * uu)) / (m * (w * (w + q1 * u) + q2 * uu))
    return torch.where(z.abs() > 1.0, (math.pi / 2) * c - r, r)


def _activate(g: Tensor, fn: str | Callable[[Tensor], Tensor], alpha: Tensor, beta: Tensor) -> Tensor:
    if not isinstance(fn, str):
        return fn(g)  # a user's callable, traced into the kernel
    if fn == "identity":
        return g
    if fn in ("atan", "atan_unit"):
        return alpha * fast_atan(beta * g)
    if fn == "tanh":
        return alpha * torch.tanh(beta * g)
    raise ValueError(f"unknown gradient activation {fn!r}")  # resolve() admits registered names only


# --- the kernels (traced by Dynamo; Python-level flags are compile-time constants) ---------------


def _sgd_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    bufs: list[Tensor | None],
    hp: Tensor,
    keep: Tensor,
    activate: tuple[bool, ...],
    fn,
    flags: tuple[bool, bool, bool, bool],
) -> None:
    # hp = [lr, weight_decay, momentum, alpha, beta]; keep[i] = 1 - dampening (1 on a buffer's
    # first step, where PyTorch sets the buffer to the gradient and the buffer here starts at 0).
    has_wd, has_momentum, nesterov, maximize = flags
    lr, wd, momentum, alpha, beta = hp[0], hp[1], hp[2], hp[3], hp[4]
    for i, (p, grad, buf) in enumerate(zip(params, grads, bufs)):
        work = torch.promote_types(p.dtype, torch.float32)
        pw = p.to(work)
        d = grad.to(work)
        if maximize:
            d = -d
        if activate[i]:
            d = _activate(d, fn, alpha, beta)
        if has_wd:
            d = d + wd * pw
        if has_momentum:
            assert buf is not None  # _sgd gives every parameter a buffer when there is momentum
            nb = momentum * buf + keep[i] * d
            buf.copy_(nb)
            d = d + momentum * nb if nesterov else nb
        p.copy_(pw - lr * d)


def _adam_kernel(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_sqs: list[Tensor],
    steps: list[Tensor],
    hp: Tensor,
    step_sizes: Tensor,
    inv_bc2_sqrts: Tensor,
    activate: tuple[bool, ...],
    fn,
    flags: tuple[bool, bool, bool, bool],
) -> None:
    # hp = [lr, weight_decay, beta1, beta2, eps, alpha, beta]; per parameter: step_sizes[i] =
    # lr / (1 - beta1^t) and inv_bc2_sqrts[i] = 1 / sqrt(1 - beta2^t) for this step's t, as
    # PyTorch's single-tensor Adam (which divides by sqrt(1 - beta2^t): a multiply saves a vector
    # division per element). The step counts are incremented here: torch._foreach_add_ on 62
    # scalar tensors cost ~0.3 ms per step, more than the whole update of a small model.
    has_wd, decoupled, amsgrad, maximize = flags
    lr, wd, beta1, beta2, eps, alpha, beta = hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6]
    for i, (p, grad, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs)):
        steps[i].copy_(steps[i] + 1)
        step_size, inv_bc2_sqrt = step_sizes[i], inv_bc2_sqrts[i]
        work = torch.promote_types(p.dtype, torch.float32)
        pw = p.to(work)
        g = grad.to(work)
        if maximize:
            g = -g
        if activate[i]:
            g = _activate(g, fn, alpha, beta)
        if has_wd:
            if decoupled:
                pw = pw * (1 - lr * wd)
            else:
                g = g + wd * pw
        m_new = m + (1 - beta1) * (g - m)
        v_new = beta2 * v + (1 - beta2) * g * g
        m.copy_(m_new)
        v.copy_(v_new)
        if amsgrad:
            v_new = torch.maximum(max_sqs[i], v_new)
            max_sqs[i].copy_(v_new)
        denom = torch.sqrt(v_new) * inv_bc2_sqrt + eps
        p.copy_(pw - step_size * m_new / denom)


# --- the driver -------------------------------------------------------------------------------


def check_fusable(owner: str, optimizer: torch.optim.Optimizer, placement: str) -> None:
    """Refuse ``fused=True`` where no fused step exists, naming what is supported."""
    if type(optimizer) not in FUSED_OPTIMIZERS:
        names = ", ".join(cls.__name__ for cls in FUSED_OPTIMIZERS)
        fail(
            owner,
            "fused",
            f"False for an inner {type(optimizer).__name__} (fused steps exist for {names})",
            True,
            TypeError,
        )
    if placement != "grad":
        fail(owner, "fused", 'False with placement="update" (the fused step activates gradients)', True)
    for group in optimizer.param_groups:
        for key in ("differentiable", "capturable"):
            if group.get(key):
                fail(owner, "fused", f"False for a param group with {key}=True", True)


class FusedStep:
    """Runs the fused GAF step of one inner SGD/Adam/AdamW, one compiled call per param group."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.kind = "sgd" if isinstance(optimizer, torch.optim.SGD) else "adam"
        self._compiled: dict[Hashable, Callable[..., None]] = {}
        self._checked: set[tuple[int, ...]] = set()

    def __getstate__(self) -> dict[str, Any]:  # compiled functions do not pickle; they rebuild
        return {"optimizer": self.optimizer, "kind": self.kind, "_compiled": {}, "_checked": set()}

    def _kernel(self, key: Hashable, kernel: Callable[..., None]) -> Callable[..., None]:
        compiled = self._compiled.get(key)
        if compiled is None:
            # Dynamo already guards every input's size and stride; Inductor's own per-input asserts
            # repeat that in Python and cost ~0.2 ms per step for a ResNet-18's 62 parameters.
            compiled = self._compiled[key] = torch.compile(
                code_clone(kernel), fullgraph=True, dynamic=False, options={"size_asserts": False}
            )
        return compiled

    def _run(self, key: Hashable, kernel: Callable[..., None], *args: Any) -> None:
        try:
            self._kernel(key, kernel)(*args)
        except Exception as exc:
            if self._compiled.get(key) is kernel:
                raise
            warnings.warn(
                f"actlab: could not compile the fused GAF step ({type(exc).__name__}: {exc}); "
                "running it as plain torch ops",
                RuntimeWarning,
                stacklevel=4,
            )
            self._compiled[key] = kernel
            kernel(*args)

    def step_group(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        activate: tuple[bool, ...],
        fn: str | Callable[[Tensor], Tensor],
        alpha: float | None,
        beta: float | None,
    ) -> None:
        """One step for ``params`` (those of ``group`` with a gradient ``grads``); ``activate[i]``: apply ``g``."""
        if not params:
            return
        # The compiled copy is chosen by the identity of the parameter set (cheap per step); Dynamo's
        # guards recompile it if a parameter's shape, dtype or device ever changes.
        signature = tuple(map(id, params))
        if signature not in self._checked:
            for p in params:
                if p.is_complex():
                    fail("GradientActivation", "fused", "False for complex parameters", tuple(p.shape))
            self._checked.add(signature)
        alpha_v = 1.0 if alpha is None else alpha
        beta_v = 1.0 / alpha_v if fn == "atan_unit" else (1.0 if beta is None else beta)
        fn_key = fn if isinstance(fn, str) else id(fn)
        device = params[0].device
        if self.kind == "sgd":
            self._sgd(group, params, grads, activate, fn, fn_key, signature, alpha_v, beta_v, device)
        else:
            self._adam(group, params, grads, activate, fn, fn_key, signature, alpha_v, beta_v, device)

    def _sgd(self, group, params, grads, activate, fn, fn_key, signature, alpha, beta, device) -> None:
        state = self.optimizer.state
        momentum = float(group["momentum"])
        keep, bufs = [], []
        for p in params:
            buf = state[p].get("momentum_buffer") if momentum != 0 else None
            if momentum != 0 and buf is None:
                buf = state[p]["momentum_buffer"] = torch.zeros_like(p)
                keep.append(1.0)
            else:
                keep.append(1.0 - float(group["dampening"]))
            bufs.append(buf)
        flags = (float(group["weight_decay"]) != 0, momentum != 0, bool(group["nesterov"]), bool(group["maximize"]))
        hp = torch.tensor(
            [float(group["lr"]), float(group["weight_decay"]), momentum, alpha, beta],
            dtype=torch.float64,
            device=device,
        )
        key = ("sgd", signature, activate, fn_key, flags)
        self._run(
            key,
            _sgd_kernel,
            params,
            grads,
            bufs,
            hp,
            torch.tensor(keep, dtype=torch.float64, device=device),
            activate,
            fn,
            flags,
        )

    def _adam(self, group, params, grads, activate, fn, fn_key, signature, alpha, beta, device) -> None:
        state = self.optimizer.state
        amsgrad = bool(group["amsgrad"])
        beta1, beta2 = (float(b) for b in group["betas"])
        lr = float(group["lr"])
        m, v, vmax, steps = [], [], [], []
        for p in params:
            st = state[p]
            if len(st) == 0:  # PyTorch's lazy state initialisation, same keys and dtypes
                st["step"] = torch.tensor(0.0, dtype=torch.float32, device=p.device)
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if amsgrad:
                    st["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            step = st["step"]
            if step.device != p.device:  # a bare optimizer's state dict keeps steps on the CPU
                step = st["step"] = step.to(p.device)
            m.append(st["exp_avg"])
            v.append(st["exp_avg_sq"])
            vmax.append(st["max_exp_avg_sq"] if amsgrad else st["exp_avg_sq"])
            steps.append(step)
        decoupled = bool(group.get("decoupled_weight_decay", False)) or isinstance(self.optimizer, torch.optim.AdamW)
        wd = float(group["weight_decay"])
        flags = (wd != 0, decoupled, amsgrad, bool(group["maximize"]))
        hp = torch.tensor([lr, wd, beta1, beta2, float(group["eps"]), alpha, beta], dtype=torch.float64, device=device)
        # The bias corrections of this step, t = step + 1, as one float64 vector op (inside the
        # kernel Inductor would recompute the powers for every element).
        t = torch.stack(steps).to(torch.float64) + 1
        step_sizes, inv_bc2_sqrts = lr / (1 - beta1**t), torch.rsqrt(1 - beta2**t)
        key = ("adam", signature, activate, fn_key, flags)
        self._run(
            key, _adam_kernel, params, grads, m, v, vmax, steps, hp, step_sizes, inv_bc2_sqrts, activate, fn, flags
        )
