"""Gradient activation functions and the optimizer wrapper (Chen et al. 2021, arXiv 2107.04228)."""

from __future__ import annotations

import copy
import io
import math
import pickle

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from actlab.gaf import (
    GRADIENT_FUNCTIONS,
    GradientActivation,
    activate_gradients_,
    check_gradient_function,
    exclude_parameters,
    get_gradient_function,
)

# Independent float64 references of each registered g (default alpha, beta).
REFERENCES = {
    "identity": lambda x, a, b: x,
    "atan": lambda x, a, b: a * torch.atan(b * x),
    "atan_unit": lambda x, a, b: a * torch.atan(x / a),
    "tanh": lambda x, a, b: a * torch.tanh(b * x),
}


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 3))


def _batches(n: int = 6, seed: int = 1):
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


# --- the functions ------------------------------------------------------------------------------


def test_every_entry_has_a_reference():
    assert set(GRADIENT_FUNCTIONS.names()) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_function_and_foreach_path_match_the_reference(name):
    spec = get_gradient_function(name)
    x = torch.randn(50, dtype=torch.float64) * torch.logspace(-4, 3, 50, dtype=torch.float64)
    want = REFERENCES[name](x, spec.alpha, spec.beta)
    torch.testing.assert_close(spec.function(x, alpha=spec.alpha, beta=spec.beta), want, rtol=1e-12, atol=0)
    grads = [x[:20].clone(), x[20:].clone().reshape(6, 5)]
    spec.apply_(grads, spec.alpha, spec.beta)
    torch.testing.assert_close(torch.cat([g.flatten() for g in grads]), want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["atan", "atan_unit", "tanh"])
def test_registered_entries_meet_the_paper_conditions(name):
    spec = get_gradient_function(name)
    checks = check_gradient_function(lambda x: spec.function(x, alpha=spec.alpha, beta=spec.beta))
    assert all(checks.values()), checks
    big = spec.function(torch.tensor(1e9, dtype=torch.float64), alpha=spec.alpha, beta=spec.beta)
    assert big.item() == pytest.approx(spec.bound(spec.alpha, spec.beta), rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-3, 10.0), st.floats(1e-3, 100.0), st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20))
def test_atan_is_odd_monotone_and_bounded(alpha, beta, values):
    x = torch.tensor(sorted(values), dtype=torch.float64)
    y = get_gradient_function("atan").function(x, alpha=alpha, beta=beta)
    assert (y.diff() >= 0).all()
    assert (y.abs() <= alpha * math.pi / 2).all()
    torch.testing.assert_close(get_gradient_function("atan").function(-x, alpha=alpha, beta=beta), -y)


@pytest.mark.parametrize(
    ("fn", "fails"),
    [
        (lambda x: x.abs(), "odd"),
        (lambda x: x, "bounded"),
        (lambda x: -torch.atan(x), "increasing"),
        (lambda x: torch.sign(x) * torch.log1p(x.abs()), "bounded"),  # the official code's log form
    ],
)
def test_check_refuses_functions_outside_the_conditions(fn, fails):
    with pytest.raises(ValueError, match=rf"`fn` must be odd, monotonically increasing and bounded.*fails: .*{fails}"):
        check_gradient_function(fn)
    with pytest.raises(ValueError, match="fails"):
        GradientActivation(torch.optim.SGD(_model().parameters(), lr=0.1), fn)


def test_check_warns_when_small_gradients_shrink():
    with pytest.warns(UserWarning, match="enlarges_small"):
        assert not check_gradient_function(lambda x: 0.1 * torch.atan(x))["enlarges_small"]
    with pytest.warns(UserWarning, match="alpha\\*beta = 0.5 < 1 shrinks small gradients"):
        GradientActivation(torch.optim.SGD(_model().parameters(), lr=0.1), "atan", alpha=0.1, beta=5.0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"fn": "atna"}, ValueError, r"unknown gradient activation 'atna' \(did you mean 'atan'"),
        ({"alpha": 0.0}, ValueError, r"GradientActivation: `alpha` must be > 0, got 0.0"),
        ({"alpha": -1.0}, ValueError, r"`alpha` must be > 0, got -1.0"),
        ({"beta": -2.0}, ValueError, r"GradientActivation: `beta` must be > 0, got -2.0"),
        ({"beta": float("nan")}, ValueError, r"`beta` must be > 0, got nan"),
        ({"alpha": "big"}, TypeError, r"`alpha` must be a real number"),
        ({"fn": "atan_unit", "beta": 2.0}, TypeError, r"`beta` must be None for fn='atan_unit'"),
        ({"fn": 3}, TypeError, r"`fn` must be a registered name or a callable"),
        ({"fn": torch.atan, "alpha": 1.0}, TypeError, r"`alpha` must be None when `fn` is a callable"),
        ({"placement": "momentum"}, ValueError, r"`placement` must be one of 'grad', 'update'"),
    ],
)
def test_invalid_settings_raise_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        GradientActivation(torch.optim.SGD(_model().parameters(), lr=0.1), **kwargs)


