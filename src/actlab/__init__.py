"""actlab: the nonlinear parts of neural networks, for PyTorch.

Noisy activations (Gulcehre et al., 2016), self-learnable activations (Goyal et al., 2019),
gradient activation functions (Chen et al., 2021) and linear inequality constraints on
activations (Frerix et al., 2020), with a registry, tools and a benchmark harness.
"""

from actlab import activations as activations
from actlab import functional as functional
from actlab import nn as nn
from actlab.registry import (
    ActivationSpec as ActivationSpec,
    create as create,
    get_spec as get_spec,
    list_activations as list_activations,
    list_families as list_families,
    register as register,
)
from actlab.swap import swap as swap

__version__ = "0.1.0"

__all__ = [
    "ActivationSpec",
    "__version__",
    "activations",
    "create",
    "functional",
    "get_spec",
    "list_activations",
    "list_families",
    "nn",
    "register",
    "swap",
]
