"""Benchmark tasks that run offline: bundled data, synthetic sequences, and data from disk.

A `Task` is a named `Dataset` (whose objective, classification or regression, and outputs per
sample tell the trainer what to minimise) plus a sensible default model. Every loader validates its inputs (paths, array keys, shapes) before returning, so a bad
task fails before any training starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from actlab.core.extras import require
from actlab.core.validation import check_choice, check_int, fail
from actlab.data import Dataset, load_dataset, standardise

__all__ = ["TASKS", "Task", "load_task", "make_adding", "make_associative_recall", "make_copy"]

TASKS = ("mnist1d", "digits", "adding", "copy", "npz", "folder")
_PATH_TASKS = ("npz", "folder")


@dataclass(frozen=True)
class Task:
    """A benchmark task: a `Dataset` (which says what its targets are) and the model to use by default.

    Attributes:
        name: task name (``mnist1d``, ``digits``, ``adding``, ``copy``, ``npz``, ``folder``).
        data: the split; ``x`` is ``(N, *input_shape)``; its ``objective``, ``out_steps`` and
            ``tolerance`` tell the trainer what to minimise and count.
        default_model: the model `build_model` uses when none is named.
    """

    name: str
    data: Dataset
    default_model: str = "mlp"

    @property
    def objective(self) -> str:
        return self.data.objective

    @property
    def out_steps(self) -> int | None:
        return self.data.out_steps

    @property
    def tolerance(self) -> float:
        return self.data.tolerance

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.data.input_shape

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def num_outputs(self) -> int:
        """Width of the model's last layer (1 for regression)."""
        return 1 if self.objective == "regress" else self.data.num_classes


