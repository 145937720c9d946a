"""Module forms of actlab's activations (PyTorch's own live in `torch.nn`)."""

from actlab.activations.classic import TERELU as TERELU

__all__ = [
    "TERELU",
]
