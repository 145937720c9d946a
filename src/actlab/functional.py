"""Functional forms of actlab's activations (PyTorch's own live in `torch.nn.functional`)."""

from actlab.activations.classic import terelu as terelu
from actlab.activations.quantized import binary as binary
from actlab.activations.quantized import quantize as quantize
from actlab.activations.noisy import noisy_hard_sigmoid as noisy_hard_sigmoid
from actlab.activations.noisy import noisy_hard_tanh as noisy_hard_tanh
from actlab.activations.noisy import noisy_sigmoid as noisy_sigmoid
from actlab.activations.noisy import noisy_tanh as noisy_tanh
from actlab.activations.noisy_input import noisy_input_hard_sigmoid as noisy_input_hard_sigmoid
from actlab.activations.noisy_input import noisy_input_hard_tanh as noisy_input_hard_tanh
from actlab.activations.noisy_input import noisy_input_sigmoid as noisy_input_sigmoid
from actlab.activations.noisy_input import noisy_input_tanh as noisy_input_tanh
from actlab.activations.slaf import slaf as slaf
from actlab.activations.slaf import slaf_relu as slaf_relu

__all__ = [
    "binary",
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
    "slaf_relu",
    "terelu",
]
