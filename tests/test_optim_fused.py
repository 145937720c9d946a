"""The fused GAF step (`GradientActivation(..., fused=True)`) and its `fast_atan`."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch
from torch import nn

from actlab.gaf import GradientActivation
from actlab.gaf.fused import fast_atan

# The plain path (foreach transform + PyTorch's own step) is the reference; the fused kernel
# reorders a few float32 operations (and approximates atan to 8e-7), hence the tolerance.
TOL = {"rtol": 2e-6, "atol": 1e-7}


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def _batches(n: int = 5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(5, 6, generator=g), torch.randint(0, 3, (5,), generator=g)) for _ in range(n)]


def _train(model, opt, batches, scheduler=None):
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return [p.detach().clone() for p in model.parameters()]


def _assert_close(a, b):
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **TOL)


# --- fast_atan ---------------------------------------------------------------------------------


def test_fast_atan_is_float32_accurate_odd_monotone_and_bounded():
    mags = torch.cat([torch.logspace(-38, 38, 200_001), torch.linspace(0, 4, 400_001)]).float().unique()
    z = torch.cat([-mags.flip(0), mags])
    got = fast_atan(z)
    want = torch.atan(z.double())
    rel = (got.double() - want).abs() / want.abs().clamp_min(1e-300)
    assert rel[want != 0].max() < 1e-6
    assert torch.equal(fast_atan(-z), -got)  # odd, bit for bit
    assert (got.diff() >= 0).all()  # monotone: the two branches meet at |z| = 1
    assert got.abs().max() <= math.pi / 2
    special = fast_atan(torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan")]))
    assert special[:2].eq(0).all() and abs(special[2].item() - math.pi / 2) < 2e-7  # within an ulp
    assert special[3] == -special[2] and special[4].isnan()


# --- the fused step equals the plain path ------------------------------------------------------

CASES = {
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1), "identity"),
    "sgd_momentum_dampening_wd": (
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2),
        "atan",
    ),
    "sgd_nesterov_maximize": (
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=True),
        "atan",
    ),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-2), "identity"),
    "adam_wd_amsgrad": (lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=1e-2, amsgrad=True), "atan"),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1), "tanh"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fused_step_matches_the_plain_path(case):
    make, fn = CASES[case]
    batches = _batches()
    plain, fused = _model(), _model()
    want = _train(plain, GradientActivation(make(plain.parameters()), fn), batches)
    opt = GradientActivation(make(fused.parameters()), fn, fused=True)
    got = _train(fused, opt, batches)
    _assert_close(want, got)
    assert not torch.equal(got[0], _model()[0].weight)  # the step moved the parameters


def test_fused_identity_matches_the_bare_optimizer():
    batches = _batches()
    bare, fused = _model(), _model()
    want = _train(bare, torch.optim.SGD(bare.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3), batches)
    got = _train(
        fused,
        GradientActivation(
            torch.optim.SGD(fused.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3), "identity", fused=True
        ),
        batches,
    )
    _assert_close(want, got)


def test_fused_step_leaves_the_raw_gradient_and_pytorchs_state_layout():
    model = _model()
    opt = GradientActivation(torch.optim.Adam(model.parameters(), lr=1e-2), "atan", fused=True)
    x, y = _batches(1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    raw = [p.grad.clone() for p in model.parameters()]
    opt.step()
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), raw))
    bare = torch.optim.Adam(_model().parameters(), lr=1e-2)
    nn.functional.cross_entropy(bare.param_groups[0]["params"][0].sum() * torch.ones(1, 3), y[:1]).backward()
    bare.step()
    st_fused = opt.state[model[0].weight]
    st_bare = bare.state[bare.param_groups[0]["params"][0]]
    assert set(st_fused) == set(st_bare)
    assert st_fused["step"].dtype == st_bare["step"].dtype and st_fused["step"].item() == 1.0


def test_state_moves_between_fused_and_plain_paths():
    batches = _batches(8)
    make = lambda m, fused: GradientActivation(  # noqa: E731
        torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, dampening=0.1), "atan", fused=fused
    )
    m_ref = _model()
    want = _train(m_ref, make(m_ref, False), batches)
    m1 = _model()
    o1 = make(m1, True)
    _train(m1, o1, batches[:4])
    m2 = copy.deepcopy(m1)
    o2 = make(m2, False)
    o2.load_state_dict(o1.state_dict())
    _assert_close(want, _train(m2, o2, batches[4:]))


def test_exclusion_hyperparameter_changes_and_schedulers_without_recompiling():
    batches = _batches(6)
    runs = []
    for fused in (False, True):
        model = _model()
        inner = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        opt = GradientActivation(inner, "atan", exclude=[model[2].bias], fused=fused)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        out = _train(model, opt, batches[:3], sched)
        inner.param_groups[0]["gaf_alpha"] = 0.5  # a per-group change between steps
        out = _train(model, opt, batches[3:], sched)
        runs.append(out)
        if fused:
            assert len(opt._fused._compiled) == 1  # lr, alpha and the first-step flag are data
    _assert_close(*runs)


def test_a_traceable_callable_is_fused_into_the_kernel():
    batches = _batches(3)
    g = lambda t: 0.2 * torch.atan(10.0 * t)  # noqa: E731
    a, b = _model(), _model()
    want = _train(a, GradientActivation(torch.optim.SGD(a.parameters(), lr=0.1), g), batches)
    got = _train(b, GradientActivation(torch.optim.SGD(b.parameters(), lr=0.1), g, fused=True), batches)
    _assert_close(want, got)


def test_grad_scaler_and_hooks_work_with_the_fused_step():
    x, y = _batches(1)[0]
    m_ref, m_amp = _model(), _model()
    nn.functional.cross_entropy(m_ref(x), y).backward()
    GradientActivation(torch.optim.SGD(m_ref.parameters(), lr=0.1, momentum=0.9), "atan").step()
    opt = GradientActivation(torch.optim.SGD(m_amp.parameters(), lr=0.1, momentum=0.9), "atan", fused=True)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**14)
    scaler.scale(nn.functional.cross_entropy(m_amp(x), y)).backward()
    scaler.step(opt)
    scaler.update()
    _assert_close(list(m_ref.parameters()), list(m_amp.parameters()))
    assert calls == ["pre", "post"]


def test_fused_wrapper_pickles_and_deep_copies():
    model = _model()
    opt = GradientActivation(torch.optim.Adam(model.parameters(), lr=1e-2), "atan", fused=True)
    _train(model, opt, _batches(1))
    assert "fused=True" in repr(opt)
    clone = pickle.loads(pickle.dumps(opt))
    assert repr(clone) == repr(opt) and clone._fused._compiled == {}
    copy.deepcopy(opt)


def test_fused_refuses_what_it_cannot_run():
    params = _model().parameters
    with pytest.raises(
        TypeError,
        match=r"GradientActivation: `fused` must be False for an inner RMSprop "
        r"\(fused steps exist for SGD, Adam, AdamW\), got True",
    ):
        GradientActivation(torch.optim.RMSprop(params()), fused=True)
    with pytest.raises(ValueError, match='`fused` must be False with placement="update"'):
        GradientActivation(torch.optim.SGD(params(), lr=0.1), placement="update", fused=True)
    with pytest.raises(ValueError, match="differentiable=True"):
        GradientActivation(torch.optim.SGD(params(), lr=0.1, differentiable=True), fused=True)
    with pytest.raises(TypeError, match="`fused` must be"):
        GradientActivation(torch.optim.SGD(params(), lr=0.1), fused=1)
