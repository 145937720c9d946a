"""Functional forms of actlab's activations (PyTorch's own live in `torch.nn.functional`)."""

from actlab.activations.classic import terelu as terelu
from actlab.activations.quantized import binary as binary
from actlab.activations.quantized import quantize as quantize

__all__ = [
    "binary",
    "quantize",
    "terelu",
]
