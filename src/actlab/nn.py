"""Module forms of actlab's activations (PyTorch's own live in `torch.nn`)."""

from actlab.activations.classic import TERELU as TERELU
from actlab.activations.quantized import Binary as Binary
from actlab.activations.quantized import Quantize as Quantize

__all__ = [
    "Binary",
    "Quantize",
    "TERELU",
]
