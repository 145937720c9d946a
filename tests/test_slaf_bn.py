"""SLAFBN (``slaf_bn``): the authors' batch-normalised powers, against an independent port of their formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.core.learned import activations_from_state_dict
from actlab.functional import slaf_bn
from actlab.nn import SLAFBN
from actlab.slaf import CoefficientL1, learned_polynomials


class AuthorsSLAF:
    """The authors' routine re-derived in numpy float64, channels last as in their TF code.

    Powers stacked on a new last axis, moments over every axis but the channel one (biased
    variance), ``pop <- batch * (1 - decay) + pop * decay``, ``sum(sigmoid(g) * a * BN(X), -1) + b``.
    """

    def __init__(self, a: np.ndarray, g: np.ndarray | None, b: np.ndarray, decay: float = 0.99, eps: float = 1e-8):
        self.a, self.g, self.b, self.decay, self.eps = a, g, b, decay, eps
        self.mean, self.var = np.zeros_like(a), np.ones_like(a)

    def __call__(self, x_channels_first: np.ndarray, is_train: bool) -> np.ndarray:
        x = np.moveaxis(x_channels_first, 1, -1) if x_channels_first.ndim > 1 else x_channels_first[:, None]
        k = self.a.shape[1]
        X = np.stack([x ** (i + 1) for i in range(k)], axis=-1)  # (..., C, k)
        axes = tuple(range(X.ndim - 2))
        if is_train:
            m, v = X.mean(axis=axes), X.var(axis=axes)
            self.mean = m * (1 - self.decay) + self.mean * self.decay
            self.var = v * (1 - self.decay) + self.var * self.decay
        else:
            m, v = self.mean, self.var
        att = 1.0 if self.g is None else 1.0 / (1.0 + np.exp(-self.g))
        y = (att * self.a * (X - m) / np.sqrt(v + self.eps)).sum(-1) + self.b
        return np.moveaxis(y, -1, 1) if x_channels_first.ndim > 1 else y[:, 0]


def _port(m: SLAFBN) -> AuthorsSLAF:
    g = None if m.gate is None else m.gate.detach().double().numpy()
    return AuthorsSLAF(m.coefficients.detach().double().numpy(), g, m.bias.detach().double().numpy())


@pytest.mark.parametrize("gate", [True, False])
@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 10), (4, 3, 5, 6)])
def test_matches_the_authors_formula_in_training_and_eval(shape, gate):
    torch.manual_seed(0)
    m = SLAFBN(degree=4, num_parameters=3, gate=gate, dtype=torch.float64)
    port = _port(m)
    for step in range(4):  # training: batch statistics, the running ones move
        x = 1.5 * torch.randn(shape, dtype=torch.float64) + 0.3 * step
        torch.testing.assert_close(m(x), torch.from_numpy(port(x.numpy(), True)), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(m.running_mean, torch.from_numpy(port.mean), atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(m.running_var, torch.from_numpy(port.var), atol=1e-12, rtol=1e-12)
    m.eval()
    x = torch.randn(shape, dtype=torch.float64)
    before = m.running_mean.clone()
    y = m(x)
    torch.testing.assert_close(y, torch.from_numpy(port(x.numpy(), False)), atol=1e-10, rtol=1e-10)
    assert torch.equal(m(x), y) and torch.equal(m.running_mean, before)  # eval: deterministic, no update


def test_one_channel_normalises_over_every_element():
    torch.manual_seed(1)
    m = SLAFBN(degree=2, dtype=torch.float64)
    x = torch.randn(6, 4, 5, dtype=torch.float64)
    port = _port(m)
    want = port(x.reshape(-1, 1).numpy(), True).reshape(x.shape)
    torch.testing.assert_close(m(x), torch.from_numpy(want), atol=1e-10, rtol=1e-10)


def test_gradcheck_in_training_mode_with_batch_statistics():
    torch.manual_seed(2)
    m = SLAFBN(degree=3, num_parameters=2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    a, b, g = (p.detach().clone().requires_grad_(True) for p in (m.coefficients, m.bias, m.gate))

    def f(x, a, b, g):
        return slaf_bn(x, coefficients=a, bias=b, gate=g, training=True)

    assert torch.autograd.gradcheck(f, (x, a, b, g))
    assert torch.autograd.gradgradcheck(f, (x, a, b, g))


def test_polynomial_is_the_eval_function_exactly():
    torch.manual_seed(3)
    m = SLAFBN(degree=5, num_parameters=3, dtype=torch.float64)
    for _ in range(5):
        m(torch.randn(32, 3, dtype=torch.float64))
    m.eval()
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)
    y = m(x[:, None].expand(41, 3)).detach()
    for c, p in enumerate(m.polynomial()):
        np.testing.assert_allclose(p(x.numpy()), y[:, c].numpy(), rtol=1e-9, atol=1e-9)
    assert m.formula(1).endswith("(eval mode, running stats)") and " x**5" in m.formula(1)
    assert set(learned_polynomials(nn.Sequential(m))) == {"0"}


def test_initialisation_reset_and_running_stats():
    torch.manual_seed(4)
    m = SLAFBN(degree=3, num_parameters=4000)
    a = m.coefficients.detach()
    assert abs(a[:, 0].mean().item() - 1.0) < 0.06 and abs(a[:, 1:].mean().item()) < 0.06
    assert abs(a.std(0).mean().item() - 1.0) < 0.05 and torch.equal(m.bias, torch.full((4000,), 0.1))
    m(torch.randn(8, 4000))
    assert not torch.equal(m.running_var, torch.ones(4000, 3))
    m.reset_running_stats()
    assert torch.equal(m.running_mean, torch.zeros(4000, 3)) and torch.equal(m.running_var, torch.ones(4000, 3))
    torch.manual_seed(5)
    m.reset_parameters()
    first = {k: v.clone() for k, v in m.state_dict().items() if isinstance(v, torch.Tensor)}
    torch.manual_seed(5)
    m.reset_parameters()
    assert all(torch.equal(v, first[k]) for k, v in m.state_dict().items() if isinstance(v, torch.Tensor))


def test_factory_arguments_and_repr():
    m = SLAFBN(degree=2, num_parameters=3, eps=1e-3, gate=False, dtype=torch.float64, device="cpu")
    assert {t.dtype for t in [*m.parameters(), *m.buffers()]} == {torch.float64}
    assert m.gate is None and [n for n, _ in m.named_parameters()] == ["coefficients", "bias"]
    assert repr(m) == "SLAFBN(degree=2, num_parameters=3, momentum=0.01, eps=0.001, gate=False)"


def test_state_dict_round_trip_and_rebuild_from_a_model():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), actlab.create("slaf_bn(degree=5, eps=1e-3)", num_parameters=3))
    model(torch.randn(4, 1, 6, 6))
    state = model.state_dict()
    rebuilt = SLAFBN.from_state_dict(state, "1")
    assert (rebuilt.degree, rebuilt.num_parameters, rebuilt.eps) == (5, 3, 1e-3)
    found = activations_from_state_dict(state, "slaf_bn")
    assert list(found) == ["1"] and found["1"].degree == 5
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(found["1"].eval()(x), model[1].eval()(x), atol=0, rtol=0)
    ungated = nn.Sequential(SLAFBN(degree=2, gate=False))
    assert list(activations_from_state_dict(ungated.state_dict(), "slaf_bn(gate=False)")) == ["0"]
    with pytest.raises(ValueError, match=r"SLAFBN: `state_dict` must be saved with this module's degree, eps"):
        SLAFBN(degree=3, num_parameters=3).load_state_dict(model[1].state_dict())
    with pytest.raises(ValueError, match=r"^SLAFBN.from_state_dict: `prefix` must be the prefix of a saved SLAFBN"):
        SLAFBN.from_state_dict(state, "0")


def test_coefficient_l1_penalises_a_and_b_only_with_include_bias():
    torch.manual_seed(7)
    m = SLAFBN(degree=3, num_parameters=2)
    model = nn.Sequential(nn.Linear(2, 2), m)
    torch.testing.assert_close(CoefficientL1(weight=1e-4)(model), 1e-4 * m.coefficients.abs().sum())
    want = 1e-4 * (m.coefficients.abs().sum() + m.bias.abs().sum())
    torch.testing.assert_close(CoefficientL1(weight=1e-4, include_bias=True)(model), want)


def test_input_errors():
    m = SLAFBN(num_parameters=3)
    with pytest.raises(ValueError, match=r"^slaf_bn: `x` must be a tensor with 3 channels at dim 1 .*got \(4, 2\)$"):
        m(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"slaf_bn: `x` must be a tensor with 3 channels at dim 1"):
        m(torch.randn(3))
    with pytest.raises(ValueError, match=r"^slaf_bn: `x` must be at least one value per channel in training"):
        m(torch.empty(0, 3))
    with pytest.raises(ValueError, match=r"slaf_bn: `running_mean` must be running statistics .* when not training"):
        slaf_bn(torch.randn(4), coefficients=torch.ones(1, 2), bias=torch.zeros(1))
    with pytest.raises(ValueError, match=r"slaf_bn: `coefficients` must be a \(C, k\) tensor"):
        slaf_bn(torch.randn(4), coefficients=torch.ones(2), bias=torch.zeros(1), training=True)
