"""actlab: the nonlinear parts of neural networks, for PyTorch.

Noisy activations (Gulcehre et al., 2016), self-learnable activations (Goyal et al., 2019),
gradient activation functions (Chen et al., 2021) and linear inequality constraints on
activations (Frerix et al., 2020), with a registry, tools and a benchmark harness.

Layout (docs/DEVELOPING.md): `actlab.core` (registry, validation, fused kernels, I/O) <- the
families (`actlab.classic`, `actlab.noisy`, `actlab.slaf`, `actlab.quantized`, `actlab.gaf`,
`actlab.constraints`) <- the facades (`actlab.functional`, `actlab.nn`) <- the tools (`actlab.swap`,
`actlab.data`, `actlab.training`, `actlab.plotting`, `actlab.inspect`, `actlab.harness`,
`actlab.experiments`, `actlab.bench`, `actlab.cli`). Importing actlab imports the core and the
families (torch and numpy only); each tool is imported on first attribute access, so
``actlab.harness`` works after ``import actlab`` without importing its extras up front.
"""

import importlib
from typing import Any

from actlab import (
    classic as classic,
    constraints as constraints,
    functional as functional,
    gaf as gaf,
    nn as nn,
    noisy as noisy,
    quantized as quantized,
    slaf as slaf,
)
from actlab.core.registry import (
    ActivationSpec as ActivationSpec,
    activation_modules as activation_modules,
    create as create,
    get_spec as get_spec,
    list_activations as list_activations,
    list_families as list_families,
    register as register,
)
from actlab.swap import swap as swap

__version__ = "0.1.0"

#: tools imported on first access (``actlab.harness``), so ``import actlab`` stays lean
_LAZY = ("bench", "cli", "data", "experiments", "harness", "inspect", "plotting", "training")

__all__ = [
    "ActivationSpec",
    "__version__",
    "activation_modules",
    "bench",
    "classic",
    "cli",
    "constraints",
    "create",
    "data",
    "experiments",
    "functional",
    "gaf",
    "get_spec",
    "harness",
    "inspect",
    "list_activations",
    "list_families",
    "nn",
    "noisy",
    "plotting",
    "quantized",
    "register",
    "slaf",
    "swap",
    "training",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"actlab.{name}")
    raise AttributeError(f"module 'actlab' has no attribute {name!r}")
