"""Offline data sets as tensors: MNIST-1D (generated locally) and scikit-learn's bundled sets.

Nothing here touches the network: MNIST-1D is generated from its built-in templates with
``mnist1d.data.make_dataset`` (deterministic; equal to the official split), the sklearn sets
ship with the package.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from actlab.core.extras import require
from actlab.core.validation import check_choice

__all__ = ["DATASETS", "Dataset", "fingerprint", "load_dataset", "standardise"]


@dataclass(frozen=True)
class Dataset:
    """A train/test split as tensors, and what its targets are.

    The bundled sets are classification splits (float32 features standardised on the train set,
    int64 labels); the harness tasks add regression and sequence targets.

    Attributes:
        name: data set name.
        x_train, y_train, x_test, y_test: tensors; ``x`` is ``(N, *input_shape)``.
        num_classes: number of classes (1 for regression).
        objective: ``classify`` (cross-entropy; accuracy) or ``regress`` (MSE; the accuracy is the
            fraction of predictions within ``tolerance`` of the target).
        out_steps: ``None`` for one target per sample; ``k`` when the target is the last ``k``
            time steps (``y`` is ``(N, k)``), as in the copy task.
        tolerance: regression hit threshold.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    objective: str = "classify"
    out_steps: int | None = None
    tolerance: float = 0.04

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def fingerprint(data: Dataset) -> str:
    """A SHA-256 of the split's contents (tensors, shapes, dtypes, targets): what a run trained on.

    Runs record it so that a checkpoint made on other data (another file at the same path,
    another ``--max-train``) is never resumed.
    """
    h = hashlib.sha256()
    meta = (data.num_classes, data.objective, data.out_steps, data.tolerance)
    h.update(repr(meta).encode())
    for t in (data.x_train, data.y_train, data.x_test, data.y_test):
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits scaled by the train split's scalar mean and std, as float32 tensors."""
    mean, std = x_train.mean(), x_train.std() + 1e-8
    return (
        torch.as_tensor((x_train - mean) / std, dtype=torch.float32),
        torch.as_tensor((x_test - mean) / std, dtype=torch.float32),
    )


def _mnist1d() -> Dataset:
    mnist1d = require("mnist1d.data", "the mnist1d data set", "harness")
    raw = mnist1d.make_dataset(mnist1d.get_dataset_args())  # never get_dataset(download=True): it hits the network
    x_tr, x_te = standardise(raw["x"], raw["x_test"])
    return Dataset(
        "mnist1d",
        x_tr,
        torch.as_tensor(raw["y"], dtype=torch.int64),
        x_te,
        torch.as_tensor(raw["y_test"], dtype=torch.int64),
        10,
    )


def _sklearn(name: str) -> Dataset:
    datasets = require("sklearn.datasets", f"the {name} data set", "harness")
    train_test_split = require("sklearn.model_selection", f"the {name} data set", "harness").train_test_split

    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    x_tr, x_te, y_tr, y_te = train_test_split(
        bunch.data.astype(np.float64), bunch.target, test_size=0.25, random_state=0, stratify=bunch.target
    )
    x_tr_t, x_te_t = standardise(x_tr, x_te)
    return Dataset(
        name,
        x_tr_t,
        torch.as_tensor(y_tr, dtype=torch.int64),
        x_te_t,
        torch.as_tensor(y_te, dtype=torch.int64),
        int(bunch.target.max()) + 1,
    )


DATASETS = ("mnist1d", "digits", "breast_cancer", "iris", "wine")


@functools.cache
def load_dataset(name: str) -> Dataset:
    """Load a bundled data set by name (cached per process).

    Args:
        name: one of ``mnist1d`` (4000/1000 samples of 40 features, 10 classes), ``digits``
            (1797 8x8 images flattened to 64, 10 classes; stratified 75/25 split, seed 0),
            ``breast_cancer``, ``iris``, ``wine``.
    """
    check_choice("load_dataset", "name", name, DATASETS)
    return _mnist1d() if name == "mnist1d" else _sklearn(name)
