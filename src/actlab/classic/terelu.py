"""The classic family: fixed-shape activations from the literature beyond `torch.nn`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from actlab.core.channels import channel_view
from actlab.core.fused import fused, fused_function
from actlab.core.hyper import SavedHyperparameters
from actlab.core.registry import ActivationSpec, register
from actlab.core.validation import check_bound, check_finite, check_floating, check_int, check_type

__all__ = ["TERELU", "terelu"]

_TERELU_PAPER = "Pandey, 'Thresholded exponential rectified linear unit', 2020, arXiv:2006.02797"


def _check_terelu(owner: str, alpha: float, mu: float) -> None:
    check_finite(owner, "alpha", alpha)
    check_bound(owner, "alpha", alpha, ">", 0)
    check_finite(owner, "mu", mu)
    check_bound(owner, "mu", mu, ">", 0)


def terelu(x: Tensor, /, *, alpha: float = 1.0, mu: float = 1.0, beta: float | Tensor = 1.0) -> Tensor:
    r"""Thresholded exponential rectified linear unit (TERELU).

    .. math::
        \mathrm{TERELU}(x) = \begin{cases}
            \alpha (e^{x} - 1) & x \le 0 \\
            x & 0 < x < \mu \\
            \beta \left(\mu - (e^{\mu - x} - 1)\right) & x \ge \mu
        \end{cases}

    ELU on the negative side, identity up to the threshold ``mu``, then an exponential
    saturation towards ``beta * (mu + 1)``. Continuous everywhere when ``beta = 1`` (and then
    also continuously differentiable at ``mu``: both one-sided slopes are 1).

    Args:
        x: input of any shape.
        alpha: scale of the negative (ELU) part, > 0. Default: 1.
        mu: threshold where saturation starts, > 0. Default: 1.
        beta: scale of the saturating part; a float or a tensor broadcastable to ``x``
            (the module's learnable per-channel parameter). Default: 1.

    Raises:
        ValueError: ``alpha <= 0`` or ``mu <= 0`` (or non-finite).

    Examples:
        >>> terelu(torch.tensor([-1.0, 0.5, 1.0, 10.0])).round(decimals=4)
        tensor([-0.6321,  0.5000,  1.0000,  1.9999])

    Paper: V. Pandey, "Thresholded exponential rectified linear unit", arXiv:2006.02797.
    """
    check_floating("terelu", x)
    _check_terelu("terelu", alpha, mu)
    return _TERELUFunction.apply(x, alpha, mu, beta)


@fused
def _terelu_forward(x: Tensor, alpha: float, mu: float, beta: float | Tensor) -> Tensor:
    # Clamp each branch's exponent to its own domain so the unused branch never overflows
    # (an inf there would become a NaN gradient through torch.where).
    neg = alpha * torch.expm1(torch.clamp(x, max=0.0))
    sat = beta * (mu - torch.expm1(mu - torch.clamp(x, min=mu)))
    return torch.where(x <= 0, neg, torch.where(x < mu, x, sat))


@fused
def _terelu_backward(
    g: Tensor, x: Tensor, alpha: float, mu: float, beta: float | Tensor, beta_shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor | None]:
    # d/dx: alpha e^x (x <= 0), 1 (0 < x < mu), beta e^(mu - x) (x >= mu); NaN stays NaN.
    dneg = alpha * torch.exp(torch.clamp(x, max=0.0))
    dsat = beta * torch.exp(mu - torch.clamp(x, min=mu))
    one = torch.ones((), dtype=x.dtype, device=x.device)
    grad_x = g * torch.where(x <= 0, dneg, torch.where(x < mu, one, dsat))
    if beta_shape is None:
        return grad_x, None
    # d/dbeta = mu - (e^(mu - x) - 1) on the saturated side, reduced to beta's shape in the same pass.
    s = torch.where(x >= mu, mu - torch.expm1(mu - torch.clamp(x, min=mu)), torch.zeros_like(x))
    return grad_x, (g * s).sum_to_size(beta_shape)


_TERELUFunction = fused_function(
    "_TERELUFunction",
    _terelu_forward,
    _terelu_backward,
    params=(3,),  # beta
    doc="""TERELU with a fused forward and a hand-derived fused backward that saves only ``x`` (and ``beta``).

    Autograd of the torch-op chain saves ~4.5 input-sized tensors and runs ~40x slower than
    `torch.relu` (docs/BENCHMARKS.md); the backward here is checked against autograd of the
    reference formula in the tests (values and gradients of ``x`` and ``beta``, float64).
    """,
)


def _terelu_saturation(x: Tensor, *, mu: float = 1.0) -> Tensor:
    # Derivative below e^-3 (~5%): deep in either exponential tail.
    return (x <= -3.0) | (x >= mu + 3.0)


class TERELU(SavedHyperparameters, nn.Module):
    r"""Thresholded exponential rectified linear unit with a learnable saturation scale.

    See :func:`actlab.functional.terelu` for the math.

    Args:
        alpha: scale of the negative part, > 0. Default: 1.
        mu: threshold, > 0. Default: 1.
        num_parameters: 1 for one shared ``beta`` or the number of channels (dim 1). Default: 1.
        learn_beta: whether ``beta`` is trained. Default: ``True``.
        device, dtype: factory arguments for ``beta``.

    Shape:
        - Input: :math:`(*)`, with channels at dim 1 when ``num_parameters > 1``.
        - Output: same shape as the input.

    Attributes:
        beta: scale of the saturating part, shape ``(num_parameters,)``, initialised to 1.

    Examples:
        >>> m = TERELU()
        >>> m(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """

    _saved_hyperparameters = ("alpha", "mu")

    def __init__(
        self,
        alpha: float = 1.0,
        mu: float = 1.0,
        num_parameters: int = 1,
        learn_beta: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_terelu(type(self).__name__, alpha, mu)
        check_int(type(self).__name__, "num_parameters", num_parameters, ">=", 1)
        check_type(type(self).__name__, "learn_beta", learn_beta, bool)
        self.alpha = float(alpha)
        self.mu = float(mu)
        self.num_parameters = num_parameters
        self.beta = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype), requires_grad=learn_beta)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.beta.fill_(1.0)

    def forward(self, x: Tensor, /) -> Tensor:
        return terelu(x, alpha=self.alpha, mu=self.mu, beta=channel_view(self.beta, x))

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, mu={self.mu}, num_parameters={self.num_parameters}, "
            f"learn_beta={self.beta.requires_grad}"
        )


register(
    ActivationSpec(
        name="terelu",
        module=TERELU,
        function=terelu,
        family="classic",
        description="ELU below 0, identity to mu, exponential saturation above (learnable beta)",
        paper=_TERELU_PAPER,
        saturation=_terelu_saturation,
    )
)
