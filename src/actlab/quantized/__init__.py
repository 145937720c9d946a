"""Quantized and binary activations with straight-through estimators, and mean-field initialisation.

`actlab.quantized.activation`: N-level and binary units with selectable STEs;
`actlab.quantized.mean_field`: the mean-field initialisation and depth prediction for networks
of them (Blumenfeld, Gilboa & Soudry, 2019). See docs/quantized.md.
"""

from actlab.quantized.activation import STES, Binary, Quantize, binary, quantize
from actlab.quantized.mean_field import (
    ExponentFit,
    MeanFieldInit,
    correlation_map,
    depth_exponent,
    init_quantized_,
    max_trainable_depth,
    mean_field_init,
    paper_depth_exponent,
)

__all__ = [
    "STES",
    "Binary",
    "ExponentFit",
    "MeanFieldInit",
    "Quantize",
    "binary",
    "correlation_map",
    "depth_exponent",
    "init_quantized_",
    "max_trainable_depth",
    "mean_field_init",
    "paper_depth_exponent",
    "quantize",
]
