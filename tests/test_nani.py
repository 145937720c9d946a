"""The official code's input-noise units (NANI, learned-scale NANI, NANIS; Gulcehre et al., 2016).

Each unit is compared with an independent float64 port of the official formula on the same
noise (the keyed draw of `actlab.noisy.noise`, recomputed from the generator's key), in values
and in autograd's gradients; then the properties the official code implies.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import actlab
from actlab.core.fused import FUSE_MIN_NUMEL
from actlab.functional import (
    nani_hard_sigmoid,
    nani_hard_tanh,
    nani_learned_hard_sigmoid,
    nani_learned_hard_tanh,
    nanis_hard_sigmoid,
    nanis_hard_tanh,
)
from actlab.noisy import core as noisy_core
from actlab.noisy.annealing import PaperNoiseAnnealing
from actlab.noisy.noise import draw_key, standard_normal
from specs._base import below_fuse

# name -> (function, (k, b, lo, hi), kind, official c, saturation threshold of NANIS)
UNITS = {
    "nani_hard_tanh": (nani_hard_tanh, (1.0, 0.0, -1.0, 1.0), "const", 0.05, None),
    "nani_hard_sigmoid": (nani_hard_sigmoid, (0.25, 0.5, 0.0, 1.0), "const", 0.05, None),
    "nani_learned_hard_tanh": (nani_learned_hard_tanh, (1.0, 0.0, -1.0, 1.0), "learned", 0.25, None),
    "nani_learned_hard_sigmoid": (nani_learned_hard_sigmoid, (0.25, 0.5, 0.0, 1.0), "learned", 0.25, None),
    "nanis_hard_tanh": (nanis_hard_tanh, (1.0, 0.0, -1.0, 1.0), "sat", 0.25, 1.001),
    "nanis_hard_sigmoid": (nanis_hard_sigmoid, (0.25, 0.5, 0.0, 1.0), "sat", 0.25, 2.0),
}
LEARNED = [n for n, u in UNITS.items() if u[2] == "learned"]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _half_width(unit):
    return 1.0 if unit[0] == 1.0 else 2.0


def _sample(shape, unit, dtype, gen):
    # Both sides, deep in saturation, 1e-3 away from the kinks and from the NANIS thresholds.
    hw = _half_width(unit)
    x = 3 * hw * (2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1)
    for edge in (hw, 1.001):
        x = torch.where((x.abs() - edge).abs() < 2e-3, x * 1.01, x)
    return x.to(dtype)


def _official_np(name, x, xi, *, c, p):
    """The official formulas in float64 numpy, given the noise ``xi`` (``NHardTanh``, ``NTanhPInp``, ``NHardTanhSat``...)."""
    _, (k, b, lo, hi), kind, _, threshold = UNITS[name]

    def h(v):
        return np.clip(k * v + b, lo, hi)

    if kind == "const":
        return h(x + c * xi)
    if kind == "sat":
        test = (np.abs(x) > threshold).astype(np.float64)
        return test * h(x + c * xi) + (1.0 - test) * h(x)  # the sigmoid's official `+` typo fixed
    delta = h(x) - (k * x + b)
    scale = c * np.logaddexp(0.0, p * np.abs(delta) / (np.abs(xi) + 1e-10))
    return h(x + scale * xi)


def _official_torch(name, x, xi, *, c, p):
    """The same formulas as plain torch ops, so autograd gives the reference gradients."""
    _, (k, b, lo, hi), kind, _, threshold = UNITS[name]

    def h(v):
        return torch.clamp(k * v + b, lo, hi)

    if kind == "const":
        return h(x + c * xi)
    if kind == "sat":
        test = (x.detach().abs() > threshold).to(x.dtype)
        return test * h(x + c * xi) + (1.0 - test) * h(x)
    delta = h(x) - (k * x + b)
    a = p * delta.abs() / (xi.abs() + 1e-10)
    return h(x + c * torch.logaddexp(torch.zeros_like(a), a) * xi)


def _noise(name, x, seed):
    return standard_normal(x, draw_key(name, x, _gen(seed)), half=False).to(x.dtype)


def _kwargs(name, p):
    c = UNITS[name][3]
    return {"c": c, "p": p} if UNITS[name][2] == "learned" else {"c": c}


@pytest.mark.parametrize("name", list(UNITS))
def test_matches_a_float64_port_of_the_official_formula_on_fixed_noise(name):
    fn, unit, kind, c, _ = UNITS[name]
    x = _sample((500, 4), unit, torch.float64, _gen(1))
    p = torch.tensor([0.5, 1.0, 4.0, -1.5], dtype=torch.float64).view(1, 4)  # per column
    g = torch.randn(x.shape, generator=_gen(2), dtype=torch.float64)
    xa, xb, pa, pb = (t.clone().requires_grad_() for t in (x, x, p, p))
    ya = fn(xa, training=True, generator=_gen(7), **_kwargs(name, pa))
    xi = _noise(name, x, 7)
    np.testing.assert_allclose(
        ya.detach().numpy(), _official_np(name, x.numpy(), xi.numpy(), c=c, p=p.numpy()), atol=1e-12
    )
    yb = _official_torch(name, xb, xi, c=c, p=pb)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-10, rtol=1e-10)
    if kind == "learned":
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-9, rtol=1e-10)
        assert pa.grad.abs().min() > 0  # p is learned through the noise, in every column
    y = ya.detach()
    if kind == "const":  # noise everywhere, the linear region included
        linear = x.abs() < 0.9 * _half_width(unit)
        assert (y[linear] != torch.clamp(unit[0] * x[linear] + unit[1], unit[2], unit[3])).all()
    else:  # the noise moves some saturated inputs back into h's linear range
        assert ((x.abs() > _half_width(unit) * 1.1) & (y > unit[2]) & (y < unit[3])).any()


@pytest.mark.parametrize("name", ["nani_learned_hard_sigmoid", "nanis_hard_tanh"])
def test_fused_float32_path_matches_the_formula(name, monkeypatch):
    """Large float32 inputs take Inductor's kernel of the same function (no C kernel for these modes)."""
    fn, unit, kind, c, _ = UNITS[name]
    x = _sample((FUSE_MIN_NUMEL // 2, 4), unit, torch.float32, _gen(1))
    p = torch.tensor([0.5, 1.0, 4.0, -1.5]).view(1, 4)
    xa, xb, pa, pb = (t.clone().requires_grad_() for t in (x, x, p, p))
    ya = fn(xa, training=True, generator=_gen(7), **_kwargs(name, pa))
    yb = _official_torch(name, xb, _noise(name, x, 7), c=c, p=pb)
    torch.testing.assert_close(ya, yb, atol=1e-5, rtol=1e-5)
    g = torch.randn(x.shape, generator=_gen(2))
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-4, rtol=1e-4)
    if kind == "learned":
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-2, rtol=1e-4)


