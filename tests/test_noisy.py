"""Noisy activations (Gulcehre et al., 2016): the paper's properties and the fused path vs autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL
from actlab.functional import (
    noisy_hard_sigmoid,
    noisy_hard_tanh,
    noisy_input_hard_sigmoid,
    noisy_input_hard_tanh,
    noisy_input_sigmoid,
    noisy_input_tanh,
    noisy_sigmoid,
    noisy_tanh,
)
from actlab.noisy import core as noisy_core
from actlab.noisy.noise import draw_key, standard_normal
from specs._base import below_fuse

# name -> (function, (k, b, lo, hi), is NAN, linear-region half-width, default alpha); soft units
# have lo = hi = None (h = tanh or sigmoid) and use the half-width only to place test inputs.
# Input noise must move the input by ~|Delta| to matter, and sigma ~ c (p Delta / 4)^2 near the
# bound: the tests use a large c for NANI and p = 4 (one over the slope) for the sigmoids.
UNITS = {
    "noisy_hard_tanh": (noisy_hard_tanh, (1.0, 0.0, -1.0, 1.0), True, 1.0, 1.15),
    "noisy_hard_sigmoid": (noisy_hard_sigmoid, (0.25, 0.5, 0.0, 1.0), True, 2.0, 1.1),
    "noisy_input_hard_tanh": (noisy_input_hard_tanh, (1.0, 0.0, -1.0, 1.0), False, 1.0, None),
    "noisy_input_hard_sigmoid": (noisy_input_hard_sigmoid, (0.25, 0.5, 0.0, 1.0), False, 2.0, None),
    "noisy_tanh": (noisy_tanh, (1.0, 0.0, None, None), True, 1.0, 1.15),
    "noisy_sigmoid": (noisy_sigmoid, (0.25, 0.5, None, None), True, 2.0, 1.1),
    "noisy_input_tanh": (noisy_input_tanh, (1.0, 0.0, None, None), False, 1.0, None),
    "noisy_input_sigmoid": (noisy_input_sigmoid, (0.25, 0.5, None, None), False, 2.0, None),
}
HARD = [n for n, u in UNITS.items() if u[1][2] is not None]
C_TEST = {n: 3.0 if u[2] else 30.0 for n, u in UNITS.items()}
P_TEST = {n: 4.0 if "sigmoid" in n else 1.0 for n in UNITS}


def _h(unit, v):
    k, b, lo, hi = unit
    if lo is None:
        return torch.tanh(v) if b == 0 else torch.sigmoid(v)
    return torch.clamp(k * v + b, lo, hi)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _reference(name, x, xi, *, alpha=None, c, p):
    """The paper's equations as plain torch ops (autograd differentiates them), given the noise ``xi``."""
    _, unit, is_nan, _, default_alpha = UNITS[name]
    k, b = unit[:2]
    u = k * x + b
    h = _h(unit, x)
    sigma = c * (torch.sigmoid(p * (h - u)) - 0.5) ** 2
    if is_nan:
        alpha = default_alpha if alpha is None else alpha
        d = -torch.sign(x) * math.copysign(1.0, 1.0 - alpha)
        return alpha * h + (1 - alpha) * u + d * sigma * xi
    return _h(unit, x - torch.sign(x) * sigma * xi)


def _sample(shape, half_width, dtype, gen):
    # Inputs on both sides and deep in saturation, kept 1e-3 away from the kinks at +-half_width.
    x = 3 * half_width * (2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1)
    x = torch.where((x.abs() - half_width).abs() < 1e-3, x * 1.01, x)
    return x.to(dtype)


CASES = [(n, half, training) for n in UNITS for half in (False, True) for training in (True, False)]


