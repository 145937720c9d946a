"""Module forms of actlab's activations (PyTorch's own live in `torch.nn`)."""

from actlab.classic.terelu import TERELU as TERELU
from actlab.quantized.activation import Binary as Binary
from actlab.quantized.activation import Quantize as Quantize
from actlab.noisy.output import NoisyHardSigmoid as NoisyHardSigmoid
from actlab.noisy.output import NoisyHardTanh as NoisyHardTanh
from actlab.noisy.output import NoisySigmoid as NoisySigmoid
from actlab.noisy.output import NoisyTanh as NoisyTanh
from actlab.noisy.input import NoisyInputHardSigmoid as NoisyInputHardSigmoid
from actlab.noisy.input import NoisyInputHardTanh as NoisyInputHardTanh
from actlab.noisy.input import NoisyInputSigmoid as NoisyInputSigmoid
from actlab.noisy.input import NoisyInputTanh as NoisyInputTanh
from actlab.slaf.activation import SLAF as SLAF
from actlab.slaf.activation import SLAFReLU as SLAFReLU

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
