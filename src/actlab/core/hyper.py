"""Hyperparameters that travel with a module's state, so a checkpoint never loads into another configuration.

A module's ``state_dict`` holds its tensors; a ``terelu(mu=2)`` checkpoint would load silently into
``terelu()`` and compute something else. `SavedHyperparameters` puts the named hyperparameters in
the state (PyTorch's ``_extra_state``) and refuses a state saved with different ones.
"""

from __future__ import annotations

from typing import Any

from actlab.core.validation import fail

__all__ = ["SavedHyperparameters"]


class SavedHyperparameters:
    """Mixin for an `nn.Module`: ``_saved_hyperparameters`` go into its state_dict and are checked on load.

    Examples:
        >>> import torch
        >>> class Scaled(SavedHyperparameters, torch.nn.Module):
        ...     _saved_hyperparameters = ("scale",)
        ...     def __init__(self, scale=1.0):
        ...         super().__init__()
        ...         self.scale = scale
        >>> Scaled(2.0).state_dict()["_extra_state"]
        {'scale': 2.0}
        >>> Scaled(1.0).load_state_dict(Scaled(2.0).state_dict())
        Traceback (most recent call last):
        ...
        actlab.core.validation.ValidationError: Scaled: `state_dict` must be saved with this module's scale (1.0), got {'scale': 2.0}
    """

    _saved_hyperparameters: tuple[str, ...] = ()

    def get_extra_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._saved_hyperparameters}

    def set_extra_state(self, state: Any) -> None:
        mine = self.get_extra_state()
        saved = state if isinstance(state, dict) else {}
        diff = {k: saved.get(k) for k, v in mine.items() if saved.get(k) != v}
        if diff:
            have = ", ".join(f"{k} ({mine[k]!r})" for k in diff)
            fail(type(self).__name__, "state_dict", f"saved with this module's {have}", diff)
