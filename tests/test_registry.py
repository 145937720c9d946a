"""The registry: create() from every kind of spec, safe parsing, listing and errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actlab
from actlab.core.registry import ActivationSpec, Registry
from actlab.core.specparse import parse_spec


def test_create_from_name_alias_string_class_instance_and_none():
    assert isinstance(actlab.create("relu"), nn.ReLU)
    assert isinstance(actlab.create("swish"), nn.SiLU)
    m = actlab.create("terelu(alpha=0.5, mu=2.0)")
    assert (m.alpha, m.mu) == (0.5, 2.0)
    assert isinstance(actlab.create(nn.GELU), nn.GELU)
    inst = nn.Tanh()
    assert actlab.create(inst) is inst
    assert isinstance(actlab.create(None), nn.Identity)
    assert actlab.create(actlab.get_spec("terelu"), mu=3.0).mu == 3.0


def test_overrides_win_over_the_spec_string():
    assert actlab.create("terelu(mu=2.0)", mu=4.0).mu == 4.0
    assert actlab.create("leaky_relu(0.2)").negative_slope == 0.2


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown activation 'reul' \(did you mean 'relu'.*registered: .*terelu"):
        actlab.create("reul")
    first = actlab.list_activations()[0]
    with pytest.raises(ValueError, match=rf"unknown activation 'nope'; registered: {first}, "):
        actlab.create("nope")


def test_bad_hyperparameter_names_owner_argument_bound_and_value():
    with pytest.raises(ValueError, match=r"^TERELU: `alpha` must be > 0, got -1$"):
        actlab.create("terelu(alpha=-1)")


def test_unknown_argument_lists_accepted_ones():
    with pytest.raises(TypeError, match=r"terelu: .*'foo'; accepted arguments: alpha, mu, num_parameters, learn_beta"):
        actlab.create("terelu(foo=1)")


@pytest.mark.parametrize(
    "text",
    ["relu(x=__import__('os'))", "relu(x=open('f'))", "os.system('x')", "relu(**k)", "relu(x=lambda: 1)", "1 + 2", ""],
)
def test_spec_strings_are_never_evaluated(text):
    with pytest.raises(ValueError):
        parse_spec(text)


def test_spec_literals():
    assert parse_spec("q(levels=4, range=(-1.0, 1), ste='clipped', learn=False, x=None, n=-2)") == (
        "q",
        (),
        {"levels": 4, "range": (-1.0, 1), "ste": "clipped", "learn": False, "x": None, "n": -2},
    )


def test_create_rejects_other_types():
    with pytest.raises(TypeError, match="`spec` must be a name"):
        actlab.create(3)
    with pytest.raises(TypeError, match="`overrides` must be empty"):
        actlab.create(nn.ReLU(), inplace=True)


def test_duplicate_names_and_aliases_are_errors():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1, aliases=("b",))
    with pytest.raises(ValueError, match="'a' is already registered"):
        reg.add("a", 2)
    with pytest.raises(ValueError, match="'b' is already registered"):
        reg.add("c", 3, aliases=("b",))
    with pytest.raises(ValueError, match="'relu' is already registered"):
        actlab.register(ActivationSpec("relu", nn.ReLU, torch.relu, "torch", "dup"))


def test_list_activations_pattern_and_family():
    assert actlab.list_activations("hard*") == ["hardshrink", "hardsigmoid", "hardswish", "hardtanh"]
    assert actlab.list_activations(family="classic") == ["terelu"]
    assert "torch" in actlab.list_families()
    with pytest.raises(ValueError, match="`family` must be one of"):
        actlab.list_activations(family="nope")


def test_learnable_is_derived_from_the_module():
    assert actlab.get_spec("terelu").learnable
    assert actlab.get_spec("prelu").learnable
    assert not actlab.get_spec("relu").learnable


def test_per_channel_terelu_broadcasts_on_dim_1():
    m = actlab.create("terelu(num_parameters=3)")
    with torch.no_grad():
        m.beta.copy_(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.full((2, 3, 4), 5.0)
    y = m(x)
    for c in range(3):
        torch.testing.assert_close(y[:, c], actlab.functional.terelu(x[:, c], beta=float(c + 1)))


def test_saturation_masks():
    x = torch.tensor([-2.0, 0.0, 0.5, 2.0])
    assert actlab.get_spec("hardtanh").saturation(x).tolist() == [True, False, False, True]
    assert actlab.get_spec("relu").saturation(x).tolist() == [True, True, False, False]
