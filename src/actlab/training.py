"""A small, seeded classifier training loop shared by the experiments.

The harness (`actlab.harness`) builds checkpointing, resume, progress and distributed runs on
top; this loop is the plain path: full control, no hidden state, same numbers for the same seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from actlab.core.validation import check_int
from actlab.data import Dataset

__all__ = ["TrainResult", "evaluate", "train_classifier"]

OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class TrainResult:
    """Per-epoch history (``epoch, train_loss, test_loss, test_acc, seconds``) and the final model."""

    history: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None

    @property
    def final_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    @property
    def best_acc(self) -> float:
        return max((h["test_acc"] for h in self.history), default=float("nan"))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        loss_sum += nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i : i + batch_size]).sum().item()
    model.train(was_training)
    return loss_sum / len(x), correct / len(x)


def train_classifier(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    optimizer: OptimizerFactory | None = None,
    seed: int = 0,
    regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
    callbacks: Sequence[Callable[[int, nn.Module, dict[str, float]], None]] = (),
    step_callbacks: Sequence[Callable[[nn.Module], None]] = (),
) -> TrainResult:
    """Train ``model`` with cross-entropy on ``data``; evaluate on the test split each epoch.

    Args:
        model: maps ``(B, *input_shape)`` to ``(B, num_classes)`` logits.
        data: a `Dataset`.
        epochs, batch_size: the schedule; batches are reshuffled each epoch from ``seed``.
        optimizer: ``params -> Optimizer`` (default Adam, lr 1e-3).
        seed: seeds the shuffling and the global RNG (noise in stochastic activations).
        regularizer: ``model -> scalar`` added to the loss (e.g. an L1 penalty on coefficients).
        callbacks: ``(epoch, model, record)`` after each epoch's evaluation (e.g. noise annealing).
        step_callbacks: ``model`` after each optimizer step.
    """
    check_int("train_classifier", "epochs", epochs, ">=", 1)
    check_int("train_classifier", "batch_size", batch_size, ">=", 1)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optimizer(params) if optimizer is not None else torch.optim.Adam(params, lr=1e-3)
    result = TrainResult(model=model)
    n = len(data.x_train)
    for epoch in range(1, epochs + 1):
        model.train()
        start, total, count = time.perf_counter(), 0.0, 0
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            xb, yb = data.x_train[idx], data.y_train[idx]
            loss = nn.functional.cross_entropy(model(xb), yb)
            if regularizer is not None:
                loss = loss + regularizer(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for cb in step_callbacks:
                cb(model)
            total += loss.item() * len(idx)
            count += len(idx)
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        record = {
            "epoch": epoch,
            "train_loss": total / count,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "seconds": seconds,
        }
        result.history.append(record)
        for cb in callbacks:
            cb(epoch, model, record)
    return result