def test_the_c_kernel_never_takes_the_official_input_noise_modes():
    x, p, c = torch.zeros(8), torch.ones(()), torch.ones(())
    key = torch.zeros(2, dtype=torch.int32)
    for mode in ("nani_const", "nani_learned", "nanis"):
        assert not noisy_core._native_applies(x, p, c, key, "hard_tanh", mode)
    assert noisy_core._native_applies(x, p, c, key, "hard_tanh", "nan") == noisy_core._native_built()


@pytest.mark.parametrize("name", list(UNITS))
def test_train_mode_gradcheck_with_a_fixed_generator(name):
    fn, unit, kind, _, _ = UNITS[name]
    x = _sample((3, 4), unit, torch.float64, _gen(3)).requires_grad_()
    p = torch.tensor([0.7, 1.3, 1.0, 2.0], dtype=torch.float64).view(1, 4).requires_grad_()
    c = 2.0  # large enough that the noise moves inputs across kinks (finite differences stay off them)

    def f(x, p):
        kw = {"c": c, "p": p} if kind == "learned" else {"c": c}
        return fn(x, training=True, generator=_gen(11), **kw)

    assert (
        torch.autograd.gradcheck(f, (x, p)) if kind == "learned" else torch.autograd.gradcheck(lambda v: f(v, p), (x,))
    )


