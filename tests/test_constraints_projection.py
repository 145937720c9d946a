"""Projection baseline: the batched torch solver against cvxpy, idempotence, optimality, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from actlab.constraints import ConeLayer, OSQPProjector, PolyhedronLayer, max_violation, project, v_representation
from test_constraints import random_system

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), with_b=st.booleans())
def test_batched_projection_equals_cvxpy_and_is_idempotent(seed, with_b):
    A, b = random_system(seed, with_b)
    assume(not v_representation(A, b).is_empty)
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal((6, A.shape[1])) * 3)
    p = project(x, A, b)
    # OSQP with polishing as the reference: Clarabel (interior point) is off by ~sqrt(gap) at
    # degenerate apexes.
    ref = project(x, A, b, method="cvxpy", solver="OSQP", tol=1e-10)
    scale = 1 + x.abs().max().item()
    np.testing.assert_allclose(p.numpy(), ref.numpy(), atol=1e-6 * scale)
    # Where polishing is impossible (a degenerate active set) ADMM stops at its tolerance, 1e-9.
    assert max_violation(p, A, b).max() <= 1e-7 * scale
    np.testing.assert_allclose(project(p, A, b).numpy(), p.numpy(), atol=1e-7 * scale)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), with_b=st.booleans())
def test_projection_satisfies_the_variational_inequality(seed, with_b):
    # p = argmin |z - x| over a convex set  <=>  (x - p) . (q - p) <= 0 for every feasible q.
    A, b = random_system(seed, with_b)
    rep = v_representation(A, b)
    assume(not rep.is_empty and not rep.is_point)
    torch.manual_seed(seed % 2**31)
    layer = (ConeLayer(2, A) if b is None else PolyhedronLayer(2, A, b)).double()
    q = layer(3 * torch.randn(64, 2, dtype=torch.float64)).detach()  # feasible points
    x = 3 * torch.randn(16, A.shape[1], dtype=torch.float64)
    p = project(x, A, b)
    inner = torch.einsum("bd,bqd->bq", x - p, q[None] - p[:, None])
    assert inner.max() <= 1e-7 * (1 + x.abs().max() + q.abs().max()) ** 2


def test_known_projections_and_dtype():
    x = torch.tensor([[2.0, 1.0], [-1.0, 3.0], [-1.0, -1.0]])
    p = project(x, [[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])
    torch.testing.assert_close(p, torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]]))
    assert p.dtype == torch.float32
    # Onto the half-plane z0 + z1 <= 0 along the normal; any batch shape.
    q = project(torch.tensor([[[1.0, 1.0]]], dtype=torch.float64), [[1.0, 1.0]])
    torch.testing.assert_close(q, torch.zeros(1, 1, 2, dtype=torch.float64))
    osqp = project(x.double(), [[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0], method="cvxpy", solver="OSQP", tol=1e-8)
    torch.testing.assert_close(osqp, p.double(), atol=1e-6, rtol=0)


def test_max_violation_absolute_and_relative():
    A, b = [[1.0, 0.0], [0.0, 2.0]], [1.0, 0.0]
    z = torch.tensor([[3.0, 0.0], [0.0, 0.5], [0.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(max_violation(z, A, b), torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    # Relative: (a.z - b)_+ / (|a| |z| + |b|): row 0 of sample 0 gives 2 / (3 + 1).
    torch.testing.assert_close(max_violation(z, A, b, relative=True)[:1], torch.tensor([0.5], dtype=torch.float64))
    assert max_violation(1e6 * z, A, relative=True)[0] == max_violation(z, A, relative=True)[0]


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: project(torch.zeros(2, 1), [[1.0], [-1.0]], [-1.0, -1.0]),
            ValueError,
            r"project: .*non-empty feasible set",
        ),
        (lambda: project(torch.zeros(2, 3), [[1.0, 0.0]]), ValueError, r"`x` must be of shape \(\*, 2\)"),
        (lambda: project(torch.tensor([[np.nan, 0.0]]), [[1.0, 0.0]]), ValueError, r"`x` must be finite"),
        (lambda: project(torch.zeros(1, 2, dtype=torch.int64), [[1.0, 0.0]]), TypeError, r"`x` must be a floating"),
        (lambda: project(torch.zeros(1, 2), [[1.0, 0.0]], method="qp"), ValueError, r"`method` must be one of"),
        (lambda: project(torch.zeros(1, 2), [[1.0, 0.0]], tol=0.0), ValueError, r"`tol` must be > 0"),
        (lambda: max_violation(torch.zeros(1, 3), [[1.0, 0.0]]), ValueError, r"max_violation: `z` must be of shape"),
    ],
)
def test_bad_projection_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_narrow_cone_projection_is_exact_not_an_unconverged_iterate():
    # Regression: on this cone (6 nearly parallel rays) fixed-rho ADMM stopped at max_iter with
    # violations of 1e-2 and was returned as the projection.
    rng = np.random.default_rng(69309)
    d, m = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    rng.random()
    A = rng.standard_normal((m, d))
    x = torch.randn(40, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    z = project(x, A)
    assert max_violation(z, A).max().item() < 1e-8
    torch.testing.assert_close(z, project(x, A, method="cvxpy"), atol=1e-5, rtol=0)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), with_b=st.booleans())
def test_osqp_projector_equals_the_exact_projection(seed, with_b):
    # The paper's baseline (one OSQP set-up, warm-started per sample, polished) against the
    # batched solver, which the test above checks against cvxpy at 1e-10.
    A, b = random_system(seed, with_b)
    assume(not v_representation(A, b).is_empty)
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal((8, A.shape[1])) * 3)
    scale = 1 + x.abs().max().item()
    p = project(x, A, b, method="osqp", tol=1e-6)
    np.testing.assert_allclose(p.numpy(), project(x, A, b).numpy(), atol=1e-5 * scale)
    assert max_violation(p, A, b).max() <= 1e-5 * scale


def test_osqp_projector_is_set_up_once_and_reused():
    A = [[1.0, 0.0], [0.0, 1.0]]
    proj = OSQPProjector(A, [1.0, 1.0])
    x = torch.tensor([[2.0, 1.0], [-1.0, 3.0], [-1.0, -1.0]])
    expected = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]])
    for _ in range(2):  # the second call starts warm from the first call's last solution
        z = proj(x)
        assert z.dtype == torch.float32 and z.shape == x.shape
        torch.testing.assert_close(z, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(proj(x[None]), expected[None], atol=1e-6, rtol=0)  # any batch shape
    with pytest.raises(ValueError, match=r"OSQPProjector: `x` must be of shape \(\*, 2\)"):
        proj(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"OSQPProjector: `tol` must be > 0"):
        OSQPProjector(A, tol=0.0)
    with pytest.raises(RuntimeError, match="OSQPProjector: OSQP returned status"):
        OSQPProjector([[1.0], [-1.0]], [-1.0, -1.0])(torch.zeros(1, 1))  # infeasible: z <= -1, z >= 1
