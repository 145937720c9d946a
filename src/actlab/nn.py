"""Module forms of actlab's activations (PyTorch's own live in `torch.nn`)."""

from actlab.activations.classic import TERELU as TERELU
from actlab.activations.quantized import Binary as Binary
from actlab.activations.quantized import Quantize as Quantize
from actlab.activations.noisy import NoisyHardSigmoid as NoisyHardSigmoid
from actlab.activations.noisy import NoisyHardTanh as NoisyHardTanh
from actlab.activations.noisy import NoisySigmoid as NoisySigmoid
from actlab.activations.noisy import NoisyTanh as NoisyTanh
from actlab.activations.noisy_input import NoisyInputHardSigmoid as NoisyInputHardSigmoid
from actlab.activations.noisy_input import NoisyInputHardTanh as NoisyInputHardTanh
from actlab.activations.noisy_input import NoisyInputSigmoid as NoisyInputSigmoid
from actlab.activations.noisy_input import NoisyInputTanh as NoisyInputTanh
from actlab.activations.slaf import SLAF as SLAF
from actlab.activations.slaf import SLAFReLU as SLAFReLU

__all__ = [
    "Binary",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyInputHardSigmoid",
    "NoisyInputHardTanh",
    "NoisyInputSigmoid",
    "NoisyInputTanh",
    "NoisySigmoid",
    "NoisyTanh",
    "Quantize",
    "SLAF",
    "SLAFReLU",
    "TERELU",
]
