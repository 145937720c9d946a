"""Gradient activation functions (GAF, Chen et al. 2021) for any `torch.optim.Optimizer`.

``GradientActivation(opt, "atan", alpha=0.3, beta=4.5)`` activates gradients right before the
wrapped step; `activate_gradients_` does the same for a custom loop. See docs/gaf.md.
"""

from actlab.gaf.functions import (
    GRADIENT_FUNCTIONS,
    GradientFunctionSpec,
    check_gradient_function,
    get_gradient_function,
    list_gradient_functions,
)
from actlab.gaf.wrapper import GradientActivation, activate_gradients_, exclude_parameters

__all__ = [
    "GRADIENT_FUNCTIONS",
    "GradientActivation",
    "GradientFunctionSpec",
    "activate_gradients_",
    "check_gradient_function",
    "exclude_parameters",
    "get_gradient_function",
    "list_gradient_functions",
]
