"""Noise annealing schedules: values, effect on the units, resume, errors."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

import actlab
from actlab.noisy.annealing import (
    CosineNoiseAnnealing,
    ExponentialNoiseAnnealing,
    LinearNoiseAnnealing,
    PaperNoiseAnnealing,
    noisy_modules,
)


def _model():
    return nn.Sequential(
        nn.Linear(3, 8),
        actlab.create("noisy_hard_tanh"),
        nn.Linear(8, 8),
        actlab.create("noisy_input_hard_sigmoid"),
        nn.Linear(8, 2),
    )


def _scales(model):
    return [float(m.noise_scale) for m in noisy_modules(model)]


def test_schedule_values_follow_their_formulas_and_reach_every_noisy_module():
    m = _model()
    lin = LinearNoiseAnnealing(m, start=3.0, end=1.0, total_steps=4)
    assert _scales(m) == [3.0, 3.0]
    assert [lin.step() for _ in range(6)] == [2.5, 2.0, 1.5, 1.0, 1.0, 1.0]
    assert _scales(m) == [1.0, 1.0]
    cos = CosineNoiseAnnealing(m, start=2.0, end=0.0, total_steps=10)
    assert [cos.scale_at(t) for t in (0, 5, 10, 50)] == pytest.approx([2.0, 1.0, 0.0, 0.0])
    assert cos.scale_at(2) > 1.5  # slow start: above the linear ramp's 1.6
    exp = ExponentialNoiseAnnealing(m, gamma=0.5, start=5.0, end=1.0)
    assert [exp.step() for _ in range(3)] == [3.0, 2.0, 1.5]


def test_paper_schedule_sets_the_same_absolute_c_on_units_with_different_defaults():
    m = nn.Sequential(actlab.create("noisy_hard_tanh"), actlab.create("noisy_hard_sigmoid"))  # c = 0.5, 0.15
    sched = PaperNoiseAnnealing(m, total_steps=100)
    for step in (0, 50, 100, 200):
        sched.load_state_dict({**sched.state_dict(), "step_count": step})
        expected = 30.0 * (0.5 / 30.0) ** (min(step, 100) / 100)
        for unit in m:
            assert float(unit.c * unit.noise_scale) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "name", ["noisy_hard_tanh", "noisy_hard_sigmoid", "noisy_input_hard_tanh", "noisy_input_hard_sigmoid"]
)
def test_annealing_to_zero_recovers_the_deterministic_unit(name):
    unit = actlab.create(name, c=5.0).double()
    LinearNoiseAnnealing(unit, start=1.0, end=0.0, total_steps=1).step()
    x = torch.linspace(-6, 6, 241, dtype=torch.float64).requires_grad_()
    unit.train()
    y_train = unit(x)
    (g_train,) = torch.autograd.grad(y_train.sum(), x)
    unit.eval()
    y_eval = unit(x)
    (g_eval,) = torch.autograd.grad(y_eval.sum(), x)
    assert torch.equal(y_train, y_eval) and torch.equal(g_train, g_eval)
    k, b, lo, hi, alpha = {"tanh": (1.0, 0.0, -1.0, 1.0), "sigmoid": (0.25, 0.5, 0.0, 1.0)}[name.rsplit("_", 1)[1]] + (
        getattr(unit, "alpha", 1.0),
    )
    u = k * x.detach() + b
    torch.testing.assert_close(y_train, alpha * torch.clamp(u, lo, hi) + (1 - alpha) * u, atol=1e-15, rtol=0)


def test_a_resumed_schedule_matches_an_uninterrupted_one():
    def run(model, sched, opt, steps, gen):
        scales = []
        for _ in range(steps):
            x = torch.randn(16, 3, generator=gen)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            scales.append(sched.step())
        return scales

    def fresh():
        torch.manual_seed(0)
        model = _model()
        return model, CosineNoiseAnnealing(model, start=4.0, end=0.1, total_steps=12), None

    model, sched, _ = fresh()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(1)
    full = run(model, sched, opt, 10, torch.Generator().manual_seed(2))

    model, sched, _ = fresh()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(2)
    first = run(model, sched, opt, 4, gen)
    buf = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "sched": sched.state_dict(),
            "rng": torch.get_rng_state(),
            "gen": gen.get_state(),
        },
        buf,
    )
    buf.seek(0)
    ckpt = torch.load(buf)
    model2, sched2, _ = fresh()
    model2.load_state_dict(ckpt["model"])
    sched2.load_state_dict(ckpt["sched"])
    assert _scales(model2) == _scales(model)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1)
    torch.set_rng_state(ckpt["rng"])
    gen2 = torch.Generator()
    gen2.set_state(ckpt["gen"])
    rest = run(model2, sched2, opt2, 6, gen2)
    assert first + rest == full
    assert _scales(model2) == [float(torch.tensor(full[-1]))] * 2  # the float32 buffer


def test_errors():
    with pytest.raises(
        ValueError, match=r"LinearNoiseAnnealing: `model` must be a module containing noisy activations, got 'Linear'"
    ):
        LinearNoiseAnnealing(nn.Linear(2, 2), total_steps=3)
    m = _model()
    with pytest.raises(ValueError, match=r"`total_steps` must be an int >= 1, got 0"):
        CosineNoiseAnnealing(m, total_steps=0)
    with pytest.raises(ValueError, match=r"ExponentialNoiseAnnealing: `gamma` must be in \(0.0, 1.0\], got 0"):
        ExponentialNoiseAnnealing(m, gamma=0)
    with pytest.raises(ValueError, match=r"`start` must be >= 0, got -1.0"):
        LinearNoiseAnnealing(m, start=-1.0, total_steps=2)
    with pytest.raises(ValueError, match=r"PaperNoiseAnnealing: `c_end` must be > 0, got 0.0"):
        PaperNoiseAnnealing(m, total_steps=2, c_end=0.0)
    sched = LinearNoiseAnnealing(m, total_steps=5)
    with pytest.raises(ValueError, match=r"LinearNoiseAnnealing: `state` must be from the same schedule"):
        sched.load_state_dict(CosineNoiseAnnealing(m, total_steps=5).state_dict())
    with pytest.raises(ValueError, match=r"NoisyHardTanh: `noise_scale` must be >= 0, got -0.5"):
        m[1].set_noise_scale(-0.5)
    assert math.isfinite(sched.get_scale())