@pytest.mark.parametrize(("name", "half", "training"), CASES)
def test_matches_autograd_of_the_paper_formula(name, half, training):
    fn, _, is_nan, hw, _ = UNITS[name]
    x = _sample((250, 4), hw, torch.float64, _gen(1))
    g = torch.randn(x.shape, generator=_gen(2), dtype=torch.float64)
    p = P_TEST[name] * torch.tensor([0.5, 1.0, 2.0, -1.5], dtype=torch.float64).view(1, 4)  # per column
    c = C_TEST[name]
    xa, pa, xb, pb = (
        x.clone().requires_grad_(),
        p.clone().requires_grad_(),
        x.clone().requires_grad_(),
        p.clone().requires_grad_(),
    )
    ya = fn(xa, training=training, c=c, p=pa, half_normal=half, generator=_gen(7))
    if training:
        xi = standard_normal(x, draw_key(name, x, _gen(7)), half=half).to(x.dtype)
    else:
        xi = torch.full_like(x, math.sqrt(2 / math.pi) if half else 0.0)
    yb = _reference(name, xb, xi, c=c, p=pb)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(ya, yb, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-12, rtol=1e-12)
    grad_p = pa.grad if pa.grad is not None else torch.zeros_like(p)  # None: p unused (Gaussian eval)
    torch.testing.assert_close(grad_p, pb.grad, atol=1e-10, rtol=1e-10)
    if training or half:
        assert pa.grad.abs().sum() > 0  # p really is learned through the noise term


