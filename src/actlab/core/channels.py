"""Per-channel parameter broadcasting shared by learnable modules (PyTorch's dim-1 convention)."""

from __future__ import annotations

from torch import Tensor


def channel_view(param: Tensor, x: Tensor) -> Tensor:
    """Reshape a ``(C, ...)`` parameter so that it broadcasts over ``x`` with channels at dim 1.

    A parameter with ``C == 1`` is shared by all units and loses its leading dim (so a 0-d
    input stays 0-d); with fewer than two input dims there is no channel dim (as in
    `torch.nn.PReLU`) and the parameter is returned unchanged. Trailing parameter dims (e.g.
    one coefficient vector per channel) are kept last.
    """
    if param.shape[0] == 1:
        return param[0]
    if x.dim() < 2:
        return param
    return param.view(param.shape[0], *([1] * (x.dim() - 2)), *param.shape[1:])
