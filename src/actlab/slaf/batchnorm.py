"""SLAF as the authors ran it: a learned sum of batch-normalised powers (Goyal, Goyal, Lall, 2019).

The authors' TF1 code (github.com/mohit1997/PAF, ``taylor_batch_norm.py``; re-derived here, not
copied) replaced the paper's plain polynomial by :math:`\\sum_i a_i \\mathrm{BN}(x^i) + b`, each
power with its own non-affine batch normalisation. `actlab.slaf.activation.SLAF` is the
range-scaled polynomial instead; with the same coefficients the two are different functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from actlab.core.registry import ActivationSpec, register
from actlab.core.validation import (
    check_bound,
    check_finite,
    check_floating,
    check_int,
    check_interval,
    check_type,
    fail,
)

__all__ = ["SLAFBN", "slaf_bn"]

_PAPER = (
    "Goyal, Goyal, Lall, 'Learning activation functions: a new paradigm ...', 2019, arXiv:1906.09529; "
    "authors' code github.com/mohit1997/PAF (taylor_batch_norm.py)"
)


def _powers(x: Tensor, channels: int, degree: int, owner: str) -> Tensor:
    """``(N, C, M, k)``: x, x^2, .., x^k with channels at dim 1 (all of ``x`` one channel when C == 1)."""
    if channels == 1:
        v = x.reshape(1, 1, -1)
    else:
        if x.dim() < 2 or x.shape[1] != channels:
            fail(owner, "x", f"a tensor with {channels} channels at dim 1 (num_parameters)", tuple(x.shape))
        v = x.reshape(x.shape[0], channels, math.prod(x.shape[2:]))  # -1 fails on empty input
    p, out = v, [v]
    for _ in range(degree - 1):
        p = p * v
        out.append(p)
    return torch.stack(out, dim=-1)


def slaf_bn(
    x: Tensor,
    /,
    *,
    coefficients: Tensor,
    bias: Tensor,
    gate: Tensor | None = None,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.01,
    eps: float = 1e-8,
) -> Tensor:
    r"""SLAF over batch-normalised powers, per channel: the authors' form.

    .. math::
        \mathrm{SLAF}(x)_c = \sum_{i=1}^{k} a_{c,i}\, \sigma(g_i)\,
            \frac{x^i - \mu_{c,i}}{\sqrt{v_{c,i} + \epsilon}} + b_c

    :math:`\mu_{c,i}, v_{c,i}` are the mean and the biased variance of :math:`x^i` over every
    dim but 1 (one channel: all elements) in training, the running statistics in eval. In
    training the running statistics move by :math:`r \leftarrow (1 - m)\, r + m\, s` (the
    authors' ``decay = 0.99`` is ``momentum = 0.01`` in PyTorch's convention), with the *biased*
    batch variance as in the authors' code (`torch.nn.BatchNorm` uses the unbiased one there).
    ``gate=None`` drops :math:`\sigma(g_i)`.

    Args:
        x: ``(N, C, *)`` with ``C`` = the coefficients' first dim, or any shape when that is 1.
        coefficients: ``(C, k)``, :math:`a_{c,1} .. a_{c,k}`.
        bias: ``(C,)``, :math:`b_c`.
        gate: ``(k,)`` logits :math:`g_i` of the authors' per-power gate, or ``None``.
        running_mean, running_var: ``(C, k)`` buffers, updated in place when ``training``;
            required when not ``training``.
        training: normalise with the batch statistics (and update the running ones).
        momentum: weight of the batch statistics in the running update. Default: 0.01.
        eps: added to the variance. Default: 1e-8 (the authors' ``variance_epsilon``).

    Returns:
        A tensor of ``x``'s shape.

    Raises:
        ValueError: ``x`` lacks the channels, an empty ``x`` in training, or no running
            statistics in eval.

    Examples:
        >>> a, b = torch.tensor([[1.0, 0.5]]), torch.tensor([0.1])
        >>> rm, rv = torch.zeros(1, 2), torch.ones(1, 2)   # eval with the initial statistics:
        >>> slaf_bn(torch.tensor([-1.0, 2.0]), coefficients=a, bias=b, running_mean=rm, running_var=rv)
        tensor([-0.4000,  4.1000])
    """
    check_floating("slaf_bn", x)
    owner = "slaf_bn"
    check_type(owner, "coefficients", coefficients, Tensor)
    if coefficients.dim() != 2 or coefficients.shape[1] < 1:
        fail(owner, "coefficients", "a (C, k) tensor with k >= 1", tuple(coefficients.shape))
    channels, degree = coefficients.shape
    dtype = torch.promote_types(x.dtype, coefficients.dtype)
    p = _powers(x.to(dtype), channels, degree, owner)
    if training:
        if p.shape[0] * p.shape[2] == 0:
            fail(owner, "x", "at least one value per channel in training", tuple(x.shape))
        mean = p.mean(dim=(0, 2))
        var = p.var(dim=(0, 2), unbiased=False)
        if running_mean is not None and running_var is not None:
            with torch.no_grad():
                running_mean.lerp_(mean.detach().to(running_mean.dtype), momentum)
                running_var.lerp_(var.detach().to(running_var.dtype), momentum)
    else:
        if running_mean is None or running_var is None:
            fail(owner, "running_mean", "running statistics (a tensor) when not training", running_mean)
        mean, var = running_mean.to(dtype), running_var.to(dtype)
    a = coefficients if gate is None else coefficients * torch.sigmoid(gate)
    normed = (p - mean[:, None, :]) * torch.rsqrt(var[:, None, :] + eps)
    y = (normed * a[:, None, :]).sum(-1) + bias[:, None]
    return y.reshape(x.shape)


class SLAFBN(nn.Module):
    r"""SLAF as the authors ran it: :math:`\sum_i a_{c,i} \mathrm{BN}(x^i) + b_c` per channel.

    See :func:`actlab.functional.slaf_bn` for the math. The authors' code (``taylor_batch_norm.py``
    in github.com/mohit1997/PAF, the routine behind their MNIST / Fashion-MNIST / CIFAR-10 runs):
    powers :math:`x^1 .. x^k` stacked, each normalised per channel without scale or shift
    (``tf.nn.moments`` over every axis but the channel one, ``variance_epsilon=1e-8``), running
    statistics with decay 0.99 (zeros / ones at the start), coefficients ``[C, k]`` drawn from
    :math:`\mathcal{N}(0, 1)` plus 1 on the linear term, a per-power gate
    :math:`\sigma(g_i)`, :math:`g \sim \mathcal{N}(0, 1)` shared by all channels, and bias 0.1.

    Deviations, with reasons: PyTorch's dim-1 channel convention (theirs is channels-last); in
    dense layers (2-D input) their code shares one coefficient vector and bias by all features
    but keeps per-feature statistics: here one ``num_parameters`` sets both (1: one channel
    over all elements; ``C``: per-feature coefficients and statistics), which keeps the state
    one ``(C, k)`` shape. The gate is on by default because their code has it (PAPERS.md's
    summary omits it); ``gate=False`` is the plain :math:`\sum a\,\mathrm{BN}(x^i) + b`.

    Eval mode is deterministic and, with the running statistics fixed, a polynomial in ``x``:
    `polynomial` returns it exactly (BN with fixed statistics is affine in each power). In
    training the output depends on the whole batch, like `torch.nn.BatchNorm2d`.

    Args:
        degree: the highest power k >= 1. Default: 4 (the authors used 4-5 on MNIST, 2 on
            Fashion-MNIST, 2 or 4 in a CIFAR-10 ResNet-32).
        num_parameters: channels ``C`` at dim 1 (1: one channel over every element).
        momentum: PyTorch-convention momentum of the running statistics. Default: 0.01
            (the authors' decay 0.99).
        eps: added to the variance. Default: 1e-8 (the authors' value; TF's layer default would
            be 1e-3, PyTorch's 1e-5).
        gate: learn the authors' per-power gate :math:`\sigma(g_i)`. Default: True.
        device, dtype: factory arguments for parameters and buffers.

    Shape:
        - Input: :math:`(N, C, *)`, or any shape with ``num_parameters=1``.
        - Output: same shape as the input.

    Attributes:
        coefficients: ``(C, k)``, :math:`a_{c,i}` (L1-penalised by `CoefficientL1`).
        bias: ``(C,)``, :math:`b_c`.
        gate: ``(k,)`` gate logits, or ``None`` with ``gate=False``.
        running_mean, running_var: ``(C, k)`` buffers, the statistics of each power.

    Raises:
        ValueError: ``degree < 1``, ``num_parameters < 1``, ``momentum`` outside [0, 1],
            ``eps <= 0``; an input without ``num_parameters`` channels at dim 1.

    Examples:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> m = SLAFBN(degree=3, num_parameters=2)
        >>> y = m(torch.randn(8, 2, 5))      # training: batch statistics, running ones move
        >>> bool(m.running_var[0, 0] != 1.0), m.eval()(torch.zeros(4, 2)).shape
        (True, torch.Size([4, 2]))
        >>> p = m.polynomial()[0]              # eval mode, channel 0, exact
        >>> x = torch.linspace(-1, 1, 5, dtype=torch.float64)
        >>> bool(np.allclose(p(x.numpy()), m.double()(x[:, None].expand(5, 2))[:, 0].detach().numpy()))
        True
    """

    def __init__(
        self,
        degree: int = 4,
        num_parameters: int = 1,
        momentum: float = 0.01,
        eps: float = 1e-8,
        gate: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.degree = check_int(owner, "degree", degree, ">=", 1)
        self.num_parameters = check_int(owner, "num_parameters", num_parameters, ">=", 1)
        check_finite(owner, "momentum", momentum)
        self.momentum = float(check_interval(owner, "momentum", momentum, 0.0, 1.0))
        check_finite(owner, "eps", eps)
        self.eps = float(check_bound(owner, "eps", eps, ">", 0))
        self.gated = check_type(owner, "gate", gate, bool)
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.coefficients = nn.Parameter(torch.empty(num_parameters, degree, **kw))
        self.bias = nn.Parameter(torch.empty(num_parameters, **kw))
        self.gate = nn.Parameter(torch.empty(degree, **kw)) if gate else None
        self.register_buffer("running_mean", torch.zeros(num_parameters, degree, **kw))
        self.register_buffer("running_var", torch.ones(num_parameters, degree, **kw))
        self.reset_parameters()

    running_mean: Tensor
    running_var: Tensor

    def reset_running_stats(self) -> None:
        """Running means to 0 and variances to 1 (the authors' initial values)."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)

    def reset_parameters(self) -> None:
        """Fresh draws as the authors': a ~ N(0, 1) plus 1 on x^1, then g ~ N(0, 1); b = 0.1; statistics reset."""
        self.reset_running_stats()
        with torch.no_grad():
            self.coefficients.normal_(0.0, 1.0)
            self.coefficients[:, 0] += 1.0
            if self.gate is not None:
                self.gate.normal_(0.0, 1.0)
            self.bias.fill_(0.1)

    def forward(self, x: Tensor, /) -> Tensor:
        return slaf_bn(
            x,
            coefficients=self.coefficients,
            bias=self.bias,
            gate=self.gate,
            running_mean=self.running_mean,
            running_var=self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def effective_coefficients(self) -> Tensor:
        """``(C, k)``: :math:`a_{c,i} \\sigma(g_i)`, the weight of each normalised power."""
        return self.coefficients if self.gate is None else self.coefficients * torch.sigmoid(self.gate)

    def polynomial(self) -> list[np.polynomial.Polynomial]:
        """The eval-mode function of each channel as a power series in ``x``, exact on the whole line.

        With fixed running statistics :math:`\\mathrm{BN}(x^i) = (x^i - \\mu_i) / \\sqrt{v_i + \\epsilon}`
        is affine in :math:`x^i`, so the sum is a degree-k polynomial. Training mode normalises
        with the batch's statistics instead: there the function depends on the batch.
        """
        with torch.no_grad():
            c = self.effective_coefficients().double() * torch.rsqrt(self.running_var.double() + self.eps)
            const = self.bias.double() - (c * self.running_mean.double()).sum(-1)
        rows = torch.cat([const[:, None], c], dim=1).cpu().numpy()
        return [np.polynomial.Polynomial(row) for row in rows]

    def formula(self, channel: int = 0, digits: int = 4) -> str:
        """Channel ``channel``'s eval-mode polynomial as text, e.g. ``'0.1 + 0.9 x + ... (eval mode)'``."""
        poly = self.polynomial()[channel]
        return format(np.polynomial.Polynomial(np.round(poly.coef, digits)), "ascii") + "  (eval mode, running stats)"

    def penalised_parameters(self, include_bias: bool = False) -> list[Tensor]:
        """What `CoefficientL1` penalises: the coefficients ``a`` (and the bias ``b`` with ``include_bias``)."""
        return [self.coefficients, self.bias] if include_bias else [self.coefficients]

    def get_extra_state(self) -> dict:
        # eps changes eval outputs and momentum training: they travel with the state (from_state_dict).
        return {"kind": "SLAFBN", "degree": self.degree, "momentum": self.momentum, "eps": self.eps}

    def set_extra_state(self, state: dict) -> None:
        mine = self.get_extra_state()
        diff = {k: state.get(k) for k, v in mine.items() if state.get(k) != v}
        if diff:
            fail(type(self).__name__, "state_dict", f"saved with this module's {', '.join(diff)}", diff)

    @staticmethod
    def from_state_dict(state: Mapping[str, Any], prefix: str = "") -> SLAFBN:
        """Rebuild the `SLAFBN` saved under ``prefix`` of a model's state_dict (degree, channels, gate, eps read from it).

        Raises:
            ValueError: no SLAFBN state under ``prefix``.
        """
        key = f"{prefix}." if prefix else ""
        extra = state.get(f"{key}_extra_state")
        if not isinstance(extra, dict) or extra.get("kind") != "SLAFBN":
            fail("SLAFBN.from_state_dict", "prefix", "the prefix of a saved SLAFBN", prefix)
        coef = state[f"{key}coefficients"]
        gated = f"{key}gate" in state
        module = SLAFBN(
            coef.shape[1], coef.shape[0], extra["momentum"], extra["eps"], gated, device=coef.device, dtype=coef.dtype
        )
        names = [*(n for n, _ in module.named_parameters()), "running_mean", "running_var", "_extra_state"]
        module.load_state_dict({n: state[f"{key}{n}"] for n in names})
        return module

    def extra_repr(self) -> str:
        return (
            f"degree={self.degree}, num_parameters={self.num_parameters}, momentum={self.momentum}, "
            f"eps={self.eps}, gate={self.gated}"
        )


register(
    ActivationSpec(
        name="slaf_bn",
        module=SLAFBN,
        function=slaf_bn,
        family="learnable",
        description="the authors' SLAF: sum_i a_i BN(x^i) + b, per-channel batch-normalised powers",
        paper=_PAPER,
    )
)
