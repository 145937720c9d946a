"""Self-learnable activation functions (SLAF, Goyal, Goyal & Leite, 2019, arXiv:1906.09529).

The activation (`actlab.slaf.activation`: a learned weighted sum of basis functions, alone or
beside ReLU; `actlab.slaf.batchnorm`: the authors' form, a learned sum of batch-normalised powers), its bases and fits (`actlab.slaf.basis`) and the paper's training routines
(`actlab.slaf.training`). See docs/slaf.md.
"""

from actlab.slaf.activation import SLAF, SLAFReLU, slaf, slaf_relu
from actlab.slaf.basis import BASES, FitError
from actlab.slaf.batchnorm import SLAFBN, slaf_bn
from actlab.slaf.training import (
    CoefficientL1,
    CoefficientStages,
    activation_parameters,
    clip_coefficient_gradients,
    cycle_activations,
    learned_polynomials,
    optimizer_factory,
)

__all__ = [
    "BASES",
    "SLAF",
    "SLAFBN",
    "CoefficientL1",
    "CoefficientStages",
    "FitError",
    "SLAFReLU",
    "activation_parameters",
    "clip_coefficient_gradients",
    "cycle_activations",
    "learned_polynomials",
    "optimizer_factory",
    "slaf",
    "slaf_bn",
    "slaf_relu",
]
