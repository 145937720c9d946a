"""TERELU: the paper's properties and the fused fast path against autograd of the formula."""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL
from actlab.functional import terelu


def _reference(x, alpha, mu, beta):
    """The paper's piecewise formula as plain torch ops (differentiable by autograd)."""
    return torch.where(
        x <= 0, alpha * (torch.exp(x) - 1), torch.where(x < mu, x, beta * (mu - (torch.exp(mu - x) - 1)))
    )


@pytest.mark.parametrize("numel", [1000, FUSE_MIN_NUMEL * 2], ids=["eager", "fused"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fast_path_matches_autograd_of_the_formula(numel, dtype):
    gen = torch.Generator().manual_seed(0)
    x = (4 * torch.randn(numel // 4, 4, generator=gen, dtype=torch.float64)).to(dtype)
    g = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(dtype)
    beta = torch.tensor([0.7, 1.3, 1.0, 2.0], dtype=dtype).view(1, 4)  # per-column, to test the reduction
    xa, ba = x.clone().requires_grad_(), beta.clone().requires_grad_()
    xb, bb = x.clone().requires_grad_(), beta.clone().requires_grad_()
    ya = terelu(xa, alpha=0.5, mu=1.5, beta=ba)
    yb = _reference(xb, 0.5, 1.5, bb)
    ya.backward(g)
    yb.backward(g)
    tol = {"atol": 1e-12, "rtol": 1e-12} if dtype is torch.float64 else {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(ya, yb, **tol)
    torch.testing.assert_close(xa.grad, xb.grad, **tol)
    torch.testing.assert_close(
        ba.grad, bb.grad, atol=tol["atol"] * numel, rtol=1e-4 if dtype is torch.float32 else 1e-10
    )


def test_fused_path_with_per_channel_module_and_non_leaf_input():
    # A per-channel beta reaches the kernel as a view (non-leaf); the input has history too.
    m = actlab.create("terelu(num_parameters=8)")
    w = torch.randn(8, requires_grad=True)
    x = torch.randn(FUSE_MIN_NUMEL // 8 * 2, 8, 1) * w.view(1, 8, 1)
    m(x).sum().backward()
    assert m.beta.grad is not None and m.beta.grad.shape == (8,) and w.grad is not None


def test_saves_only_the_input_for_backward():
    from actlab.bench.ops import saved_tensor_bytes

    x = torch.randn(64, 64, requires_grad=True)
    assert saved_tensor_bytes(actlab.create("terelu"), x) == x.numel() * 4 + 4  # x and the scalar beta


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


def test_reset_parameters_is_idempotent():
    m = actlab.create("terelu(num_parameters=4)")
    with torch.no_grad():
        m.beta.mul_(3)
    m.reset_parameters()
    first = m.beta.clone()
    m.reset_parameters()
    assert torch.equal(first, m.beta) and torch.equal(first, torch.ones(4))
