"""TERELU: the paper's properties and the fused path on per-channel views.

The fast path against autograd of the formula, the saved bytes and `reset_parameters` are
checked by the generic tests (tests/specs/classic.py).
"""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL
from actlab.functional import terelu


def test_fused_path_with_per_channel_module_and_non_leaf_input():
    # A per-channel beta reaches the kernel as a view (non-leaf); the input has history too.
    m = actlab.create("terelu(num_parameters=8)")
    w = torch.randn(8, requires_grad=True)
    x = torch.randn(FUSE_MIN_NUMEL // 8 * 2, 8, 1) * w.view(1, 8, 1)
    m(x).sum().backward()
    assert m.beta.grad is not None and m.beta.grad.shape == (8,) and w.grad is not None


def test_continuous_with_unit_slope_at_mu_and_saturates_at_beta_times_mu_plus_one():
    mu = 1.5
    x = torch.tensor([mu - 1e-7, mu, mu + 1e-7, 60.0], dtype=torch.float64, requires_grad=True)
    y = terelu(x, mu=mu)
    assert abs(y[0] - y[2]) < 1e-6 and y[1] == mu
    (g,) = torch.autograd.grad(y[:3].sum(), x)
    torch.testing.assert_close(g[:3], torch.ones(3, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(terelu(torch.tensor([60.0]), mu=mu, beta=2.0), torch.tensor([2.0 * (mu + 1)]))
    torch.testing.assert_close(terelu(torch.tensor([-60.0]), alpha=0.3), torch.tensor([-0.3]))


def test_functional_validates_like_the_module():
    with pytest.raises(ValueError, match=r"^terelu: `mu` must be > 0, got -2.0$"):
        terelu(torch.zeros(2), mu=-2.0)
