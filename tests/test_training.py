"""The one training loop's options: objectives, step-based epochs, clipping, divergence, factories."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from actlab.data import Dataset
from actlab.training import TrainConfig, load_checkpoint, train


def _data(n: int = 96, regress: bool = False) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=gen)
    if regress:
        y = x[:, 0] - 0.5 * x[:, 1]
        return Dataset("toy", x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :], 1, objective="regress")
    y = (x[:, 0] > 0).long()
    return Dataset("toy", x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :], 2)


def _net(out: int = 2) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, out))


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_a_custom_objective_matches_the_builtin_one_and_reports_no_accuracy():
    cfg = TrainConfig(epochs=3, batch_size=16)
    builtin = train(_net(), _data(), cfg)
    custom = train(_net(), _data(), cfg, objective=lambda m, x, y: nn.functional.cross_entropy(m(x), y))
    for a, b in zip(builtin.history, custom.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-5)
        assert math.isnan(b["train_acc"]) and math.isnan(b["test_acc"])


def test_regression_counts_hits_within_the_tolerance():
    data = _data(regress=True)
    result = train(_net(1), data, TrainConfig(epochs=40, batch_size=16, lr=1e-2))
    model = result.model.eval()
    with torch.no_grad():
        pred = model(data.x_test).squeeze(-1)
    assert result.final["test_acc"] == pytest.approx(((pred - data.y_test).abs() < 0.04).float().mean().item())
    assert result.final["test_loss"] == pytest.approx(nn.functional.mse_loss(pred, data.y_test).item(), rel=1e-5)


def test_step_based_epochs_resume_exactly_with_a_per_step_annealer(tmp_path):
    class Counter:
        def __init__(self):
            self.steps = 0

        def step(self):
            self.steps += 1

        def state_dict(self):
            return {"steps": self.steps}

        def load_state_dict(self, state):
            self.steps = state["steps"]

    cfg = TrainConfig(epochs=4, batch_size=8, steps_per_epoch=5, grad_clip=0.5)
    full_counter = Counter()
    full = train(_net(), _data(), cfg, annealer=full_counter, anneal_every="step")
    assert full_counter.steps == 20 and len(full.history) == 4

    calls = []

    def interrupt(model):
        calls.append(1)
        if len(calls) == 5 * 2 + 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        train(
            _net(), _data(), cfg, annealer=Counter(), anneal_every="step", checkpoint=ckpt, step_callbacks=[interrupt]
        )
    assert load_checkpoint(ckpt)["epoch"] == 2
    counter = Counter()
    resumed = train(_net(), _data(), cfg, annealer=counter, anneal_every="step", checkpoint=ckpt)
    assert counter.steps == 20 and resumed.resumed_from == 2
    assert _strip(resumed.history) == _strip(full.history)


def test_grad_clip_bounds_the_gradient_norm_at_every_step():
    norms = []

    def record(model):
        norms.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])).item())

    d = _data()
    data = Dataset("big", d.x_train * 100, d.y_train, d.x_test, d.y_test, 2)  # large inputs: large gradients
    train(_net(), data, TrainConfig(epochs=1, batch_size=8, grad_clip=0.1), step_callbacks=[record])
    assert len(norms) == 6 and max(norms) <= 0.1 + 1e-5


def test_grad_clip_value_clamps_every_gradient_element_at_every_step():
    seen = []

    def record(model):
        seen.append(torch.cat([p.grad.flatten() for p in model.parameters()]))

    d = _data()
    data = Dataset("big", d.x_train * 100, d.y_train, d.x_test, d.y_test, 2)  # large inputs: large gradients
    cfg = TrainConfig(epochs=1, batch_size=8, grad_clip_value=0.01)
    train(_net(), data, cfg, step_callbacks=[record])
    grads = torch.stack(seen)
    assert len(seen) == 6 and grads.abs().max() <= 0.01
    assert (grads.abs() == 0.01).any()  # it was active, not a no-op on small gradients

    # the reference: torch.clamp of the raw gradient, then the same SGD step
    torch.manual_seed(0)
    net, ref = _net(), _net()
    ref.load_state_dict(net.state_dict())
    one = TrainConfig(epochs=1, batch_size=len(d.x_train), optim="sgd", lr=0.1, momentum=0.0, grad_clip_value=0.01)
    train(net, data, one)
    ref.zero_grad()
    nn.functional.cross_entropy(ref(data.x_train), data.y_train).backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad.clamp(-0.01, 0.01)
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)


def test_a_diverging_run_stops_at_the_first_nonfinite_loss():
    class Point(nn.Module):
        def __init__(self):
            super().__init__()
            self.x = nn.Parameter(torch.tensor([3.0]))

        def forward(self, _batch):
            return (self.x**4).sum()

    seen = []

    def loss(m, x, y):
        seen.append(m(x).item())
        return m(x)

    one = Dataset("none", torch.zeros(1, 1), torch.zeros(1), torch.zeros(1, 1), torch.zeros(1), 1)
    cfg = TrainConfig(
        epochs=3, batch_size=1, steps_per_epoch=50, optim="sgd", momentum=0.0, lr=1.0, stop_nonfinite=True
    )
    result = train(Point(), one, cfg, objective=loss)
    assert result.diverged and result.stopped_early and len(result.history) == 1
    assert not math.isfinite(seen[-2]) and all(math.isfinite(v) for v in seen[:-2])
    assert len(seen) < 50  # it stopped inside the first epoch


def test_an_optimizer_factory_and_a_regularizer(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16)
    plain = train(_net(), _data(), cfg, optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1))
    constant = train(
        _net(), _data(), cfg, optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1), regularizer=lambda m: torch.tensor(5.0)
    )
    assert _strip(constant.history) == _strip(plain.history)  # no gradient, and not in train_loss
    l2 = train(
        _net(),
        _data(),
        cfg,
        optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1),
        regularizer=lambda m: sum((p**2).sum() for p in m.parameters()),
    )
    size = lambda m: sum((p**2).sum().item() for p in m.parameters())  # noqa: E731
    assert size(l2.model) < size(plain.model)

    ckpt = tmp_path / "c.pt"
    train(_net(), _data(), cfg, optimizer=lambda ps: torch.optim.SGD(ps, lr=0.1), checkpoint=ckpt)
    with pytest.raises(ValueError, match="train: `checkpoint` must be written with this config"):
        train(_net(), _data(), cfg, optimizer=lambda ps: torch.optim.SGD(ps, lr=0.2), checkpoint=ckpt)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps_per_epoch": 0}, "TrainConfig: `steps_per_epoch` must be an int >= 1, got 0"),
        ({"grad_clip": 0.0}, "TrainConfig: `grad_clip` must be > 0, got 0.0"),
        ({"grad_clip_value": -1.0}, "TrainConfig: `grad_clip_value` must be > 0, got -1.0"),
    ],
)
def test_bad_new_options_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_bad_objective_and_anneal_unit_are_clear_errors():
    with pytest.raises(ValueError, match="train: `objective` must be one of 'classify', 'regress'"):
        train(_net(), _data(), TrainConfig(epochs=1), objective="rank")
    with pytest.raises(ValueError, match="train: `anneal_every` must be one of 'epoch', 'step'"):
        train(_net(), _data(), TrainConfig(epochs=1), anneal_every="batch")
