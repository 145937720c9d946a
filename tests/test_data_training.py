"""Offline data loaders and the shared training loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actlab.data import load_dataset
from actlab.training import TrainConfig, train


def test_mnist1d_is_the_standard_split_standardised():
    d = load_dataset("mnist1d")
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40) and d.num_classes == 10
    assert abs(d.x_train.mean().item()) < 1e-4 and abs(d.x_train.std().item() - 1) < 1e-3
    assert set(d.y_train.unique().tolist()) == set(range(10))


def test_digits_split():
    d = load_dataset("digits")
    assert d.input_shape == (64,) and len(d.x_train) + len(d.x_test) == 1797


def test_unknown_dataset_suggests():
    with pytest.raises(ValueError, match=r"`name` must be one of .*did you mean 'digits'"):
        load_dataset("digit")


def _mlp():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_training_learns_and_is_seeded():
    d = load_dataset("digits")
    torch.manual_seed(1)
    a = train(_mlp(), d, TrainConfig(epochs=5, seed=3))
    torch.manual_seed(1)
    b = train(_mlp(), d, TrainConfig(epochs=5, seed=3))
    assert a.final_acc > 0.7  # chance is 0.1
    assert [h["test_loss"] for h in a.history] == [h["test_loss"] for h in b.history]
