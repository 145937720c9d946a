"""Learned activations read back: their curves on a grid, and their modules rebuilt from a state_dict.

One implementation for every learnable family (SLAF, TERELU, noisy units, quantizers, PReLU) and
every tool that draws or reports them (``actlab plot --state-dict``, the inspect plots, the
harness's learned-curve records, the experiments).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from actlab.core.registry import create
from actlab.core.validation import fail

__all__ = ["activation_curve", "activations_from_state_dict"]


def activation_curve(module: nn.Module, x: Tensor, /) -> Tensor:
    """``module`` evaluated on the 1-D grid ``x`` in eval mode, without gradients: ``(len(x), channels)``.

    A per-channel activation (``num_parameters = C > 1``) gets the grid in each of its ``C``
    channels (dim 1, PyTorch's convention), so column ``c`` is channel ``c``'s learned curve. The
    module's train/eval mode is restored afterwards.

    Examples:
        >>> m = create("terelu", num_parameters=3)
        >>> activation_curve(m, torch.linspace(-1, 1, 5)).shape
        torch.Size([5, 3])
    """
    channels = int(getattr(module, "num_parameters", 1))
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(x[:, None].expand(len(x), channels).contiguous())
    finally:
        module.train(was)


def _channels(state: Mapping[str, Any]) -> int:
    """The channel count of a saved activation: the first dimension of its first non-scalar tensor."""
    for value in state.values():
        if isinstance(value, Tensor) and value.dim() >= 1:
            return int(value.shape[0])
    return 1


def activations_from_state_dict(state: Mapping[str, Any], spec: Any = "slaf") -> dict[str, nn.Module]:
    """Rebuild every activation of kind ``spec`` saved in a model's ``state_dict``, keyed by module prefix.

    A prefix matches when the keys saved under it are exactly the keys of ``create(spec)``'s own
    state_dict (e.g. ``beta`` for TERELU, ``p`` and ``noise_scale`` for the noisy units,
    ``coefficients`` and the extra state for SLAF). Each module is built with the saved channel
    count (``num_parameters``) and loaded strictly; a class that can read its configuration
    from the state itself (`SLAF.from_state_dict`: degree, basis, range) rebuilds that way, so
    ``spec="slaf"`` finds SLAFs of any degree and `SLAFReLU` too. A key set that matches but does
    not load (another module with the same parameter names) is skipped.

    Args:
        state: ``model.state_dict()`` (or the state_dict of one activation: prefix ``""``).
        spec: the activation, as for `create` (a spec string's arguments set what the state
            does not, e.g. ``"noisy_hard_tanh(alpha=1.0)"``).

    Raises:
        ValueError: ``spec`` has no state to match (a parameter-free activation).

    Examples:
        >>> model = nn.Sequential(nn.Linear(2, 3), create("terelu", num_parameters=3))
        >>> activations_from_state_dict(model.state_dict(), "terelu")
        {'1': TERELU(alpha=1.0, mu=1.0, num_parameters=3, learn_beta=True)}
    """
    template = create(spec)
    keys = set(template.state_dict())
    if not keys:
        fail("activations_from_state_dict", "spec", "an activation with saved state (parameters)", spec)
    groups: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        prefix, _, name = key.rpartition(".")
        groups.setdefault(prefix, {})[name] = value
    rebuild = getattr(type(template), "from_state_dict", None)
    whole = dict(state)  # what a class's own from_state_dict reads, copied once
    found: dict[str, nn.Module] = {}
    for prefix, sub in groups.items():
        if set(sub) != keys:
            continue
        try:
            if rebuild is not None:
                module = rebuild(whole, prefix)
            else:
                channels = _channels(sub)
                module = create(spec, num_parameters=channels) if channels > 1 else create(spec)
                module.load_state_dict(sub)
        except (RuntimeError, ValueError, TypeError):
            continue  # same key names, another module: not one of these
        found[prefix] = module
    return found