def test_bad_optimizers_are_refused():
    params = list(_model().parameters())
    with pytest.raises(TypeError, match="`optimizer` must be of type Optimizer"):
        GradientActivation(params)
    with pytest.raises(TypeError, match="not LBFGS"):
        GradientActivation(torch.optim.LBFGS(params))
    with pytest.raises(TypeError, match="another GradientActivation"):
        GradientActivation(GradientActivation(torch.optim.SGD(params, lr=0.1)))


def test_per_group_values_are_validated():
    m = _model()
    opt = torch.optim.SGD([{"params": m[0].parameters(), "gaf_alpha": -1.0}, {"params": m[3].parameters()}], lr=0.1)
    with pytest.raises(ValueError, match="GradientActivation param group: `alpha` must be > 0, got -1.0"):
        GradientActivation(opt)


# --- the wrapper: exactness against references --------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True),
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3),
        lambda p: torch.optim.AdamW(p, lr=1e-2),
    ],
)
@pytest.mark.parametrize("placement", ["grad", "update"])
def test_identity_reproduces_the_bare_optimizer_bit_for_bit(make, placement):
    batches = _batches(8)
    m1, m2 = _model(), _model()
    bare = _train(m1, make(m1.parameters()), batches)
    wrapped = _train(m2, GradientActivation(make(m2.parameters()), "identity", placement=placement), batches)
    if placement == "grad":
        assert all(torch.equal(a, b) for a, b in zip(bare, wrapped))
    else:  # the direction round-trips through (old - new) / lr * lr: equal up to rounding
        for a, b in zip(bare, wrapped):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _reference_sgd_atan(params, grads_per_step, *, lr, momentum, dampening, weight_decay, alpha, beta, on):
    """The paper's SGD with g on the raw gradient (``on='grad'``, SGD_atan) or the momentum (SGD_atanMom)."""
    params = [p.detach().clone().double() for p in params]
    bufs = [None] * len(params)
    for grads in grads_per_step:
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g.double()
            if on == "grad":
                d = alpha * torch.atan(beta * d)
            d = d + weight_decay * p
            bufs[i] = d.clone() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * d
            d = bufs[i]
            if on == "update":
                d = alpha * torch.atan(beta * d)
            p -= lr * d
    return params


@pytest.mark.parametrize("placement", ["grad", "update"])
def test_atan_matches_a_reference_of_the_papers_sgd(placement):
    torch.manual_seed(3)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    grads_per_step = [
        [torch.randn(s, dtype=torch.float64) * 10 ** torch.randint(-3, 2, ()).item() for s in shapes] for _ in range(5)
    ]
    params = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    hp = dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=5e-4)
    want = _reference_sgd_atan(params, grads_per_step, alpha=0.2, beta=10.0, on=placement, **hp)
    opt = GradientActivation(torch.optim.SGD(params, **hp), "atan", alpha=0.2, beta=10.0, placement=placement)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    for p, w in zip(params, want):
        torch.testing.assert_close(p.detach(), w, rtol=1e-10, atol=1e-12)


