"""Functional forms of actlab's activations (PyTorch's own live in `torch.nn.functional`)."""

from actlab.classic.terelu import terelu as terelu
from actlab.noisy.input import (
    noisy_input_hard_sigmoid as noisy_input_hard_sigmoid,
    noisy_input_hard_tanh as noisy_input_hard_tanh,
    noisy_input_sigmoid as noisy_input_sigmoid,
    noisy_input_tanh as noisy_input_tanh,
)
from actlab.noisy.nani import (
    nani_hard_sigmoid as nani_hard_sigmoid,
    nani_hard_tanh as nani_hard_tanh,
    nani_learned_hard_sigmoid as nani_learned_hard_sigmoid,
    nani_learned_hard_tanh as nani_learned_hard_tanh,
    nanis_hard_sigmoid as nanis_hard_sigmoid,
    nanis_hard_tanh as nanis_hard_tanh,
)
from actlab.noisy.output import (
    noisy_hard_sigmoid as noisy_hard_sigmoid,
    noisy_hard_tanh as noisy_hard_tanh,
    noisy_sigmoid as noisy_sigmoid,
    noisy_tanh as noisy_tanh,
)
from actlab.quantized.activation import binary as binary, quantize as quantize
from actlab.slaf.activation import slaf as slaf, slaf_relu as slaf_relu
from actlab.slaf.batchnorm import slaf_bn as slaf_bn

__all__ = [
    "binary",
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
    "noisy_sigmoid",
    "noisy_tanh",
    "quantize",
    "slaf",
    "slaf_bn",
    "slaf_relu",
    "terelu",
]
