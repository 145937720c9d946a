"""SLAF in training: degree 6 on MNIST-1D without NaN (float32, bfloat16 autocast) and the routine pieces."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import actlab
from actlab.data import load_dataset
from actlab.harness.models import MLP
from actlab.nn import SLAF
from actlab.slaf.training import (
    CoefficientL1,
    CoefficientStages,
    activation_parameters,
    clip_coefficient_gradients,
    cycle_activations,
    learned_polynomials,
    optimizer_factory,
)
from actlab.training import TrainConfig, train


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models on a shared 2-core CPU: two threads oversubscribe and run ~10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("autocast", [False, True], ids=["float32", "bf16-autocast"])
def test_degree_6_slaf_trains_on_mnist1d_without_nan(autocast):
    data = load_dataset("mnist1d")
    torch.manual_seed(0)
    model = MLP(40, 10, act=lambda: SLAF(degree=6, basis="chebyshev", init="gelu"), hidden=(64, 64))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)  # a large step, to stress the guard
    start = [m.coefficients.detach().clone() for m in model.modules() if isinstance(m, SLAF)]
    losses = []
    for step in range(30):
        idx = torch.arange(step * 128, (step + 1) * 128) % len(data.x_train)
        # Inputs scaled x4 so pre-activations reach well outside the (-3, 3) range.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = nn.functional.cross_entropy(model(4 * data.x_train[idx]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    coefs = [m.coefficients for m in model.modules() if isinstance(m, SLAF)]
    assert all(torch.isfinite(torch.tensor(losses))), losses
    assert all(torch.isfinite(c).all() and torch.isfinite(c.grad).all() for c in coefs)
    assert all(not torch.equal(c, s) for c, s in zip(coefs, start))  # the activations did learn
    assert sum(losses[-5:]) / 5 < losses[0]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return MLP(40, 10, act=cycle_activations("slaf(degree=3, num_parameters=16)", "relu"), hidden=(16, 16))


def test_cycle_activations_alternates_and_validates_specs():
    acts = [type(m).__name__ for m in _model().net if not isinstance(m, (nn.Linear, nn.Flatten))]
    assert acts == ["SLAF", "ReLU"]
    with pytest.raises(ValueError, match=r"unknown activation 'rellu' \(did you mean 'relu'"):
        cycle_activations("slaf", "rellu")


def test_optimizer_factory_puts_coefficients_in_their_own_group_even_when_frozen():
    model = _model()
    coef = model.net[2].coefficients
    coef.requires_grad_(False)
    opt = optimizer_factory(model, lr=1e-3, coef_lr=1e-2, coef_weight_decay=0.5)(
        [p for p in model.parameters() if p.requires_grad]
    )
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]
    assert opt.param_groups[1]["params"] == [coef] and opt.param_groups[1]["weight_decay"] == 0.5
    assert activation_parameters(model) == [coef]
    with pytest.raises(ValueError, match=r"optimizer_factory: `coef_lr` must be > 0, got 0"):
        optimizer_factory(model, coef_lr=0)


def test_stages_freeze_then_unfreeze_coefficients_in_train():
    data = load_dataset("digits")
    model = MLP(64, 10, act="slaf(degree=3)", hidden=(16,))
    stages = CoefficientStages(coefficients_from=3, weights_until=3)
    stages.apply(model, epoch=1)
    snapshots = []
    record = lambda epoch, m, r: snapshots.append(  # noqa: E731
        (m.net[2].coefficients.detach().clone(), m.net[1].weight.detach().clone())
    )
    init = (model.net[2].coefficients.detach().clone(), model.net[1].weight.detach().clone())
    train(
        model,
        data,
        TrainConfig(epochs=4, batch_size=256),
        optimizer=optimizer_factory(model),
        callbacks=[record, stages],
    )
    coefs = [init[0]] + [s[0] for s in snapshots]
    weights = [init[1]] + [s[1] for s in snapshots]
    assert torch.equal(coefs[0], coefs[1]) and torch.equal(coefs[1], coefs[2])  # epochs 1-2 frozen
    assert not torch.equal(coefs[2], coefs[3]) and not torch.equal(coefs[3], coefs[4])  # then trained
    assert not torch.equal(weights[2], weights[3]) and torch.equal(weights[3], weights[4])  # weights stop after 3
    with pytest.raises(ValueError, match=r"CoefficientStages: `coefficients_from` must be an int >= 1, got 0"):
        CoefficientStages(coefficients_from=0)


def test_l1_penalty_skips_the_bias_and_pulls_coefficients_down():
    model = _model()
    m = model.net[2]
    with torch.no_grad():
        m.coefficients.fill_(-2.0)
    assert CoefficientL1(weight=0.5)(model).item() == pytest.approx(0.5 * 2.0 * 16 * 3)
    assert CoefficientL1(weight=0.5, include_bias=True)(model).item() == pytest.approx(0.5 * 2.0 * 16 * 4)
    CoefficientL1(weight=1.0)(model).backward()
    assert (m.coefficients.grad[:, 1:] == -1).all() and (m.coefficients.grad[:, 0] == 0).all()
    assert CoefficientL1()(nn.Linear(2, 2)).item() == 0.0
    with pytest.raises(ValueError, match=r"CoefficientL1: `weight` must be >= 0, got -1.0"):
        CoefficientL1(weight=-1.0)


def test_gradient_clipping_hooks_clip_coefficients_only_and_remove():
    model = _model()
    handles = clip_coefficient_gradients(model, max_value=0.01)
    x = 10 * torch.randn(32, 40, generator=torch.Generator().manual_seed(0))
    model(x).pow(2).sum().backward()
    coef, weight = model.net[2].coefficients, model.net[1].weight
    assert coef.grad.abs().max() == pytest.approx(0.01) and weight.grad.abs().max() > 0.01
    copy.deepcopy(model)
    for h in handles:
        h.remove()
    model.zero_grad()
    model(x).pow(2).sum().backward()
    assert coef.grad.abs().max() > 0.01


def test_learned_polynomials_name_every_slaf():
    polys = learned_polynomials(_model())
    assert list(polys) == ["net.2"] and len(polys["net.2"]) == 16
    assert actlab.create("slaf").polynomial()[0].degree() == 4
