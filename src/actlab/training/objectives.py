"""What the trainer minimises and counts: cross-entropy, MSE, or a user's own loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from actlab.core.validation import check_bound, check_choice, check_int
from actlab.data import Dataset

__all__ = ["OBJECTIVES", "LossFn", "Objective", "evaluate", "objective_for"]

OBJECTIVES = ("classify", "regress")

#: ``(model, x, y) -> mean loss`` (a scalar tensor) over the batch: a user's own objective.
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """The loss and the hit count of one batch.

    Attributes:
        kind: ``classify`` (cross-entropy; hits are correct classes), ``regress`` (MSE; hits are
            predictions within ``tolerance`` of the target) or ``custom`` (``loss_fn``; no hits,
            the accuracy columns are NaN).
        out_steps: ``None`` for one prediction per sample; ``k`` when each sample has ``k``
            targets (``y`` is ``(N, k)``, outputs ``(N, k, C)``), as in the copy task.
        tolerance: regression hit threshold.
        loss_fn: the ``custom`` loss, ``(model, x, y) -> mean over the batch``.
    """

    kind: str = "classify"
    out_steps: int | None = None
    tolerance: float = 0.04
    loss_fn: LossFn | None = None

    def __post_init__(self) -> None:
        if self.kind != "custom":
            check_choice("train", "objective", self.kind, OBJECTIVES)
        if self.out_steps is not None:
            check_int("train", "out_steps", self.out_steps, ">=", 1)
        check_bound("train", "tolerance", self.tolerance, ">", 0)

    @property
    def per_sample(self) -> int:
        return 1 if self.out_steps is None else self.out_steps

    def describe(self) -> dict[str, object]:
        """What a checkpoint records of the objective (a changed objective never resumes)."""
        name = self.kind if self.loss_fn is None else getattr(self.loss_fn, "__qualname__", repr(self.loss_fn))
        return {"kind": self.kind, "out_steps": self.out_steps, "tolerance": self.tolerance, "loss_fn": name}

    def batch(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Summed loss over the batch's targets and the number of hits (``None`` for ``custom``)."""
        if self.loss_fn is not None:
            return self.loss_fn(model, x, y) * (len(x) * self.per_sample), None
        out = model(x)
        if self.kind == "regress":
            pred = out.reshape(y.shape)
            return nn.functional.mse_loss(pred, y, reduction="sum"), ((pred - y).abs() < self.tolerance).sum()
        logits = out.reshape(-1, out.shape[-1])
        target = y.reshape(-1)
        return nn.functional.cross_entropy(logits, target, reduction="sum"), (logits.argmax(-1) == target).sum()


def objective_for(
    data: Dataset, objective: str | LossFn | None = None, out_steps: int | None = None, tolerance: float | None = None
) -> Objective:
    """The `Objective` of ``data`` (its ``objective``, ``out_steps``, ``tolerance``), overridden by the arguments."""
    tol = data.tolerance if tolerance is None else tolerance
    steps = data.out_steps if out_steps is None else out_steps
    if callable(objective):
        return Objective("custom", steps, tol, objective)
    return Objective(data.objective if objective is None else objective, steps, tol)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset,
    *,
    objective: str | LossFn | Objective | None = None,
    batch_size: int = 1024,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data``'s test split, in eval mode.

    Args:
        objective: ``classify``, ``regress``, a ``(model, x, y) -> mean loss`` callable or an
            `Objective`; ``None``: the data set's own.
    """
    obj = objective if isinstance(objective, Objective) else objective_for(data, objective)
    was_training = model.training
    model.eval()
    x, y = data.x_test, data.y_test
    loss, hits = 0.0, 0
    for i in range(0, len(x), batch_size):
        l, h = obj.batch(model, x[i : i + batch_size], y[i : i + batch_size])
        loss += l.item()
        hits += 0 if h is None else int(h)
    model.train(was_training)
    count = len(x) * obj.per_sample
    if count == 0:
        return float("nan"), float("nan")
    return loss / count, (hits / count if obj.loss_fn is None else float("nan"))
