"""Constraint layers (Frerix et al.): geometry, feasibility by construction, reachability, plumbing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from scipy.optimize import linprog

from actlab.constraints import (
    ConeLayer,
    GeneratorCountWarning,
    PolyhedronLayer,
    max_violation,
    project,
    v_representation,
)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_system(seed: int, with_b: bool):
    """Small random A (b): generic Gaussian rows or small integers (degenerate, redundant rows)."""
    rng = np.random.default_rng(seed)
    d, m = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    A = rng.standard_normal((m, d)) if rng.random() < 0.6 else rng.integers(-2, 3, (m, d)).astype(float)
    b = rng.random(m) * 2 - 0.3 if with_b else None
    return A, b


# ---------------------------------------------------------------- geometry


def test_known_v_representations():
    quadrant = v_representation([[1.0, 0.0], [0.0, 1.0]])
    assert quadrant.homogeneous and quadrant.n_rays == 2 and quadrant.n_lineality == 0
    box = v_representation([[1.0, 0], [-1, 0], [0, 1], [0, -1]], [1.0, 1, 1, 1])
    assert sorted(map(tuple, box.vertices.tolist())) == [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    assert box.n_rays == 0 and box.n_lineality == 0
    half = v_representation([[1.0, 1.0]])  # half-plane: one ray, a 1-dim lineality space
    assert half.n_rays == 1 and half.n_lineality == 1
    np.testing.assert_allclose(half.lineality @ [1.0, 1.0], 0.0, atol=1e-12)
    np.testing.assert_allclose(half.rays[0], [-(0.5**0.5), -(0.5**0.5)], atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), with_b=st.booleans(), exact=st.booleans())
def test_generators_lie_in_the_set(seed, with_b, exact):
    A, b = random_system(seed, with_b)
    rep = v_representation(A, b, exact=exact)
    assume(not rep.is_empty)
    bb = np.zeros(len(A)) if b is None else b
    scale = np.abs(A).sum(1).max() + 1e-300
    assert (rep.vertices @ A.T <= bb + 1e-9 * scale * (1 + np.abs(rep.vertices).max())).all()
    assert (rep.rays @ A.T <= 1e-9 * scale).all()
    np.testing.assert_allclose(rep.lineality @ A.T, 0.0, atol=1e-9 * scale)
    np.testing.assert_allclose(np.linalg.norm(rep.rays, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(rep.lineality @ rep.lineality.T, np.eye(rep.n_lineality), atol=1e-10)


def test_float_and_exact_agree_on_a_degenerate_system():
    # A pyramid's apex is degenerate (4 facets meet at the origin in R^3).
    A = np.array([[1, 0, -1], [-1, 0, -1], [0, 1, -1], [0, -1, -1]], dtype=float)
    f, e = v_representation(A), v_representation(A, exact=True)
    assert f.n_rays == e.n_rays == 4
    key = lambda r: sorted(map(tuple, np.round(r, 12).tolist()))  # noqa: E731
    assert key(f.rays) == key(e.rays)


def test_empty_point_redundant_and_implicit_rows_are_reported():
    empty = v_representation([[1.0], [-1.0]], [-1.0, -1.0])  # z <= -1 and z >= 1
    assert empty.is_empty and "empty" in empty.summary()
    zero = v_representation([[1.0], [-1.0]])  # z <= 0 and z >= 0: only {0}
    assert zero.is_point and zero.homogeneous
    rep = v_representation([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    assert len(rep.redundant_rows) == 1 and rep.redundant_rows[0] in (0, 1)
    eq = v_representation([[1.0, 0.0], [-1.0, 0.0]])  # z_0 = 0, z_1 free
    assert set(eq.implicit_equalities) == {0, 1} and eq.n_lineality == 1 and eq.n_rays == 0


def test_many_generators_warn_with_the_count():
    with pytest.warns(GeneratorCountWarning, match=r"4 generators .*width grows"):
        v_representation(np.vstack([np.eye(2), -np.eye(2)]), np.ones(4), warn_above=3)


@pytest.mark.parametrize(
    ("A", "b", "match"),
    [
        ([[1.0, np.nan]], None, r"`A` must be finite"),
        ([1.0, 2.0], None, r"`A` must be a 2-D array"),
        ([[1.0, 2.0]], [1.0, 2.0], r"`b` must be of shape \(1,\)"),
        ([[1.0, 2.0]], [np.inf], r"`b` must be finite"),
    ],
)
def test_bad_constraints_raise(A, b, match):
    with pytest.raises(ValueError, match=match):
        v_representation(A, b)


# ---------------------------------------------------------------- layers: feasibility


def _layer(A, b, in_features, nonneg, dtype):
    if b is None:
        return ConeLayer(in_features, A, nonneg=nonneg, dtype=dtype)
    return PolyhedronLayer(in_features, A, b, nonneg=nonneg, dtype=dtype)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    with_b=st.booleans(),
    log_scale=st.integers(-3, 6),
    nonneg=st.sampled_from(["relu", "abs"]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_every_output_satisfies_the_constraints(seed, with_b, log_scale, nonneg, dtype):
    A, b = random_system(seed, with_b)
    rep = v_representation(A, b)
    assume(not rep.is_empty and not rep.is_point)
    torch.manual_seed(seed % 2**31)
    layer = _layer(A, b, 5, nonneg, dtype)
    with torch.no_grad():
        layer.linear.weight.mul_(10.0 ** (log_scale / 2))
    x = torch.randn(64, 5, dtype=dtype) * 10.0 ** (log_scale / 2)
    z = layer(x)
    assert z.shape == (64, A.shape[1]) and z.dtype == dtype and torch.isfinite(z).all()
    # 1e-6 relative: |a_i||z| + |b_i| is the scale of a_i z - b_i.
    assert max_violation(z, A, b, relative=True).max() <= 1e-6


def _coefficients(layer, target: np.ndarray) -> np.ndarray:
    """Generator weights reproducing ``target`` (Minkowski-Weyl says they exist).

    An LP minimising the L1 residual ``|G c - target|``: the targets come from an iterative
    projection and are feasible only to solver tolerance, so exact equality can be infeasible
    by 1e-9; the residual is asserted to be that small instead.
    """
    V = layer.vertices.double().numpy() if isinstance(layer, PolyhedronLayer) else np.zeros((0, layer.out_features))
    R, L = layer.rays.double().numpy(), layer.lineality.double().numpy()
    k, p, q = len(V), len(R), len(L)
    d = len(target)
    G = np.vstack([V, R, L]).T
    A_eq, b_eq = np.hstack([G, np.eye(d), -np.eye(d)]), target
    if k:
        A_eq = np.vstack([A_eq, np.r_[np.ones(k), np.zeros(p + q + 2 * d)]])
        b_eq = np.r_[b_eq, 1.0]
    cost = np.r_[np.zeros(k + p + q), np.ones(2 * d)]
    bounds = [(0, None)] * (k + p) + [(None, None)] * q + [(0, None)] * (2 * d)
    res = linprog(cost, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, f"LP failed: {res.message}"
    assert res.fun <= 1e-6 * (1 + np.abs(target).max()), f"target not reachable: residual {res.fun:.2e}"
    return res.x[: k + p + q]


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), with_b=st.booleans())
def test_every_feasible_point_is_reachable(seed, with_b):
    A, b = random_system(seed, with_b)
    rep = v_representation(A, b)
    assume(not rep.is_empty and not rep.is_point)
    layer = _layer(A, b, 3, "relu", torch.float64)
    # Targets: projections of random points land on faces, edges and vertices as well as inside.
    gen = torch.Generator().manual_seed(seed)  # reproducible with hypothesis' example
    target = project(torch.randn(8, A.shape[1], dtype=torch.float64, generator=gen) * 3, A, b).numpy()
    for t in target:
        c = _coefficients(layer, t)
        if isinstance(layer, PolyhedronLayer):
            k = layer.n_vertices
            # softmax reaches zero weights only in the limit; HiGHS may return a bound-0 weight
            # as -1e-11 (within its tolerance), so clip before the log
            c[:k] = np.log(np.clip(c[:k], 0.0, None) + 1e-12)
        with torch.no_grad():
            layer.linear.weight.zero_()
            layer.linear.bias.copy_(torch.as_tensor(c))
        z = layer(torch.zeros(1, 3, dtype=torch.float64))[0].detach().numpy()
        np.testing.assert_allclose(z, t, atol=1e-6 * (1 + np.abs(t).max()))


def test_training_fits_a_feasible_target_on_the_boundary():
    A = np.array([[1.0, 1.0, 0.0], [0.0, -1.0, 1.0], [-1.0, 0.0, 0.0]])
    target = project(torch.tensor([[2.0, 1.0, 3.0]], dtype=torch.float64), A)[0].float()
    assert max_violation(target[None], A).item() < 1e-6 and (A @ target.numpy()).max() > -1e-6  # on a face
    layer = ConeLayer(4, A)
    x = torch.randn(32, 4)
    opt = torch.optim.Adam(layer.parameters(), lr=0.02)
    for _ in range(400):
        opt.zero_grad()
        loss = ((layer(x) - target) ** 2).sum(-1).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4
    assert max_violation(layer(x), A).max() <= 1e-6


# ---------------------------------------------------------------- layers: plumbing


def test_generator_counts_and_repr():
    layer = ConeLayer(7, [[1.0, 1.0, 0.0]])
    assert (layer.n_rays, layer.n_lineality, layer.n_generators) == (1, 2, 3)
    assert layer.linear.out_features == layer.n_generators and layer.out_features == 3
    assert "n_rays=1" in repr(layer) and "nonneg='relu'" in repr(layer)
    poly = PolyhedronLayer(2, [[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]], [1.0, 1.0, 0.0])
    assert (poly.n_vertices, poly.n_rays, poly.n_lineality) == (2, 1, 0)


def test_any_batch_shape_and_gradients():
    layer = PolyhedronLayer(4, [[1.0, 2.0], [-1.0, 0.5]], [1.0, 2.0])
    x = torch.randn(2, 3, 4, requires_grad=True)
    z = layer(x)
    assert z.shape == (2, 3, 2)
    z.sum().backward()
    assert x.grad.abs().sum() > 0 and layer.linear.weight.grad.abs().sum() > 0
    assert layer(torch.randn(0, 4)).shape == (0, 2)


def test_max_norm_bounds_the_output_and_keeps_the_cone():
    A = [[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]
    layer = ConeLayer(3, A, max_norm=0.5)
    z = layer(100 * torch.randn(256, 3))
    assert z.abs().amax(-1).max() <= 0.5 + 1e-6
    assert max_violation(z, A, relative=True).max() <= 1e-6
    small = ConeLayer(3, A)
    small.load_state_dict(layer.state_dict())
    x = 1e-4 * torch.randn(8, 3)
    torch.testing.assert_close(layer(x), small(x))  # below the bound nothing is rescaled


def test_buffers_move_and_round_trip(tmp_path):
    A = [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    layer = PolyhedronLayer(3, A, [1.0, 2.0]).double()
    assert layer.A.dtype == layer.rays.dtype == layer.vertices.dtype == torch.float64
    assert {"A", "b", "vertices", "rays", "lineality", "linear.weight"} <= set(layer.state_dict())
    clone = PolyhedronLayer(3, A, [1.0, 2.0], dtype=torch.float64)
    clone.load_state_dict(layer.state_dict())
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(clone(x), layer(x))
    torch.save(layer, tmp_path / "m.pt")
    torch.testing.assert_close(torch.load(tmp_path / "m.pt", weights_only=False)(x), layer(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), layer(x))


def test_compile_matches_eager():
    layer = ConeLayer(4, [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]], nonneg="abs", max_norm=2.0)
    x = torch.randn(6, 4)
    torch.testing.assert_close(torch.compile(layer, fullgraph=True)(x), layer(x))


def test_onnx_export_matches_eager(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    layer = PolyhedronLayer(4, [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], [1.0, 1.0, 0.5]).eval()
    x = torch.randn(5, 4)
    torch.onnx.export(layer, (x,), str(tmp_path / "p.onnx"), dynamo=True, verbose=False)
    (y,) = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()}
    )
    np.testing.assert_allclose(y, layer(x).detach().numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (
            lambda: ConeLayer(3, [[1.0], [-1.0]]),
            ValueError,
            r"ConeLayer: `A` must be .*more than one point, got .*only \{0\}",
        ),
        (
            lambda: PolyhedronLayer(3, [[1.0], [-1.0]], [-1.0, -1.0]),
            ValueError,
            r"PolyhedronLayer: .*non-empty feasible set",
        ),
        (lambda: PolyhedronLayer(3, [[1.0], [-1.0]], [1.0, -1.0]), ValueError, r"single point \[1.0\]"),
        (lambda: PolyhedronLayer(3, [[1.0]], None), ValueError, r"`b` must be an array"),
        (lambda: ConeLayer(3, [[1.0, np.inf]]), ValueError, r"ConeLayer: `A` must be finite"),
        (lambda: ConeLayer(3, [[[1.0]]]), ValueError, r"`A` must be a 2-D array"),
        (lambda: ConeLayer(0, [[1.0]]), ValueError, r"`in_features` must be an int >= 1, got 0"),
        (lambda: ConeLayer(3, [[1.0]], nonneg="softplus"), ValueError, r"`nonneg` must be one of 'relu', 'abs'"),
        (lambda: ConeLayer(3, [[1.0]], max_norm=0.0), ValueError, r"`max_norm` must be > 0, got 0.0"),
        (lambda: ConeLayer(3, "A"), TypeError, r"`A` must be a real 2-D array"),
    ],
)
def test_bad_layer_arguments_raise(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_zero_rows_are_handled_before_cdd():
    # cddlib's canonicalize segfaults when every row is 0 <= b_i; these never reach it.
    whole = v_representation([[0.0, 0.0]])
    assert whole.n_lineality == 2 and whole.redundant_rows == (0,)
    assert v_representation([[0.0, 0.0], [1.0, 0.0]], [-1.0, 0.0]).is_empty
    assert v_representation([[0.0, 0.0], [1.0, 0.0]]).redundant_rows == (0,)
