"""Learned activations read back, for every learnable registry entry: curves, state_dict rebuild, penalty."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import actlab
from actlab.core.learned import activation_curve, activations_from_state_dict
from actlab.core.registry import ACTIVATIONS
from actlab.slaf import CoefficientL1

LEARNABLE = [s.name for s in ACTIVATIONS if actlab.create(s.name).state_dict()]


def _per_channel(name: str, channels: int) -> nn.Module:
    if "num_parameters" in inspect.signature(ACTIVATIONS.get(name).module).parameters:
        return actlab.create(name, num_parameters=channels)
    return actlab.create(name)


def _perturbed(name: str, channels: int = 3) -> nn.Module:
    torch.manual_seed(0)
    act = _per_channel(name, channels)
    with torch.no_grad():
        for p in act.parameters():
            p.add_(0.1 * torch.rand_like(p))
    return act


def test_every_learnable_family_is_covered():
    assert {"slaf", "slaf_relu", "terelu", "noisy_hard_tanh", "quantize", "binary", "prelu"} <= set(LEARNABLE)


@pytest.mark.parametrize("name", LEARNABLE)
def test_rebuilt_from_a_models_state_dict_computes_the_same(name):
    act = _perturbed(name)
    model = nn.Sequential(nn.Linear(2, 3), act, nn.Linear(3, 3, bias=False))
    found = activations_from_state_dict(model.state_dict(), name)
    assert list(found) == ["1"]  # the Linear without bias has a lone `weight`, but it does not load as PReLU
    x = torch.randn(7, 3)
    torch.testing.assert_close(found["1"].eval()(x), act.eval()(x), atol=0, rtol=0)
    grid = torch.linspace(-3, 3, 11)
    torch.testing.assert_close(activation_curve(found["1"], grid), activation_curve(act, grid), atol=0, rtol=0)


def test_slaf_is_found_at_any_degree_and_beside_relu():
    model = nn.Sequential(actlab.create("slaf(degree=5)", num_parameters=2), actlab.create("slaf_relu(degree=2)"))
    found = activations_from_state_dict(model.state_dict())  # default: slaf
    assert [(p, type(m).__name__, m.degree) for p, m in found.items()] == [("0", "SLAF", 5), ("1", "SLAFReLU", 2)]


def test_activation_curve_is_per_channel_in_eval_mode_and_restores_the_mode():
    act = _perturbed("terelu", 4).train()
    x = torch.linspace(-2, 2, 9)
    y = activation_curve(act, x)
    assert y.shape == (9, 4) and act.training and not y.requires_grad
    for c in range(4):
        one = actlab.create("terelu")
        one.beta.data = act.beta.data[c : c + 1].clone()
        torch.testing.assert_close(y[:, c], one(x))
    noisy = actlab.create("noisy_hard_tanh").train()
    assert torch.equal(activation_curve(noisy, x), activation_curve(noisy, x))  # eval: no noise


def test_parameter_free_spec_is_a_clear_error():
    with pytest.raises(ValueError, match=r"activations_from_state_dict: `spec` must be an activation with saved state"):
        activations_from_state_dict({}, "relu")


@pytest.mark.parametrize("name", LEARNABLE)
def test_coefficient_l1_penalises_every_learnable_family(name):
    act = _perturbed(name)
    model = nn.Sequential(nn.Linear(2, 3), act)
    own = getattr(act, "penalised_parameters", None)
    params = own(False) if own is not None else list(act.parameters())
    want = 0.5 * sum((p.abs().sum() for p in params), torch.zeros(()))  # no parameters (nani_*): 0
    torch.testing.assert_close(CoefficientL1(weight=0.5)(model), want)
    assert CoefficientL1(weight=0.5)(nn.Linear(2, 2)).item() == 0.0  # no activation: nothing penalised


def test_plot_state_dict_draws_any_learnable_family(tmp_path):
    from typer.testing import CliRunner

    from actlab.cli.main import app

    model = nn.Sequential(nn.Linear(2, 3), _perturbed("terelu"), nn.Linear(3, 3), _perturbed("noisy_hard_tanh"))
    torch.save(model.state_dict(), tmp_path / "m.pt")
    runner = CliRunner()
    for act in ("terelu", "noisy_hard_tanh"):
        out = tmp_path / f"{act}.png"
        res = runner.invoke(app, ["plot", "--state-dict", str(tmp_path / "m.pt"), "--act", act, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(app, ["plot", "--state-dict", str(tmp_path / "m.pt"), "--act", "quantize", "--out", "x.png"])
    assert res.exit_code == 2 and "must hold a learned activation (quantize), got none" in res.output
