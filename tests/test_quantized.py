"""Quantize and binary: exact forward values, every STE's exact backward, range/threshold gradients.

The fused path against autograd of the straight-through formulas, the saved bytes and
`reset_parameters` are checked by the generic tests (tests/specs/quantized.py).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

import actlab
from actlab.functional import binary, quantize
from actlab.quantized.activation import STES


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# The STE masks written out from the table in the module docstring, independently of the code.
def _quantize_ste(ste, x, a, b):
    return {
        "identity": torch.ones_like(x),
        "relu": (x >= a).to(x.dtype),
        "clipped_relu": ((x >= a) & (x <= b)).to(x.dtype),
        "clipped": ((x >= a) & (x <= b)).to(x.dtype),
    }[ste]


def _binary_ste(ste, x, t):
    z = x - t
    return {
        "identity": torch.ones_like(x),
        "relu": (z >= 0).to(x.dtype),
        "clipped_relu": ((z >= 0) & (z <= 1)).to(x.dtype),
        "clipped": (z.abs() <= 1).to(x.dtype),
    }[ste]


@pytest.mark.parametrize("ste", STES)
@pytest.mark.parametrize("levels", [2, 4, 16])
def test_quantize_backward_is_exactly_the_chosen_ste(ste, levels):
    x = (3 * torch.rand(200, generator=_gen(), dtype=torch.float64) - 1.5).requires_grad_()
    g = torch.randn(200, generator=_gen(1), dtype=torch.float64)
    y = quantize(x, levels=levels, range=(-0.5, 0.75), ste=ste)
    y.backward(g)
    torch.testing.assert_close(x.grad, g * _quantize_ste(ste, x.detach(), -0.5, 0.75), atol=0, rtol=0)


@pytest.mark.parametrize("ste", STES)
def test_binary_backward_is_exactly_the_chosen_ste_and_threshold_gets_its_negative(ste):
    x = (4 * torch.rand(50, 3, generator=_gen(), dtype=torch.float64) - 2).requires_grad_()
    g = torch.randn(50, 3, generator=_gen(1), dtype=torch.float64)
    t = torch.tensor([-0.5, 0.0, 0.7], dtype=torch.float64, requires_grad=True)
    binary(x, threshold=t, ste=ste).backward(g)
    mask = _binary_ste(ste, x.detach(), t.detach())
    assert 0 < mask.sum() <= mask.numel()
    torch.testing.assert_close(x.grad, g * mask, atol=0, rtol=0)
    torch.testing.assert_close(t.grad, -(g * mask).sum(0), atol=1e-12, rtol=1e-12)


def test_forward_equals_nearest_level_and_binary_equals_shifted_sign():
    x = 6 * torch.rand(10_000, generator=_gen(), dtype=torch.float64) - 3
    for levels, (a, b) in [(2, (-1.0, 1.0)), (4, (0.0, 1.0)), (16, (-0.3, 2.2))]:
        grid = torch.linspace(a, b, levels, dtype=torch.float64)
        nearest = grid[(x.clamp(a, b)[:, None] - grid).abs().argmin(1)]
        torch.testing.assert_close(quantize(x, levels=levels, range=(a, b)), nearest, atol=1e-12, rtol=0)
    expected = torch.where(x >= 0.3, 1.0, -1.0).to(torch.float64)
    assert torch.equal(binary(x, threshold=0.3), expected)


@settings(max_examples=60, deadline=None)
@given(
    levels=st.integers(2, 64),
    low=st.floats(-5, 5),
    width=st.floats(0.01, 10),
    xs=st.lists(st.floats(-20, 20), min_size=1, max_size=40),
)
def test_quantize_laws(levels, low, width, xs):
    high = low + width
    x = torch.tensor(sorted(xs), dtype=torch.float64)
    y = quantize(x, levels=levels, range=(low, high))
    step = width / (levels - 1)
    k = (y - low) / step
    # Outputs are levels, lie in the range, are within half a step of the clipped input, and
    # are monotone in x.
    torch.testing.assert_close(k, k.round(), atol=1e-9, rtol=0)
    assert (y >= low - 1e-12).all() and (y <= high + 1e-9).all()
    assert ((y - x.clamp(low, high)).abs() <= step / 2 + 1e-9).all()
    assert (y.diff() >= -1e-12).all()


def test_moving_both_range_ends_together_moves_only_the_clipped_outputs():
    # Inside the range `round` is straight through, so only outputs clipped to an end move.
    m = actlab.create("quantize(levels=5, range=(-0.5, 1.5), learn_range=True, num_parameters=3)").double()
    with torch.no_grad():
        m.low.copy_(torch.tensor([-0.5, -1.0, 0.2]))
        m.high.copy_(torch.tensor([1.5, 0.5, 0.9]))
    x = 4 * torch.rand(80, 3, generator=_gen(), dtype=torch.float64) - 2
    g = torch.randn(x.shape, generator=_gen(1), dtype=torch.float64)
    m(x).backward(g)
    outside = (x < m.low.detach()) | (x > m.high.detach())
    assert outside.any() and (~outside).any()
    torch.testing.assert_close(m.low.grad + m.high.grad, (g * outside).sum(0), atol=1e-9, rtol=1e-10)


def test_fixed_range_gets_no_gradient():
    q = actlab.create("quantize")
    q(torch.randn(64, 64, requires_grad=True)).sum().backward()
    assert q.low.grad is None and q.high.grad is None


def test_functional_validates_like_the_module():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match=r"^quantize: `levels` must be an int >= 2, got 1$"):
        quantize(x, levels=1)
    with pytest.raises(ValueError, match=r"^quantize: `range` must be a non-empty interval .*got \(2.0, 1.0\)$"):
        quantize(x, range=(2.0, 1.0))
    with pytest.raises(ValueError, match=r"quantize: `ste` must be one of .*did you mean 'identity'"):
        quantize(x, ste="identiy")
    with pytest.raises(ValueError, match=r"binary: `ste` must be one of .*did you mean 'relu'"):
        binary(x, ste="rleu")


def test_spec_strings():
    m = actlab.create("quantize(levels=8, range=(-1.0, 1.0), ste='identity', learn_range=True)")
    assert repr(m) == "Quantize(levels=8, range=(-1.0, 1.0), ste='identity', learn_range=True, num_parameters=1)"
    b = actlab.create("sign(threshold=0.5, learn_threshold=False)")
    assert not b.threshold.requires_grad and b.threshold.item() == 0.5
