"""Functional forms of actlab's activations (PyTorch's own live in `torch.nn.functional`)."""

from actlab.activations.classic import terelu as terelu

__all__ = [
    "terelu",
]
