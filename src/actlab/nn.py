"""Module forms of actlab's activations (PyTorch's own live in `torch.nn`)."""

from actlab.classic.terelu import TERELU as TERELU
from actlab.noisy.input import (
    NoisyInputHardSigmoid as NoisyInputHardSigmoid,
    NoisyInputHardTanh as NoisyInputHardTanh,
    NoisyInputSigmoid as NoisyInputSigmoid,
    NoisyInputTanh as NoisyInputTanh,
)
from actlab.noisy.nani import (
    NANIHardSigmoid as NANIHardSigmoid,
    NANIHardTanh as NANIHardTanh,
    NANILearnedHardSigmoid as NANILearnedHardSigmoid,
    NANILearnedHardTanh as NANILearnedHardTanh,
    NANISHardSigmoid as NANISHardSigmoid,
    NANISHardTanh as NANISHardTanh,
)
from actlab.noisy.output import (
    NoisyHardSigmoid as NoisyHardSigmoid,
    NoisyHardTanh as NoisyHardTanh,
    NoisySigmoid as NoisySigmoid,
    NoisyTanh as NoisyTanh,
)
from actlab.quantized.activation import Binary as Binary, Quantize as Quantize
from actlab.slaf.activation import SLAF as SLAF, SLAFReLU as SLAFReLU
from actlab.slaf.batchnorm import SLAFBN as SLAFBN

__all__ = [
    "Binary",
    "NANIHardSigmoid",
    "NANIHardTanh",
    "NANILearnedHardSigmoid",
    "NANILearnedHardTanh",
    "NANISHardSigmoid",
    "NANISHardTanh",
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
    "SLAFBN",
    "SLAFReLU",
    "TERELU",
]
