"""The harness with the families plugged in: noisy gates, noise annealing, GAF in the trainer."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import actlab
from actlab.harness.models import build_model
from actlab.harness.tasks import load_task, make_adding
from actlab.training import TrainConfig, train


def _small(task, n_train=256, n_test=128):
    d = task.data
    return replace(
        task,
        data=replace(
            d,
            x_train=d.x_train[:n_train],
            y_train=d.y_train[:n_train],
            x_test=d.x_test[:n_test],
            y_test=d.y_test[:n_test],
        ),
    )


def test_gated_rnn_puts_the_activation_in_the_lstm_gates():
    task = make_adding(length=12, n_train=64, n_test=16, seed=0)
    model = build_model("gated_rnn", task, "noisy_hard_sigmoid")
    gates = [m for m in model.rnn.modules() if isinstance(m, actlab.nn.NoisyHardSigmoid)]
    assert len(gates) == 3  # i, f, o of the single layer
    assert model(task.data.x_train[:5]).shape == (5, task.num_outputs)
    result = train(model, task.data, TrainConfig(epochs=1, batch_size=32, lr=1e-2, seed=0))
    assert torch.isfinite(torch.tensor(result.history[-1]["test_loss"]))


@pytest.mark.parametrize("anneal", ["linear", "cosine"])
def test_annealing_reaches_the_deterministic_unit_and_is_a_no_op_without_noise(anneal):
    task = _small(load_task("mnist1d"))
    model = build_model("mlp", task, "noisy_hard_tanh", hidden=(16,))
    train(model, task.data, TrainConfig(epochs=2, batch_size=64, anneal=anneal, seed=0))
    scales = [float(m.noise_scale) for m in model.modules() if isinstance(m, actlab.nn.NoisyHardTanh)]
    assert scales and all(s == 0.0 for s in scales)  # 1x -> 0x over the 2 epochs
    relu = build_model("mlp", task, "relu", hidden=(16,))
    train(relu, task.data, TrainConfig(epochs=1, batch_size=64, anneal=anneal, seed=0))  # nothing to anneal: fine


def test_unknown_anneal_is_a_clear_error():
    with pytest.raises(ValueError, match=r"TrainConfig: `anneal` must be one of 'none', 'linear'"):
        TrainConfig(anneal="linaer")


def test_gaf_in_the_trainer_identity_matches_plain_sgd_and_atan_differs():
    task = _small(load_task("digits"))

    def run(optim):
        torch.manual_seed(0)
        model = build_model("mlp", task, "relu", hidden=(16,))
        train(model, task.data, TrainConfig(epochs=2, batch_size=64, lr=0.05, optim=optim, seed=0))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    plain = run("sgd")
    assert torch.equal(run("sgd+gaf(fn='identity')"), plain)
    assert not torch.allclose(run("sgd+gaf(fn='atan', alpha=0.3, beta=4.5)"), plain)