def test_adam_sees_activated_gradients():
    m1, m2 = _model(), _model()
    x, y = _batches(1)[0]
    ref = torch.optim.Adam(m1.parameters(), lr=1e-2)
    nn.functional.cross_entropy(m1(x), y).backward()
    for p in m1.parameters():
        p.grad = 0.1 * torch.atan(15 * p.grad)  # the official Adam class defaults
    ref.step()
    opt = GradientActivation(torch.optim.Adam(m2.parameters(), lr=1e-2), "atan", alpha=0.1, beta=15.0)
    nn.functional.cross_entropy(m2(x), y).backward()
    opt.step()
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_callable_fn_and_functional_form_agree():
    m1, m2 = _model(), _model()
    x, y = _batches(1)[0]
    for m in (m1, m2):
        nn.functional.cross_entropy(m(x), y).backward()
    g = lambda t: 0.2 * torch.tanh(10 * t)  # noqa: E731
    activate_gradients_(m1.parameters(), "tanh", alpha=0.2, beta=10.0)
    GradientActivation(torch.optim.SGD(m2.parameters(), lr=0.0), g).step()
    for a, b in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(a.grad, b.grad)


def test_per_group_settings_and_exclude():
    model = _model()
    x, y = _batches(1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    raw = {id(p): p.grad.clone() for p in model.parameters()}
    groups = [
        {"params": model[0].parameters(), "gaf_alpha": 0.05, "gaf_beta": 40.0},
        {"params": list(model[1].parameters()) + list(model[3].parameters())},
    ]
    head_and_norm = exclude_parameters(model, "3.*", norms=True)
    assert {id(p) for p in head_and_norm} == {id(p) for p in [*model[1].parameters(), *model[3].parameters()]}
    opt = GradientActivation(torch.optim.SGD(groups, lr=0.0), "atan", exclude=head_and_norm)
    opt.step()
    for p in model[0].parameters():
        torch.testing.assert_close(p.grad, 0.05 * torch.atan(40.0 * raw[id(p)]))
    for p in head_and_norm:
        assert torch.equal(p.grad, raw[id(p)])
    assert [p for n, p in model.named_parameters() if n.endswith("bias")] == exclude_parameters(model, biases=True)
    only_bias = GradientActivation(torch.optim.SGD(model.parameters(), lr=0.0), exclude=lambda p: p.ndim == 1)
    assert len(only_bias._excluded) == 4  # two biases, the norm weight and bias


# --- the wrapper in real loops ------------------------------------------------------------------


def test_state_dict_round_trip_resumes_identically():
    batches = _batches(10)
    make = lambda m: GradientActivation(torch.optim.Adam(m.parameters(), lr=1e-2), "atan", alpha=0.1, beta=15.0)  # noqa: E731
    m_ref = _model()
    want = _train(m_ref, make(m_ref), batches)
    m1 = _model()
    opt1 = make(m1)
    _train(m1, opt1, batches[:5])
    buf = io.BytesIO()
    torch.save({"model": m1.state_dict(), "opt": opt1.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    assert ckpt["opt"]["param_groups"][0]["gaf_alpha"] == 0.1
    m2 = _model(seed=99)
    m2.load_state_dict(ckpt["model"])
    opt2 = GradientActivation(torch.optim.Adam(m2.parameters(), lr=1e-2), "atan")  # settings come from the dict
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["gaf_beta"] == 15.0
    got = _train(m2, opt2, batches[5:])
    assert all(torch.equal(a, b) for a, b in zip(want, got))
    clone = pickle.loads(pickle.dumps(opt1))
    assert repr(clone) == repr(opt1) and clone.state_dict()["param_groups"] == opt1.state_dict()["param_groups"]


def test_lr_schedulers_drive_the_inner_optimizer():
    model = _model()
    inner = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt = GradientActivation(inner, "atan")
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    _train(model, opt, _batches(2), scheduler=cosine)
    assert inner.param_groups[0]["lr"] == pytest.approx(0.05 * (1 + math.cos(math.pi * 2 / 4)))
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _train(model, opt, _batches(2), scheduler=step)
    assert inner.param_groups[0]["lr"] == pytest.approx(cosine.get_last_lr()[0] * 0.25)
    # The same schedule on the bare optimizer gives the same parameters when g is the identity.
    m1, m2 = _model(), _model()
    o1 = torch.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = GradientActivation(torch.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9), "identity")
    a = _train(m1, o1, _batches(5), torch.optim.lr_scheduler.CosineAnnealingLR(o1, T_max=5))
    b = _train(m2, o2, _batches(5), torch.optim.lr_scheduler.CosineAnnealingLR(o2, T_max=5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_grad_scaler_step_activates_unscaled_gradients():
    x, y = _batches(1)[0]
    m_ref, m_amp = _model(), _model()
    nn.functional.cross_entropy(m_ref(x), y).backward()
    ref = GradientActivation(torch.optim.SGD(m_ref.parameters(), lr=0.1, momentum=0.9), "atan")
    ref.step()
    opt = GradientActivation(torch.optim.SGD(m_amp.parameters(), lr=0.1, momentum=0.9), "atan")
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**14)
    scaler.scale(nn.functional.cross_entropy(m_amp(x), y)).backward()
    scaler.step(opt)
    scaler.update()
    for a, b in zip(m_ref.parameters(), m_amp.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # An inf gradient makes the scaler skip the step: parameters unchanged, scale backed off.
    before = [p.detach().clone() for p in m_amp.parameters()]
    opt.zero_grad()
    scaler.scale(nn.functional.cross_entropy(m_amp(x), y) * float("inf")).backward()
    scaler.step(opt)
    scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(before, m_amp.parameters()))
    assert scaler.get_scale() == 2.0**13


def test_accumulated_gradients_are_activated_once_per_step():
    batches = _batches(3)
    model = _model()
    raw = _model()
    for x, y in batches:
        nn.functional.cross_entropy(raw(x), y).backward()
    want = [p.detach() - 0.1 * 0.3 * torch.atan(4.5 * p.grad) for p in raw.parameters()]
    opt = GradientActivation(torch.optim.SGD(model.parameters(), lr=0.1), "atan")
    opt.zero_grad()
    for x, y in batches:
        nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    for p, w in zip(model.parameters(), want):
        torch.testing.assert_close(p.detach(), w)


def test_none_grads_are_skipped_and_sparse_grads_refused():
    model = _model()
    x, y = _batches(1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    model[1].weight.grad = None
    before = model[1].weight.detach().clone()
    GradientActivation(torch.optim.SGD(model.parameters(), lr=0.1)).step()
    assert torch.equal(model[1].weight, before)
    emb = nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(TypeError, match="`p.grad` must be a dense .*sparse gradients are not supported"):
        GradientActivation(torch.optim.SGD(emb.parameters(), lr=0.1)).step()


def test_closure_is_evaluated_once_before_activation():
    model = _model()
    x, y = _batches(1)[0]
    opt = GradientActivation(torch.optim.SGD(model.parameters(), lr=0.1))

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() > 0 and model[0].weight.grad.abs().max() <= 0.3 * math.pi / 2


def test_train_accepts_the_wrapper():
    from actlab.data import load_dataset
    from actlab.training import TrainConfig, train

    data = load_dataset("digits")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    result = train(
        model,
        data,
        TrainConfig(epochs=3),
        optimizer=lambda ps: GradientActivation(torch.optim.SGD(ps, lr=0.05, momentum=0.9), "atan"),
    )
    assert result.final_acc > 0.8  # chance is 0.1


def test_add_param_group_gets_the_defaults():
    m = _model()
    opt = GradientActivation(torch.optim.SGD(m[0].parameters(), lr=0.1), "tanh", alpha=0.5, beta=3.0)
    opt.add_param_group({"params": m[3].parameters()})
    assert [g["gaf_fn"] for g in opt.param_groups] == ["tanh", "tanh"]
    assert copy.deepcopy(opt.param_groups[1]["gaf_alpha"]) == 0.5


def test_group_settings_can_change_between_steps():
    p = torch.zeros(3, requires_grad=True)
    opt = GradientActivation(torch.optim.SGD([p], lr=1.0), "atan", alpha=0.3, beta=4.5)
    g = torch.tensor([-2.0, 1e-3, 5.0])
    p.grad = g.clone()
    opt.step()
    torch.testing.assert_close(p.detach(), -0.3 * torch.atan(4.5 * g))
    opt.param_groups[0]["gaf_alpha"] = 0.1
    opt.param_groups[0]["gaf_beta"] = 20.0
    p.grad = g.clone()
    opt.step()
    torch.testing.assert_close(p.detach(), -0.3 * torch.atan(4.5 * g) - 0.1 * torch.atan(20.0 * g))
    opt.param_groups[0]["gaf_fn"] = "atn"
    with pytest.raises(ValueError, match="did you mean 'atan'"):
        opt.step()