# (input shape, p): a p per column (the C kernel's forward, the fused backward), one p and one
# per channel on long rows (the C kernel's forward and backward)
P_LAYOUTS = {
    "per column": ((FUSE_MIN_NUMEL // 2, 4), torch.tensor([0.5, 1.0, 2.0, -1.5]).view(1, 4)),
    "one": ((FUSE_MIN_NUMEL // 2, 4), torch.tensor(1.5)),
    "per channel": ((FUSE_MIN_NUMEL // 256, 4, 64), torch.tensor([0.5, 1.0, 2.0, -1.5]).view(4, 1)),
}


# Inductor compiles a kernel per layout (~10 s each): its path runs one layout
@pytest.mark.parametrize(
    ("native", "layout"),
    [("1", layout) for layout in P_LAYOUTS] + [("0", "per column")],
    ids=[f"C kernel-{layout}" for layout in P_LAYOUTS] + ["Inductor-per column"],
)
@pytest.mark.parametrize(("name", "half"), [("noisy_hard_tanh", False), ("noisy_input_hard_sigmoid", True)])
def test_fused_path_matches_the_formula(name, half, native, layout, monkeypatch):
    """Large float32 inputs: the C kernel (actlab/noisy/noisy.c) and, with it off, Inductor's kernel."""
    monkeypatch.setattr(noisy_core, "_NATIVE", native == "1")
    fn, _, _, hw, _ = UNITS[name]
    shape, p = P_LAYOUTS[layout]
    x = _sample(shape, hw, torch.float32, _gen(1))
    g = torch.randn(x.shape, generator=_gen(2))
    p = P_TEST[name] * p
    xa, pa, xb, pb = (
        x.clone().requires_grad_(),
        p.clone().requires_grad_(),
        x.clone().requires_grad_(),
        p.clone().requires_grad_(),
    )
    ya = fn(xa, training=True, c=C_TEST[name], p=pa, half_normal=half, generator=_gen(7))
    xi = standard_normal(x, draw_key(name, x, _gen(7)), half=half).to(x.dtype)
    yb = _reference(name, xb, xi, c=C_TEST[name], p=pb)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(ya, yb, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pa.grad, pb.grad, atol=1e-2, rtol=1e-4)  # sums of 130k terms in float32


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("name", list(UNITS))
def test_train_mode_gradcheck_with_a_fixed_generator(name, half):
    fn, _, _, hw, _ = UNITS[name]
    x = _sample((3, 4), hw, torch.float64, _gen(3)).requires_grad_()
    p = P_TEST[name] * torch.tensor([0.7, 1.3, 1.0, 2.0], dtype=torch.float64).view(1, 4)
    p.requires_grad_()

    def f(x, p):
        return fn(x, training=True, c=C_TEST[name], p=p, half_normal=half, generator=_gen(11))

    assert torch.autograd.gradcheck(f, (x, p))


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("name", HARD)
def test_equals_h_where_h_is_unsaturated_in_eval_and_training(name, half):
    fn, (k, b, lo, hi), _, hw, _ = UNITS[name]
    x = torch.linspace(-hw + 1e-3, hw - 1e-3, 1001, dtype=torch.float64)
    h = torch.clamp(k * x + b, lo, hi)
    y_eval = fn(x, training=False, c=5.0, half_normal=half)
    torch.testing.assert_close(y_eval, h, atol=1e-15, rtol=0)  # alpha h + (1 - alpha) h rounds
    assert torch.equal(fn(x, training=True, c=5.0, half_normal=half, generator=_gen()), y_eval)  # zero variance


@pytest.mark.parametrize("name", ["noisy_hard_tanh", "noisy_hard_sigmoid", "noisy_tanh", "noisy_sigmoid"])
def test_output_noise_std_is_sigma_and_grows_with_delta(name):
    fn, unit, _, hw, alpha = UNITS[name]
    c, p = 2.0, 1.0
    depths = torch.tensor([hw + 0.25, hw + 0.5, hw + 1.0, hw + 2.0, hw + 4.0], dtype=torch.float64)
    x = depths.repeat(40_000, 1)
    y = below_fuse(fn, torch.cat([x, -x], 1), training=True, c=c, p=p, generator=_gen(5))
    std = y.std(0)
    u = unit[0] * depths + unit[1]
    h = _h(unit, depths)
    sigma = c * (torch.sigmoid(p * (h - u)) - 0.5) ** 2
    torch.testing.assert_close(std, torch.cat([sigma, sigma]), rtol=0.02, atol=0)
    assert (std[1:5] > std[:4]).all() and (std[6:] > std[5:9]).all()
    # ... and its mean is the eval expectation alpha h + (1 - alpha) u.
    torch.testing.assert_close(y.mean(0)[:5], alpha * h + (1 - alpha) * u, atol=4 * std.max().item() / 200, rtol=0)


@pytest.mark.parametrize("alpha", [1.15, 0.9])
def test_half_normal_output_noise_points_as_d_of_x(alpha):
    x = torch.tensor([-4.0, -2.0, -1.5, 1.5, 2.0, 4.0], dtype=torch.float64).repeat(20_000, 1)
    base = below_fuse(noisy_hard_tanh, x, training=False, alpha=alpha, c=3.0)  # Gaussian expectation: no noise
    noise = below_fuse(noisy_hard_tanh, x, training=True, alpha=alpha, c=3.0, half_normal=True, generator=_gen()) - base
    d = -torch.sign(x) * math.copysign(1.0, 1 - alpha)
    assert (noise * d >= 0).all() and (noise * d > 0).float().mean() > 0.99
    # alpha <= 1: the noise points into h's range [-1, 1] (toward the linear region's outputs);
    # alpha > 1: from the leaky mix (inside the range, below |h|) back toward h(x).
    inward = -torch.sign(x) * noise
    assert ((inward > 0) if alpha < 1 else (inward < 0)).float().mean() > 0.99
    # Eval replaces |xi| by E|xi| = sqrt(2/pi): the eval output is the training mean.
    eval_out = noisy_hard_tanh(x[0], training=False, alpha=alpha, c=3.0, half_normal=True)
    stderr = noise.std(0).max().item() / math.sqrt(x.shape[0])
    torch.testing.assert_close(eval_out, (base + noise).mean(0), atol=4 * stderr, rtol=0)


@pytest.mark.parametrize("name", ["noisy_input_hard_tanh", "noisy_input_hard_sigmoid"])
def test_half_normal_input_noise_moves_toward_the_linear_region(name):
    fn, (k, b, lo, hi), _, hw, _ = UNITS[name]
    x = torch.tensor([-3 * hw, -1.5 * hw, 1.5 * hw, 3 * hw], dtype=torch.float64).repeat(20_000, 1)
    h = torch.clamp(k * x + b, lo, hi)
    kw = {"c": C_TEST[name], "p": P_TEST[name]}
    y_half = below_fuse(fn, x, training=True, half_normal=True, generator=_gen(), **kw)
    y_gauss = below_fuse(fn, x, training=True, half_normal=False, generator=_gen(), **kw)
    # Half-normal: the input only moves toward 0, so the output only leaves the saturation level
    # inward; Gaussian noise also pushes half the draws further out (output stays at the bound).
    assert ((y_half - h) * torch.sign(x) <= 0).all()
    unsaturated = lambda y: ((y > lo) & (y < hi)).double().mean()  # noqa: E731
    assert unsaturated(y_half) > 0.2 and unsaturated(y_half) > 1.5 * unsaturated(y_gauss)


def _key(a, b):
    return torch.tensor([a, b], dtype=torch.int32)


def test_noise_generator_is_standard_normal_and_seeded():
    x = torch.empty(1 << 20)
    xi = standard_normal(x, _key(1234, 77), half=False).double()
    assert abs(xi.mean()) < 5e-3 and abs(xi.var() - 1) < 5e-3 and abs((xi**4).mean() - 3) < 0.05
    assert scipy.stats.kstest(xi.numpy(), "norm").statistic < 2e-3
    half = standard_normal(x, _key(9, -5), half=True).double()
    assert abs(half.mean() - math.sqrt(2 / math.pi)) < 3e-3 and (half >= 0).all()
    # Neighbouring keys (either word; the multiplier's low bit is forced to 1) give independent
    # draws, not shifted copies.
    for other_key in (_key(1236, 77), _key(1234, 78)):
        other = standard_normal(x, other_key, half=False).double()
        assert abs(torch.corrcoef(torch.stack([xi, other]))[0, 1]) < 5e-3
        assert abs(torch.corrcoef(torch.stack([xi[1:], other[:-1]]))[0, 1]) < 5e-3
    # The two halves of a Box-Muller pair are independent normals: uncorrelated, also in magnitude.
    assert abs(torch.corrcoef(torch.stack([xi[0::2], xi[1::2]]))[0, 1]) < 5e-3
    assert abs(torch.corrcoef(torch.stack([xi[0::2] ** 2, xi[1::2] ** 2]))[0, 1]) < 5e-3


def test_noise_generator_is_box_muller_of_its_hash():
    """The in-kernel polynomials reproduce float64 Box-Muller of the same 32 hash bits: element
    2j is the cosine branch of pair j's word, element 2j + 1 the sine branch."""
    n, (a, b) = 1 << 18, (-987654321, 123456789)
    mask = (1 << 32) - 1
    w = ((np.arange(n, dtype=np.uint64) >> 1) * ((a | 1) & mask) + (b & mask)) & mask
    w = w ^ (w >> 16)
    w = (w * 0x7FEB352D) & mask
    w = w ^ (w >> 15)
    w = (w * 0x846CA68B) & mask
    w = w ^ (w >> 16)
    u1 = (2 * (w >> 16) + 1) / 2.0**17
    u2 = (w & 0xFFFF) / 2.0**16
    odd = np.arange(n) % 2 == 1
    ref = np.sqrt(-2 * np.log(u1)) * np.where(odd, np.sin(2 * np.pi * u2), np.cos(2 * np.pi * u2))
    got = standard_normal(torch.empty(n), _key(a, b), half=False).double().numpy()
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=2e-6)


@pytest.mark.parametrize("name", list(UNITS))
def test_same_seed_same_noise_and_the_global_rng_is_untouched(name):
    fn, _, _, hw, _ = UNITS[name]
    x = _sample((64,), hw, torch.float64, _gen())
    kw = {"c": C_TEST[name], "p": P_TEST[name]}
    state = torch.get_rng_state()
    a = fn(x, training=True, generator=_gen(3), **kw)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, fn(x, training=True, generator=_gen(3), **kw))
    assert not torch.equal(a, fn(x, training=True, generator=_gen(4), **kw))
    # The module draws from the global generator: torch.manual_seed reproduces it.
    m = actlab.create(name, c=kw["c"], p_init=kw["p"]).double()
    torch.manual_seed(0)
    y1 = m(x)
    torch.manual_seed(0)
    assert torch.equal(y1, m(x))


@pytest.mark.parametrize("name", list(UNITS))
def test_backward_saves_the_slopes_in_training_and_x_in_eval(name):
    from actlab.bench.ops import saved_tensor_bytes

    x = torch.randn(64, 64, requires_grad=True)
    size = x.numel() * 4
    # Training: dy/dx, plus dy/dp when p is learned (it stands in for the noise draw); never x.
    assert size < saved_tensor_bytes(actlab.create(name, learn_p=True).train(), x) <= 2 * size + 16
    assert saved_tensor_bytes(actlab.create(name, learn_p=False).train(), x) <= size + 16
    assert saved_tensor_bytes(actlab.create(name).eval(), x) <= size + 16  # x; the slopes are recomputed


@pytest.mark.parametrize("name", ["noisy_hard_tanh", "noisy_input_sigmoid"])
def test_double_backward_in_training_is_refused_and_works_in_eval(name):
    fn = UNITS[name][0]
    x = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="second derivatives through a training-mode noisy unit"):
        torch.autograd.grad(fn(x, training=True, c=3.0).sum(), x, create_graph=True)
    (g,) = torch.autograd.grad(fn(x, training=False, c=3.0, half_normal=True).sum(), x, create_graph=True)
    g.sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("name", ["noisy_hard_tanh", "noisy_input_sigmoid"])
def test_torch_func_grad_in_eval_mode_equals_autograd(name):
    # Eval mode runs the torch-op path's autograd.Function (forward + setup_context form), which
    # torch.func transforms (here torch.func.grad) must be able to run.
    fn = UNITS[name][0]
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    got = torch.func.grad(lambda v: fn(v, training=False, c=3.0, half_normal=True).sum())(x)
    xr = x.clone().requires_grad_()
    (want,) = torch.autograd.grad(fn(xr, training=False, c=3.0, half_normal=True).sum(), xr)
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    assert got.abs().sum() > 0


def test_compiled_training_mode_runs_fullgraph_and_backpropagates():
    torch._dynamo.reset()
    m = actlab.create("noisy_hard_tanh(c=5.0)").train()
    compiled = torch.compile(m, fullgraph=True)
    x = torch.linspace(-3, 3, 61).requires_grad_()
    y = compiled(x)
    linear = x.detach().abs() < 1
    torch.testing.assert_close(y[linear], x.detach()[linear], atol=1e-6, rtol=0)
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and m.p.grad is not None


def test_errors_name_the_owner_and_the_bound():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"^noisy_hard_tanh: `c` must be > 0, got 0$"):
        noisy_hard_tanh(x, training=True, c=0)
    with pytest.raises(ValueError, match=r"^noisy_input_hard_sigmoid: `c` must be > 0, got -1.0$"):
        noisy_input_hard_sigmoid(x, training=True, c=-1.0)
    with pytest.raises(ValueError, match=r"`p` must be broadcastable to the input's shape \(2, 3\), got \(4,\)"):
        noisy_hard_sigmoid(x, training=True, p=torch.ones(4))
    with pytest.raises(TypeError, match=r"`training` must be of type bool"):
        noisy_hard_tanh(x, training=1)
    with pytest.raises(ValueError, match=r"NoisyHardTanh: `input` must be of shape \(N, 4, \*\) for num_parameters=4"):
        actlab.create("noisy_hard_tanh(num_parameters=4)")(x)


def test_per_channel_p_is_learned_per_channel():
    m = actlab.create("noisy_hard_tanh(num_parameters=3, c=5.0)").train()
    x = torch.full((8, 3, 5), 3.0)
    x[:, 1] = 0.5  # channel 1 in the linear region: no noise, so no gradient for its p
    m(x).sum().backward()
    assert m.p.grad.shape == (3,) and m.p.grad[1] == 0 and m.p.grad[0] != 0 and m.p.grad[2] != 0


def test_reset_parameters_is_idempotent():
    m = actlab.create("noisy_input_hard_tanh(num_parameters=4, p_init=2.0)")
    with torch.no_grad():
        m.p.mul_(3)
    m.reset_parameters()
    first = m.p.clone()
    m.reset_parameters()
    assert torch.equal(first, m.p) and torch.equal(first, torch.full((4,), 2.0))


def test_p_init_uniform_draws_like_the_official_code_and_is_seeded():
    torch.manual_seed(0)
    m = actlab.create("noisy_hard_tanh(num_parameters=2000, p_init='uniform')")
    p = m.p.detach().clone()
    assert p.min() >= -1 and p.max() <= 1 and abs(p.mean()) < 0.05 and abs(p.var() - 1 / 3) < 0.03
    torch.manual_seed(0)
    assert torch.equal(actlab.create("noisy_hard_tanh(num_parameters=2000, p_init='uniform')").p, m.p)
    m.reset_parameters()  # a fresh draw, still in [-1, 1]
    assert not torch.equal(m.p.detach(), p) and m.p.abs().max() <= 1
    assert "p_init='uniform'" in repr(m)
    with pytest.raises(
        ValueError, match=r"^NoisyHardTanh: `p_init` must be a finite number or 'uniform', got 'normal'$"
    ):
        actlab.create("noisy_hard_tanh", p_init="normal")


def test_bfloat16_input_learns_p_like_float32():
    # Same input values and the same noise key: the p gradient is a sum over the whole input and
    # must be accumulated in p's dtype, not rounded to bfloat16 on the way.
    m = actlab.create("noisy_hard_tanh(c=3.0)").train()
    x = (3 * torch.randn(256, 512, generator=_gen(1))).to(torch.bfloat16)
    grads = []
    for inp in (x, x.float()):
        m.p.grad = None
        torch.manual_seed(0)
        m(inp.requires_grad_()).float().sum().backward()
        grads.append(m.p.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=0)
