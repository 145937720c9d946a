"""Noisy activation functions (Gulcehre, Moczulski, Denil & Bengio, 2016, arXiv:1603.00391).

Hard-saturating units with noise where they saturate: output noise (`actlab.noisy.output`) and
input noise (the official code's units, `actlab.noisy.nani`, and actlab's variant,
`actlab.noisy.input`) on one shared core (`actlab.noisy.core`, with its C kernel
``noisy.c``), noise annealing schedules (`actlab.noisy.annealing`) and LSTM/GRU layers whose
gates are any activation (`actlab.noisy.recurrent`). See docs/noisy.md.
"""

from actlab.noisy.annealing import (
    CosineNoiseAnnealing,
    ExponentialNoiseAnnealing,
    LinearNoiseAnnealing,
    NoiseAnnealing,
    PaperNoiseAnnealing,
    noisy_modules,
)
from actlab.noisy.core import NoisyActivation
from actlab.noisy.input import (
    NoisyInputHardSigmoid,
    NoisyInputHardTanh,
    NoisyInputSigmoid,
    NoisyInputTanh,
    noisy_input_hard_sigmoid,
    noisy_input_hard_tanh,
    noisy_input_sigmoid,
    noisy_input_tanh,
)
from actlab.noisy.nani import (
    NANIHardSigmoid,
    NANIHardTanh,
    NANILearnedHardSigmoid,
    NANILearnedHardTanh,
    NANISHardSigmoid,
    NANISHardTanh,
    nani_hard_sigmoid,
    nani_hard_tanh,
    nani_learned_hard_sigmoid,
    nani_learned_hard_tanh,
    nanis_hard_sigmoid,
    nanis_hard_tanh,
)
from actlab.noisy.output import (
    NoisyHardSigmoid,
    NoisyHardTanh,
    NoisySigmoid,
    NoisyTanh,
    noisy_hard_sigmoid,
    noisy_hard_tanh,
    noisy_sigmoid,
    noisy_tanh,
)
from actlab.noisy.recurrent import GRU, LSTM

__all__ = [
    "CosineNoiseAnnealing",
    "ExponentialNoiseAnnealing",
    "GRU",
    "LSTM",
    "LinearNoiseAnnealing",
    "NANIHardSigmoid",
    "NANIHardTanh",
    "NANILearnedHardSigmoid",
    "NANILearnedHardTanh",
    "NANISHardSigmoid",
    "NANISHardTanh",
    "NoiseAnnealing",
    "NoisyActivation",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyInputHardSigmoid",
    "NoisyInputHardTanh",
    "NoisyInputSigmoid",
    "NoisyInputTanh",
    "NoisySigmoid",
    "NoisyTanh",
    "PaperNoiseAnnealing",
    "nani_hard_sigmoid",
    "nani_hard_tanh",
    "nani_learned_hard_sigmoid",
    "nani_learned_hard_tanh",
    "nanis_hard_sigmoid",
    "nanis_hard_tanh",
    "noisy_hard_sigmoid",
    "noisy_hard_tanh",
    "noisy_input_hard_sigmoid",
    "noisy_input_hard_tanh",
    "noisy_input_sigmoid",
    "noisy_input_tanh",
    "noisy_modules",
    "noisy_sigmoid",
    "noisy_tanh",
]
