"""SLAF: every basis against autograd of the formula, fits, closed forms, shapes, guards.

The generic tests check the specs' configurations on the fused path, the saved bytes and
`reset_parameters` (tests/specs/slaf.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL
from actlab.functional import slaf, slaf_relu
from actlab.nn import SLAF, SLAFReLU
from specs.slaf import power_series_formula

CASES = [  # basis, range, relu, per-channel
    ("monomial", (-3.0, 3.0), False, True),
    ("monomial", None, False, False),
    ("chebyshev", (-2.0, 1.0), False, True),
    ("legendre", (-3.0, 3.0), True, True),
    ("chebyshev", (-1.5, 1.5), True, False),
]


def _check_against_reference(numel, dtype, basis, interval, relu, per_channel, degree=5):
    gen = torch.Generator().manual_seed(0)
    x = (2.5 * torch.randn(numel // 4, 4, generator=gen, dtype=torch.float64)).to(dtype)
    g = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(dtype)
    scale = 0.3 if interval is None else 1.0  # keep an unguarded degree-5 polynomial tame
    coef = (scale * torch.randn(4 if per_channel else 1, degree + 1, generator=gen, dtype=torch.float64)).to(dtype)
    coef = coef if per_channel else coef[0]
    fn = slaf_relu if relu else slaf
    xa, ca = x.clone().requires_grad_(), coef.clone().requires_grad_()
    xb, cb = x.clone().requires_grad_(), coef.clone().requires_grad_()
    ya = fn(xa, coefficients=ca, basis=basis, range=interval)  # (4, K+1) broadcasts along dim -1
    yb = power_series_formula(xb, cb, basis, interval, relu)
    ya.backward(g)
    yb.backward(g)
    tol = {"atol": 1e-10, "rtol": 1e-10} if dtype is torch.float64 else {"atol": 2e-4, "rtol": 2e-4}
    torch.testing.assert_close(ya, yb, **tol)
    torch.testing.assert_close(xa.grad, xb.grad, **tol)
    torch.testing.assert_close(
        ca.grad, cb.grad, atol=tol["atol"] * numel, rtol=1e-3 if dtype is torch.float32 else 1e-9
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("basis", "interval", "relu", "per_channel"), CASES)
def test_eager_path_matches_autograd_of_the_formula(basis, interval, relu, per_channel, dtype):
    _check_against_reference(1000, dtype, basis, interval, relu, per_channel)


def test_fused_path_of_the_unguarded_monomial_matches_autograd_of_the_formula():
    # The generic fast-path test covers the specs' Chebyshev and Legendre ranges; this is range=None.
    _check_against_reference(FUSE_MIN_NUMEL * 2, torch.float64, *CASES[1])


@pytest.mark.parametrize("basis", ["monomial", "chebyshev", "legendre"])
def test_fit_to_tanh_is_close_on_its_range(basis):
    # Documented bounds (docs/slaf.md): degree 6 on [-2, 2]: max 0.021, rms 0.0072; degree 9 on [-3, 3].
    m = SLAF(degree=6, basis=basis, init="tanh", range=(-2.0, 2.0), dtype=torch.float64)
    err = m.fit_error()
    x = torch.linspace(-2, 2, 1025, dtype=torch.float64)
    with torch.no_grad():
        direct = (m(x) - torch.tanh(x)).abs()
    assert err.max_abs == pytest.approx(direct.max().item(), rel=1e-9)
    assert err.max_abs < 0.025 and err.rms < 0.008 and err.range == (-2.0, 2.0)
    assert SLAF(degree=9, basis=basis, init="tanh", dtype=torch.float64).fit_error().max_abs < 0.03
    # Higher degree fits strictly better; tangent continuation keeps tanh's sign far out.
    assert (
        SLAF(degree=8, basis=basis, init="tanh", range=(-2.0, 2.0), dtype=torch.float64).fit_error().max_abs
        < err.max_abs
    )


def test_fit_error_against_another_target_and_paper_init_has_none():
    m = SLAF(degree=4, init="gelu")
    assert m.fit_error("relu").max_abs > m.fit_error().max_abs
    with pytest.raises(
        ValueError, match=r"SLAF: `target` must be a registered activation when init='paper', got 'paper'"
    ):
        SLAF(init="paper").fit_error()


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 4), (7, 3)])
def test_per_channel_coefficients_broadcast_on_dim_1(shape):
    gen = torch.Generator().manual_seed(1)
    m = SLAF(degree=3, basis="legendre", num_parameters=3, dtype=torch.float64)
    with torch.no_grad():
        m.coefficients.add_(0.3 * torch.randn(m.coefficients.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    y = m(x)
    y.pow(2).sum().backward()
    assert y.shape == x.shape and m.coefficients.grad.shape == (3, 4)
    for c in range(3):
        a = m.coefficients[c].detach().clone().requires_grad_()
        yc = slaf(x[:, c], coefficients=a, basis="legendre", range=(-3.0, 3.0))
        torch.testing.assert_close(y[:, c], yc, atol=0, rtol=0)
        yc.pow(2).sum().backward()
        torch.testing.assert_close(m.coefficients.grad[c], a.grad, atol=1e-12, rtol=1e-12)


def test_every_channel_starts_from_the_same_fit_and_paper_init_follows_the_authors():
    m = actlab.create("slaf(degree=4, init='gelu', num_parameters=3)")
    assert torch.equal(m.coefficients[0], m.coefficients[2])
    torch.manual_seed(0)
    p = SLAF(degree=4, init="paper", num_parameters=512)
    assert torch.equal(p.coefficients[:, 0], torch.full((512,), 0.1))
    assert abs(p.coefficients[:, 1].mean().item() - 1.0) < 0.15 and abs(p.coefficients[:, 2:].std().item() - 1.0) < 0.1


def test_slaf_relu_starts_as_exactly_relu_and_fits_the_residual():
    m = SLAFReLU(degree=5, basis="chebyshev")
    x = torch.linspace(-6, 6, 1001)
    assert torch.equal(m(x), torch.relu(x))
    g = SLAFReLU(degree=5, init="gelu", dtype=torch.float64)
    grid = torch.linspace(-3, 3, 1025, dtype=torch.float64)
    with torch.no_grad():
        direct = (g(grid) - torch.nn.functional.gelu(grid)).abs().max().item()
    assert g.fit_error().max_abs == pytest.approx(direct, rel=1e-9)
    # gelu - relu keeps ReLU's kink at 0, so a smooth target is fitted better by plain SLAF.
    assert SLAF(degree=5, init="gelu", dtype=torch.float64).fit_error().max_abs < g.fit_error().max_abs


@pytest.mark.parametrize(
    "spec",
    [
        "slaf(degree=5, basis='chebyshev', num_parameters=2)",
        "slaf(degree=4, basis='legendre', range=(-1, 2), num_parameters=2)",
        "slaf(degree=3, range=None, num_parameters=2)",
        "slaf_relu(degree=4, init='gelu', num_parameters=2)",
    ],
)
def test_polynomial_evaluates_equal_to_forward_on_the_range(spec):
    m = actlab.create(spec).double()
    with torch.no_grad():
        m.coefficients.add_(
            0.2 * torch.randn(m.coefficients.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        )
    lo, hi = m.fit_range
    x = torch.linspace(lo, hi, 301, dtype=torch.float64).unsqueeze(1).expand(301, 2)
    with torch.no_grad():
        y = m(x).numpy()
    polys = m.polynomial()
    assert len(polys) == 2
    for c, p in enumerate(polys):
        assert p.degree() <= m.degree and isinstance(p, np.polynomial.Polynomial)
        expected = p(x[:, c].numpy()) + (np.maximum(x[:, c].numpy(), 0) if isinstance(m, SLAFReLU) else 0)
        np.testing.assert_allclose(y[:, c], expected, atol=1e-10, rtol=1e-10)
    text = m.formula(channel=1)
    assert " x" in text and (text.startswith("relu(x) + ") == isinstance(m, SLAFReLU))


def test_tangent_continuation_keeps_high_degrees_linear_outside_the_range():
    gen = torch.Generator().manual_seed(3)
    m = SLAF(degree=10, basis="chebyshev", init="paper", range=(-2.0, 2.0), dtype=torch.float64)
    with torch.no_grad():
        m.coefficients.copy_(torch.randn(1, 11, generator=gen, dtype=torch.float64))
    x = torch.tensor(
        [-1e6, -2 - 1e-9, -2.0, -2 + 1e-9, 2 - 1e-9, 2.0, 2 + 1e-9, 1e6], dtype=torch.float64, requires_grad=True
    )
    y = m(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(y).all() and torch.isfinite(dy).all()
    torch.testing.assert_close(y[1:4], y[2].expand(3), atol=1e-6, rtol=0)  # continuous at the ends
    torch.testing.assert_close(y[4:7], y[5].expand(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(dy[1:4], dy[2].expand(3), atol=1e-6, rtol=1e-9)  # and so is the slope
    torch.testing.assert_close(dy[[0, 7]], dy[[1, 6]], atol=0, rtol=1e-12)  # constant slope beyond
    # The unguarded paper form explodes as |x|^K instead.
    bare = SLAF(degree=10, range=None, init="paper", dtype=torch.float64)
    assert bare(torch.tensor([1e40], dtype=torch.float64)).abs().item() > 1e300


def test_functional_validates_its_arguments():
    x = torch.zeros(3)
    with pytest.raises(TypeError, match=r"^slaf: `coefficients` must be of type Tensor, got 'list \[1.0, 2.0\]'$"):
        slaf(x, coefficients=[1.0, 2.0])
    with pytest.raises(
        ValueError, match=r"^slaf_relu: `basis` must be one of .*did you mean 'legendre'.*got 'legendr'$"
    ):
        slaf_relu(x, coefficients=torch.ones(2), basis="legendr")
    with pytest.raises(
        ValueError, match=r"`coefficients` must be a tensor with the K \+ 1 coefficients on its last dim, got \(\)"
    ):
        slaf(x, coefficients=torch.tensor(1.0))


def test_spec_strings_from_the_issue_build():
    a = actlab.create("slaf(degree=4, init='gelu')")
    b = actlab.create("slaf(basis='chebyshev', degree=6, range=(-3, 3))")
    assert (a.degree, a.init, b.basis, b.range) == (4, "gelu", "chebyshev", (-3.0, 3.0))
    assert actlab.create("slaf(init='leaky_relu(negative_slope=0.2)')").fit_error().max_abs < 0.2
    assert actlab.get_spec("slaf").family == "learnable" and actlab.get_spec("slaf").learnable


def test_each_configuration_gets_its_own_kernel_and_recompile_budget():
    from actlab.slaf.activation import _kernel, _slaf_forward

    a = _kernel(_slaf_forward, "chebyshev", 5, True, False)
    assert _kernel(_slaf_forward, "chebyshev", 5, True, False) is a
    b = _kernel(_slaf_forward, "legendre", 5, True, False)
    # Dynamo's cache and recompile limit live on the code object: distinct objects, same code.
    assert b.unfused.__code__ is not a.unfused.__code__ and b.unfused.__code__ == a.unfused.__code__
