"""Classic activations: TERELU and PyTorch's own activations, registered under their names."""

from actlab.classic import torch_native as torch_native
from actlab.classic.terelu import TERELU, terelu

__all__ = ["TERELU", "terelu", "torch_native"]