@pytest.mark.parametrize("name", list(UNITS))
def test_eval_is_h_of_x_as_the_official_test_time(name):
    fn, (k, b, lo, hi), _, c, _ = UNITS[name]
    x = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    h = torch.clamp(k * x + b, lo, hi)
    assert torch.equal(fn(x, training=False, c=c), h)
    assert torch.equal(actlab.create(name).double().eval()(x), h)
    # ... which is not the expectation of the training output where h bends: E[h(x + noise)] < 1
    # just past the upper kink (noise pulls it into the linear part half the time).
    edge = torch.full((50_000,), (hi - b) / k + 0.01, dtype=torch.float64)
    mean = fn(edge, training=True, c=1.0, generator=_gen()).mean()
    assert mean < hi - 0.01


def test_nanis_is_noiseless_up_to_the_threshold_and_noisy_past_it():
    x = torch.tensor([-1.001, -0.5, 0.999, 1.0, 1.0005, 1.001], dtype=torch.float64).repeat(1000, 1)
    y = nanis_hard_tanh(x, training=True, c=5.0, generator=_gen())
    assert torch.equal(y, torch.clamp(x, -1, 1))  # |x| <= 1.001: h(x) exactly
    xs = torch.tensor([-2.5, -2.001, 2.001, 3.0], dtype=torch.float64).repeat(5000, 1)
    ys = nanis_hard_sigmoid(xs, training=True, c=1.0, generator=_gen())
    assert ys.std(0).min() > 0.05 and (ys >= 0).all() and (ys <= 1).all()  # the official `+` typo left [0, 1]
    inside = xs[:, 1:3] * 0.999  # |x| = 1.999 < 2: no noise
    assert torch.equal(nanis_hard_sigmoid(inside, training=True, c=1.0), inside / 4 + 0.5)


@pytest.mark.parametrize(("name", "std"), [("nani_hard_tanh", 0.05), ("nani_learned_hard_tanh", 0.25 * math.log(2))])
def test_noise_everywhere_with_the_official_std_in_the_linear_region(name, std):
    x = torch.full((200_000,), 0.1, dtype=torch.float64)  # Delta = 0: the learned scale is c softplus(0) = c ln 2
    y = below_fuse(UNITS[name][0], x, training=True, generator=_gen())
    assert abs(y.std().item() / std - 1) < 0.01 and abs(y.mean().item() - 0.1) < 3 * std / math.sqrt(x.numel())


def test_learned_scale_grows_with_p():
    # Where |xi| << p |Delta| the move tends to c p |Delta| sgn(xi): a larger p unsaturates more draws.
    x = torch.tensor([1.5, 3.0, 6.0], dtype=torch.float64).repeat(50_000, 1)

    def moved(p):  # share of draws that leave the bound
        return (below_fuse(nani_learned_hard_tanh, x, training=True, p=p, generator=_gen()) < 1).double().mean(0)

    assert (moved(4.0) > moved(1.0)).all() and moved(4.0)[0] > 0.3


