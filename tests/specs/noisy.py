"""Noisy family (Gulcehre et al., 2016): eval-mode references, from the paper's equations.

In eval mode the noise is replaced by its expectation (0 for Gaussian noise), so NAN is
``alpha h(x) + (1 - alpha) u(x)`` and every input-noise unit (actlab's variant and the official
code's NANI, learned-scale NANI and NANIS, whose test-time noise is 0) is ``h(x)``. Training-mode behaviour is tested in
tests/test_noisy.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from actlab.core.channels import channel_view
from actlab.functional import (
    nani_hard_sigmoid,
    nani_hard_tanh,
    nani_learned_hard_sigmoid,
    nani_learned_hard_tanh,
    nanis_hard_sigmoid,
    nanis_hard_tanh,
    noisy_hard_sigmoid,
    noisy_hard_tanh,
    noisy_input_hard_sigmoid,
    noisy_input_hard_tanh,
    noisy_input_sigmoid,
    noisy_input_tanh,
    noisy_sigmoid,
    noisy_tanh,
)
from specs._base import ActTestSpec


def _np(f):
    def ref(x: torch.Tensor) -> torch.Tensor:
        with np.errstate(invalid="ignore", over="ignore"):
            return torch.from_numpy(np.asarray(f(x.numpy())))

    return ref


def _nan_ref(k, b, lo, hi, alpha):
    # alpha * h(x) + (1 - alpha) * u(x), with u the first-order Taylor expansion at 0.
    return _np(lambda v: alpha * np.clip(k * v + b, lo, hi) + (1 - alpha) * (k * v + b))


def _nani_ref(k, b, lo, hi):
    return _np(lambda v: np.clip(k * v + b, lo, hi))


def _np_sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _soft_nan_ref(h, k, b, alpha):
    # The paper's linearisations of the soft units: u = x (tanh), u = x/4 + 1/2 (sigmoid).
    return _np(lambda v: alpha * h(v) + (1 - alpha) * (k * v + b))


def _nan_functional(fn):
    return lambda m, x: fn(
        x, training=False, alpha=m.alpha, c=m.c * m.noise_scale, p=channel_view(m.p, x), half_normal=m.half_normal
    )


def _nani_functional(fn):
    return lambda m, x: fn(x, training=False, c=m.c * m.noise_scale, p=channel_view(m.p, x), half_normal=m.half_normal)


def _fixed_scale_functional(fn):
    return lambda m, x: fn(x, training=False, c=m.c * m.noise_scale)


def _learned_scale_functional(fn):
    return lambda m, x: fn(x, training=False, c=m.c * m.noise_scale, p=channel_view(m.p, x))


def _c_errors(owner: str):
    return (
        ({"c": 0.0}, ValueError, rf"{owner}: `c` must be > 0, got 0.0"),
        ({"c": -1}, ValueError, rf"{owner}: `c` must be > 0, got -1"),
        ({"c": math.inf}, ValueError, rf"{owner}: `c` must be finite, got inf"),
        ({"c": "0.5"}, TypeError, rf"{owner}: `c` must be a real number, got '0.5'"),
        ({"p_init": 1.0}, TypeError, r"unexpected keyword argument 'p_init'"),  # no p: nothing to initialise
    )


def _learned_errors(owner: str):
    return (
        *_c_errors(owner)[:4],
        ({"p_init": math.nan}, ValueError, rf"{owner}: `p_init` must be finite, got nan"),
        ({"p_init": "normal"}, ValueError, rf"{owner}: `p_init` must be a finite number or 'uniform', got 'normal'"),
        ({"num_parameters": 0}, ValueError, rf"{owner}: `num_parameters` must be an int >= 1, got 0"),
        ({"learn_p": "yes"}, TypeError, rf"{owner}: `learn_p` must be of type bool"),
        ({"half_normal": True}, TypeError, r"unexpected keyword argument 'half_normal'"),
    )


def _errors(owner: str, nan: bool):
    errs = [
        ({"c": 0.0}, ValueError, rf"{owner}: `c` must be > 0, got 0.0"),
        ({"c": -1}, ValueError, rf"{owner}: `c` must be > 0, got -1"),
        ({"c": math.inf}, ValueError, rf"{owner}: `c` must be finite, got inf"),
        ({"p_init": math.nan}, ValueError, rf"{owner}: `p_init` must be finite, got nan"),
        ({"p_init": "normal"}, ValueError, rf"{owner}: `p_init` must be a finite number or 'uniform', got 'normal'"),
        ({"num_parameters": 0}, ValueError, rf"{owner}: `num_parameters` must be an int >= 1, got 0"),
        ({"half_normal": 1}, TypeError, rf"{owner}: `half_normal` must be of type bool"),
        ({"learn_p": "yes"}, TypeError, rf"{owner}: `learn_p` must be of type bool"),
        ({"c": "0.5"}, TypeError, rf"{owner}: `c` must be a real number, got '0.5'"),
    ]
    if nan:
        errs.append(({"alpha": math.inf}, ValueError, rf"{owner}: `alpha` must be finite, got inf"))
    return tuple(errs)


SPECS = [
    ActTestSpec(
        "noisy_hard_tanh",
        _nan_ref(1.0, 0.0, -1.0, 1.0, 1.15),
        kinks=(-1.0, 1.0),
        functional=_nan_functional(noisy_hard_tanh),
        errors=_errors("NoisyHardTanh", True),
    ),
    ActTestSpec(
        "noisy_hard_sigmoid",
        _nan_ref(0.25, 0.5, 0.0, 1.0, 1.1),
        domain=(-6.0, 6.0),
        kinks=(-2.0, 2.0),
        functional=_nan_functional(noisy_hard_sigmoid),
        errors=_errors("NoisyHardSigmoid", True),
    ),
    ActTestSpec(
        "noisy_input_hard_tanh",
        _nani_ref(1.0, 0.0, -1.0, 1.0),
        kinks=(-1.0, 1.0),
        functional=_nani_functional(noisy_input_hard_tanh),
        errors=_errors("NoisyInputHardTanh", False),
    ),
    ActTestSpec(
        "noisy_input_hard_sigmoid",
        _nani_ref(0.25, 0.5, 0.0, 1.0),
        domain=(-6.0, 6.0),
        kinks=(-2.0, 2.0),
        functional=_nani_functional(noisy_input_hard_sigmoid),
        errors=_errors("NoisyInputHardSigmoid", False),
    ),
    ActTestSpec(
        "noisy_tanh",
        _soft_nan_ref(np.tanh, 1.0, 0.0, 1.15),
        functional=_nan_functional(noisy_tanh),
        errors=_errors("NoisyTanh", True),
    ),
    ActTestSpec(
        "noisy_sigmoid",
        _soft_nan_ref(_np_sigmoid, 0.25, 0.5, 1.1),
        domain=(-6.0, 6.0),
        functional=_nan_functional(noisy_sigmoid),
        errors=_errors("NoisySigmoid", True),
    ),
    ActTestSpec(
        "noisy_input_tanh",
        _np(np.tanh),
        functional=_nani_functional(noisy_input_tanh),
        errors=_errors("NoisyInputTanh", False),
    ),
    ActTestSpec(
        "noisy_input_sigmoid",
        _np(_np_sigmoid),
        domain=(-6.0, 6.0),
        functional=_nani_functional(noisy_input_sigmoid),
        errors=_errors("NoisyInputSigmoid", False),
    ),
    # The official code's input-noise units: h(x) in eval mode (its test-time noise is 0).
    *(
        ActTestSpec(
            f"{kind}_hard_tanh",
            _nani_ref(1.0, 0.0, -1.0, 1.0),
            kinks=(-1.0, 1.0),
            functional=wrap(fn_tanh),
            errors=errors(f"{cls}HardTanh"),
        )
        for kind, cls, fn_tanh, wrap, errors in (
            ("nani", "NANI", nani_hard_tanh, _fixed_scale_functional, _c_errors),
            ("nani_learned", "NANILearned", nani_learned_hard_tanh, _learned_scale_functional, _learned_errors),
            ("nanis", "NANIS", nanis_hard_tanh, _fixed_scale_functional, _c_errors),
        )
    ),
    *(
        ActTestSpec(
            f"{kind}_hard_sigmoid",
            _nani_ref(0.25, 0.5, 0.0, 1.0),
            domain=(-6.0, 6.0),
            kinks=(-2.0, 2.0),
            functional=wrap(fn_sigmoid),
            errors=errors(f"{cls}HardSigmoid"),
        )
        for kind, cls, fn_sigmoid, wrap, errors in (
            ("nani", "NANI", nani_hard_sigmoid, _fixed_scale_functional, _c_errors),
            ("nani_learned", "NANILearned", nani_learned_hard_sigmoid, _learned_scale_functional, _learned_errors),
            ("nanis", "NANIS", nanis_hard_sigmoid, _fixed_scale_functional, _c_errors),
        )
    ),
]