def make_adding(length: int = 50, n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> Task:
    """The adding problem (Hochreiter & Schmidhuber, 1997): regress the sum of two marked values.

    Each sample is ``(length, 2)``: channel 0 uniform in [0, 1], channel 1 marks exactly two steps
    (one in each half, so the dependency spans the sequence). Generated from ``seed`` alone.
    """
    check_int("make_adding", "length", length, ">=", 2)
    gen = np.random.default_rng(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        values = gen.uniform(0.0, 1.0, (n, length))
        marks = np.zeros((n, length))
        half = length // 2
        first, second = gen.integers(0, half, n), gen.integers(half, length, n)
        marks[np.arange(n), first] = 1.0
        marks[np.arange(n), second] = 1.0
        x = np.stack([values, marks], axis=-1)
        y = (values * marks).sum(1)
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)

    x_tr, y_tr = split(n_train)
    x_te, y_te = split(n_test)
    data = Dataset("adding", x_tr, y_tr, x_te, y_te, 1, objective="regress")
    return Task("adding", data, default_model="rnn")


def make_copy(
    symbols: int = 8, n_copy: int = 10, delay: int = 20, n_train: int = 4000, n_test: int = 1000, seed: int = 0
) -> Task:
    """The copy-memory task: read ``n_copy`` symbols, wait ``delay`` blanks, then reproduce them.

    Input ``(n_copy + delay + n_copy, symbols + 2)`` one-hot: the symbols, blanks, a go marker on
    the last blank before the answer window. The target is the ``n_copy`` symbols, predicted at the
    last ``n_copy`` steps. Generated from ``seed`` alone.
    """
    check_int("make_copy", "symbols", symbols, ">=", 2)
    check_int("make_copy", "n_copy", n_copy, ">=", 1)
    check_int("make_copy", "delay", delay, ">=", 1)
    gen = np.random.default_rng(seed)
    steps, blank, go = 2 * n_copy + delay, symbols, symbols + 1

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        seq = gen.integers(0, symbols, (n, n_copy))
        tokens = np.full((n, steps), blank)
        tokens[:, :n_copy] = seq
        tokens[:, n_copy + delay - 1] = go
        x = np.eye(symbols + 2, dtype=np.float32)[tokens]
        return torch.as_tensor(x), torch.as_tensor(seq, dtype=torch.int64)

    x_tr, y_tr = split(n_train)
    x_te, y_te = split(n_test)
    return Task("copy", Dataset("copy", x_tr, y_tr, x_te, y_te, symbols, out_steps=n_copy), default_model="rnn")


def make_associative_recall(
    items: int = 4, symbols: int = 8, n_train: int = 4000, n_test: int = 1000, seed: int = 0
) -> Task:
    """Associative recall: read ``items`` (key, value) pairs, then a query key; name its value.

    One of the hard synthetic tasks on which Gulcehre et al. (2016) trained noisy-gated
    recurrent nets (the task in the form of Ba et al., 2016). Keys are distinct symbols, values
    any symbols (of ``symbols``); the input is ``(2 items + 2, symbols + 1)`` one-hot: ``k1 v1 k2
    v2 ... ? q`` with ``?`` the extra symbol and ``q`` one of the keys. The target (a class in
    ``range(symbols)``) is the value stored with ``q``; chance is ``1 / symbols``. Generated
    from ``seed`` alone.
    """
    check_int("make_associative_recall", "symbols", symbols, ">=", 2)
    check_int("make_associative_recall", "items", items, ">=", 1)
    if items > symbols:
        fail("make_associative_recall", "items", f"<= symbols ({symbols}) (keys are distinct)", items)
    gen = np.random.default_rng(seed)
    query = symbols

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        keys = np.argsort(gen.random((n, symbols)), axis=1)[:, :items]  # distinct keys per sample
        values = gen.integers(0, symbols, (n, items))
        pick = gen.integers(0, items, n)
        tokens = np.empty((n, 2 * items + 2), dtype=np.int64)
        tokens[:, 0 : 2 * items : 2], tokens[:, 1 : 2 * items : 2] = keys, values
        tokens[:, -2], tokens[:, -1] = query, keys[np.arange(n), pick]
        x = np.eye(symbols + 1, dtype=np.float32)[tokens]
        return torch.as_tensor(x), torch.as_tensor(values[np.arange(n), pick], dtype=torch.int64)

    x_tr, y_tr = split(n_train)
    x_te, y_te = split(n_test)
    return Task("recall", Dataset("recall", x_tr, y_tr, x_te, y_te, symbols), default_model="rnn")


def _labels(owner: str, name: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        fail(owner, name, f"a 1-D array of {n} labels (one per sample)", f"shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            fail(owner, name, "integer class labels", f"dtype {y.dtype}")
    if len(y) and y.min() < 0:
        fail(owner, name, "labels >= 0", int(y.min()))
    return y.astype(np.int64)


def load_npz(path: str | os.PathLike[str]) -> Task:
    """A classification task from an ``.npz`` with ``x_train, y_train, x_test, y_test``.

    ``x`` may be ``(N, F)``, ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)``; channels-last images
    ``(N, H, W, C)`` with ``C`` in (1, 3, 4) are moved to channels-first (CIFAR arrays usually come
    that way). Features are standardised with the train set's mean and std.
    """
    path = Path(path)
    if not path.is_file():
        fail("load_task", "path", "an existing .npz file", str(path))
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        fail("load_task", "path", f"a readable .npz file ({exc})", str(path))
    keys = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in keys if k not in arrays.files]
    if missing:
        fail("load_task", "path", f"an .npz with keys {', '.join(keys)} (missing {', '.join(missing)})", str(path))
    x_tr, x_te = arrays["x_train"], arrays["x_test"]
    for name, x in (("x_train", x_tr), ("x_test", x_te)):
        if x.ndim < 2 or not np.issubdtype(x.dtype, np.number):
            fail("load_task", name, "a numeric array of shape (N, ...)", f"dtype {x.dtype}, shape {x.shape}")
    if x_tr.shape[1:] != x_te.shape[1:]:
        fail("load_task", "x_test", f"samples of shape {x_tr.shape[1:]} like x_train", x_te.shape[1:])
    y_tr = _labels("load_task", "y_train", arrays["y_train"], len(x_tr))
    y_te = _labels("load_task", "y_test", arrays["y_test"], len(x_te))
    if x_tr.ndim == 4 and x_tr.shape[-1] in (1, 3, 4) and x_tr.shape[1] not in (1, 3, 4):
        x_tr, x_te = np.moveaxis(x_tr, -1, 1), np.moveaxis(x_te, -1, 1)
    xt, xe = standardise(x_tr.astype(np.float64), x_te.astype(np.float64))
    classes = int(max(y_tr.max(initial=0), y_te.max(initial=0))) + 1
    data = Dataset(path.stem, xt, torch.as_tensor(y_tr), xe, torch.as_tensor(y_te), classes)
    return Task("npz", data, default_model="cnn2d" if xt.ndim >= 3 else "mlp")


def _read_folder(root: Path) -> tuple[list[str], list[Path], list[int]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files, labels = [], []
    for label, cls in enumerate(classes):
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() in (".png", ".jpg", ".jpeg"):
                files.append(f)
                labels.append(label)
    return classes, files, labels


def load_folder(path: str | os.PathLike[str]) -> Task:
    """An image classification task from ``path/train/<class>/*.png`` and ``path/test/<class>/*.png``.

    Class names are the sorted subfolder names of ``train``; every image must have the same size.
    Images are read with matplotlib (PNG natively; JPEG through Pillow).
    """
    mpimg = require("matplotlib.image", "image-folder tasks", "harness")

    root = Path(path)
    if not root.is_dir():
        fail("load_task", "path", "an existing folder", str(root))
    splits = {}
    for split in ("train", "test"):
        if not (root / split).is_dir():
            fail("load_task", "path", f"a folder with {split}/<class>/ subfolders", str(root))
        splits[split] = _read_folder(root / split)
    classes = splits["train"][0]
    if not splits["train"][1]:
        fail("load_task", "path", "a folder with images in train/<class>/", str(root))
    if splits["test"][0] != classes:
        fail("load_task", "path", f"test/ classes equal to train/ classes {classes}", splits["test"][0])

    def stack(files: list[Path]) -> np.ndarray:
        images = []
        for f in files:
            img = np.asarray(mpimg.imread(f), dtype=np.float64)
            img = img[..., None] if img.ndim == 2 else img
            images.append(np.moveaxis(img, -1, 0))
            if images[-1].shape != images[0].shape:
                fail("load_task", "path", f"images of one size {images[0].shape}", f"{f} of {images[-1].shape}")
        return np.stack(images)

    x_tr, x_te = stack(splits["train"][1]), stack(splits["test"][1])
    if x_te.shape[1:] != x_tr.shape[1:]:
        fail("load_task", "path", f"test images of size {x_tr.shape[1:]}", x_te.shape[1:])
    xt, xe = standardise(x_tr, x_te)
    data = Dataset(root.name, xt, torch.tensor(splits["train"][2]), xe, torch.tensor(splits["test"][2]), len(classes))
    return Task("folder", data, default_model="cnn2d")


def load_task(name: str, *, path: str | os.PathLike[str] | None = None, seed: int = 0) -> Task:
    """Load a task by name.

    Args:
        name: ``mnist1d`` (40-sample signals, 10 classes), ``digits`` (8x8 images, 10 classes),
            ``adding`` (regression over 50 steps), ``copy`` (recall 10 symbols after 20 blanks),
            ``npz`` or ``folder`` (data from ``path``).
        path: the ``.npz`` file or image folder for ``npz`` / ``folder``.
        seed: generator seed of the synthetic tasks (their data does not depend on training seeds).

    Raises:
        ValueError: unknown task, missing or malformed data, or a ``path`` given to a built-in task.
    """
    check_choice("load_task", "name", name, TASKS)
    if name in _PATH_TASKS:
        if path is None:
            fail("load_task", "path", f"given for task {name!r}", None)
        return load_npz(path) if name == "npz" else load_folder(path)
    if path is not None:
        fail("load_task", "path", f"None for the built-in task {name!r}", str(path))
    if name == "adding":
        return make_adding(seed=seed)
    if name == "copy":
        return make_copy(seed=seed)
    data = load_dataset(name)
    if name == "digits":  # flattened 8x8 images: keep them as images so CNNs see the grid
        data = Dataset(
            name, data.x_train.view(-1, 8, 8), data.y_train, data.x_test.view(-1, 8, 8), data.y_test, data.num_classes
        )
        return Task(name, data, default_model="cnn2d")
    return Task(name, data, default_model="mlp")