@pytest.mark.parametrize("name", list(UNITS))
def test_seeded_reproducible_and_the_global_rng_untouched(name):
    fn, unit, _, _, _ = UNITS[name]
    x = _sample((64,), unit, torch.float64, _gen())
    state = torch.get_rng_state()
    a = fn(x, training=True, c=1.0, generator=_gen(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, fn(x, training=True, c=1.0, generator=_gen(3)))
    assert not torch.equal(a, fn(x, training=True, c=1.0, generator=_gen(4)))


@pytest.mark.parametrize("name", list(UNITS))
def test_annealing_scales_c(name):
    fn, unit, kind, _, _ = UNITS[name]
    m = actlab.create(name).double().train()
    sched = PaperNoiseAnnealing(m, total_steps=10, c_start=30.0, c_end=0.5)
    x = _sample((256,), unit, torch.float64, _gen())
    for step, c_t in ((0, 30.0), (10, 0.5)):
        while sched.step_count < step:
            sched.step()
        torch.manual_seed(5)
        got = m(x)
        torch.manual_seed(5)
        want = fn(x, training=True, **_kwargs(name, m.p.detach() if kind == "learned" else None) | {"c": c_t})
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", LEARNED)
def test_learned_p_per_channel_state_dict_and_p_init(name):
    m = actlab.create(name, num_parameters=3, p_init="uniform").double().train()
    assert m.p.shape == (3,) and m.p.abs().max() <= 1 and m.p.requires_grad
    with torch.no_grad():
        m.p.copy_(torch.tensor([0.5, 2.0, -1.0]))
    m.set_noise_scale(3.0)
    fresh = actlab.create(name, num_parameters=3).double()
    fresh.load_state_dict(m.state_dict())
    assert torch.equal(fresh.p, m.p) and float(fresh.noise_scale) == 3.0
    x = 4 * torch.randn(8, 3, 5, generator=_gen(), dtype=torch.float64)
    torch.manual_seed(0)
    ya = m(x)
    torch.manual_seed(0)
    torch.testing.assert_close(fresh.train()(x), ya, atol=0, rtol=0)
    ya.sum().backward()
    assert m.p.grad.shape == (3,) and (m.p.grad != 0).all()


def test_fixed_scale_units_have_no_p():
    for name in ("nani_hard_tanh", "nanis_hard_sigmoid"):
        m = actlab.create(name)
        assert m.p is None and list(m.parameters()) == [] and repr(m).endswith(f"(c={UNITS[name][3]})")
        m.reset_parameters()  # nothing to reset


def test_errors_name_the_owner_argument_and_bound():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"^nani_hard_tanh: `c` must be > 0, got 0$"):
        nani_hard_tanh(x, training=True, c=0)
    with pytest.raises(ValueError, match=r"^nanis_hard_sigmoid: `c` must be finite, got nan$"):
        nanis_hard_sigmoid(x, training=True, c=math.nan)
    with pytest.raises(ValueError, match=r"^nani_learned_hard_tanh: `p` must be broadcastable to the input's shape"):
        nani_learned_hard_tanh(x, training=True, p=torch.ones(4))
    with pytest.raises(ValueError, match=r"^nani_learned_hard_sigmoid: `p` must be finite, got inf$"):
        nani_learned_hard_sigmoid(x, training=True, p=math.inf)
    with pytest.raises(TypeError, match=r"^nani_hard_sigmoid: `training` must be of type bool"):
        nani_hard_sigmoid(x, training=1)
    with pytest.raises(ValueError, match=r"NANILearnedHardTanh: `input` must be of shape \(N, 4, \*\)"):
        actlab.create("nani_learned_hard_tanh(num_parameters=4)")(x)
    with pytest.raises(ValueError, match=r"^NANISHardTanh: `c` must be > 0, got -0.5$"):
        actlab.create("nanis_hard_tanh(c=-0.5)")


@pytest.mark.parametrize("name", list(UNITS))
def test_backward_saves_the_slopes_in_training_and_x_in_eval(name):
    from actlab.bench.ops import saved_tensor_bytes

    x = 3 * torch.randn(64, 64, generator=_gen()).requires_grad_()
    size = x.numel() * 4
    train = saved_tensor_bytes(actlab.create(name).train(), x)
    if UNITS[name][2] == "learned":  # dy/dx and dy/dp (which stands in for the noise draw)
        assert size < train <= 2 * size + 16
    else:
        assert train <= size + 16  # dy/dx only
    assert saved_tensor_bytes(actlab.create(name).eval(), x) <= size + 16  # x; the slopes are recomputed
