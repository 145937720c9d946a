r"""Activation monitors: saturation, activation statistics and gradient norms per layer.

A `Monitor` hooks the activation modules of a model while attached (``with monitor:`` or
`attach` / `detach`). With no hooks attached it costs nothing; while attached it keeps running
sums per layer (a few floats each, never tensors), so memory is bounded by the layer count.

Per layer and per aggregation period (an epoch, typically):

- ``saturation``: fraction of units whose pre-activation lies in the activation's saturated
  regime. The regime comes from the registry entry of the module's class
  (`ActivationSpec.saturation`); for a class without a declared mask the default is
  derivative-based: :math:`|f'(x)| < 10^{-2}` (the ``derivative_threshold``), computed with
  autograd on a copy of the input, with the RNG state restored afterwards so stochastic
  activations draw the same noise as without the monitor.
- ``mean``, ``std``, ``frac_zero``: statistics of the activation's output.
- ``grad_norm``: mean over backward passes of the L2 norm of the loss gradient with respect to
  the activation's output (the signal that flows back through the layer).

`Monitor.logger` gives a ``(epoch, model, record)`` callback for
`actlab.training.train` that writes one row per layer to a CSV file (rewritten
atomically each epoch) and/or TensorBoard, then resets the sums.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actlab.core.io import atomic_write_text
from actlab.core.registry import spec_of
from actlab.core.validation import check_bound, check_type, fail

__all__ = ["CSV_COLUMNS", "LayerStats", "Monitor", "default_saturation", "saturation_mask"]

CSV_COLUMNS = ("epoch", "layer", "activation", "saturation", "mean", "std", "frac_zero", "grad_norm")


@dataclass(frozen=True)
class LayerStats:
    """Aggregates for one activation layer over one period (NaN where nothing was seen)."""

    layer: str
    activation: str
    saturation: float
    mean: float
    std: float
    frac_zero: float
    grad_norm: float
    elements: int
    backward_passes: int


def default_saturation(module: nn.Module, x: Tensor, threshold: float = 1e-2) -> Tensor:
    """Mask of ``x`` where ``|d module(x) / dx| < threshold`` (elementwise activations).

    Runs the module once more on a detached copy under `torch.random.fork_rng`, so random
    activations leave the global RNG as it was.
    """
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        xx = x.detach().clone().requires_grad_(True)
        # `forward`, not `__call__`: this runs inside the monitor's own forward hook. The clone
        # keeps an in-place activation off the leaf.
        (grad,) = torch.autograd.grad(module.forward(xx.clone()).sum(), xx)
    return grad.abs() < threshold


def saturation_mask(module: nn.Module, x: Tensor, threshold: float = 1e-2) -> Tensor:
    """The saturated units of ``x`` for ``module``: the registry's declared mask or the default.

    Examples:
        >>> saturation_mask(nn.ReLU(), torch.tensor([-1.0, 0.0, 2.0]))
        tensor([ True,  True, False])
        >>> saturation_mask(nn.Tanh(), torch.tensor([0.0, 4.0]))  # tanh'(4) = 1.3e-3
        tensor([False,  True])
    """
    spec = spec_of(module)
    if spec is not None and spec.saturation is not None:
        return spec.saturation(x)
    return default_saturation(module, x, threshold)


class _Running:
    __slots__ = ("n", "sat", "s1", "s2", "zeros", "g", "gn")

    def __init__(self) -> None:
        self.n = self.sat = self.zeros = self.gn = 0
        self.s1 = self.s2 = self.g = 0.0


class Monitor:
    """Hooks that aggregate saturation, statistics and gradient norms per activation layer.

    Args:
        model: the model to watch.
        layers: which modules: ``None`` (default) for every module whose class is a registered
            activation (except `nn.Identity`), a list of qualified names, or a predicate
            ``(qualname, module) -> bool``.
        train_only: record only forward passes in training mode, so an evaluation pass (e.g.
            the test-set evaluation in `train`) does not mix in. Default: ``True``.
        every: record one forward/backward pass in ``every`` (bounds the cost when attached).
            Default: 1.
        derivative_threshold: ``|f'| <`` this counts as saturated for activations without a
            declared mask, > 0. Default: 1e-2.

    Examples:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        >>> with Monitor(net) as mon:
        ...     net(torch.randn(8, 3)).sum().backward()
        >>> [s.layer for s in mon.stats()], mon.stats()[0].backward_passes
        (['1'], 1)
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] | Callable[[str, nn.Module], bool] | None = None,
        *,
        train_only: bool = True,
        every: int = 1,
        derivative_threshold: float = 1e-2,
    ) -> None:
        check_type("Monitor", "model", model, nn.Module)
        check_type("Monitor", "every", every, int)
        check_bound("Monitor", "every", every, ">=", 1)
        check_bound("Monitor", "derivative_threshold", derivative_threshold, ">", 0)
        named = dict(model.named_modules())
        if layers is None:
            chosen = [n for n, m in named.items() if spec_of(m) is not None and not isinstance(m, nn.Identity)]
        elif callable(layers):
            chosen = [n for n, m in named.items() if layers(n, m)]
        else:
            missing = [n for n in layers if n not in named]
            if missing:
                fail("Monitor", "layers", "names of modules of `model`", missing)
            chosen = list(layers)
        if not chosen:
            fail("Monitor", "model", "a model with at least one activation module to watch", type(model).__name__)
        self.modules = {n: named[n] for n in chosen}
        self.train_only = train_only
        self.every = every
        self.derivative_threshold = derivative_threshold
        self._sums = {n: _Running() for n in self.modules}
        self._calls = dict.fromkeys(self.modules, 0)
        self._handles: list[Any] = []

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> Monitor:
        """Register the forward hooks (idempotent); returns ``self``."""
        if not self._handles:
            self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self.modules.items()]
        return self

    def detach(self) -> None:
        """Remove every hook; the running sums are kept until `reset`."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def reset(self) -> None:
        """Start a new aggregation period."""
        self._sums = {n: _Running() for n in self.modules}

    def _hook(self, name: str) -> Callable[[nn.Module, tuple[Any, ...], Tensor], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
            if (self.train_only and not module.training) or not isinstance(out, Tensor):
                return
            self._calls[name] += 1
            if (self._calls[name] - 1) % self.every:
                return
            acc = self._sums[name]
            x = args[0]
            with torch.no_grad():
                # An in-place activation has overwritten its input, so only the output is left;
                # for ReLU, ReLU6, Hardtanh and LeakyReLU the mask of the output equals the
                # mask of the input (a documented approximation for other in-place kinds).
                mask = saturation_mask(module, out if x is out else x, self.derivative_threshold)
                acc.n += out.numel()
                acc.sat += int(mask.sum())
                acc.s1 += float(out.sum(dtype=torch.float64))
                acc.s2 += float(torch.linalg.vector_norm(out, dtype=torch.float64)) ** 2
                acc.zeros += int((out == 0).sum())
            if out.requires_grad:
                out.register_hook(self._grad_hook(acc))

        return hook

    @staticmethod
    def _grad_hook(acc: _Running) -> Callable[[Tensor], None]:
        def grad_hook(grad: Tensor) -> None:
            acc.g += float(torch.linalg.vector_norm(grad.detach(), dtype=torch.float64))
            acc.gn += 1

        return grad_hook

    def stats(self) -> list[LayerStats]:
        """The aggregates of the current period, one entry per watched layer."""
        rows = []
        for name, module in self.modules.items():
            acc = self._sums[name]
            nan = float("nan")
            mean = acc.s1 / acc.n if acc.n else nan
            var = max(acc.s2 / acc.n - mean * mean, 0.0) if acc.n else nan
            rows.append(
                LayerStats(
                    layer=name,
                    activation=type(module).__name__,
                    saturation=acc.sat / acc.n if acc.n else nan,
                    mean=mean,
                    std=math.sqrt(var),
                    frac_zero=acc.zeros / acc.n if acc.n else nan,
                    grad_norm=acc.g / acc.gn if acc.gn else nan,
                    elements=acc.n,
                    backward_passes=acc.gn,
                )
            )
        return rows

    def logger(
        self, csv_path: str | os.PathLike[str] | None = None, writer: Any = None
    ) -> Callable[[int, nn.Module, dict[str, float]], None]:
        """A ``(epoch, model, record)`` callback that logs this period and calls `reset`.

        Args:
            csv_path: CSV file with columns `CSV_COLUMNS`, one row per (epoch, layer); the whole
                file is rewritten atomically each epoch (existing rows of earlier epochs kept).
            writer: a `torch.utils.tensorboard.SummaryWriter` (or anything with
                ``add_scalar(tag, value, step)``); tags are ``<metric>/<layer>``.
        """
        if csv_path is None and writer is None:
            fail("Monitor.logger", "csv_path, writer", "at least one given", None)
        path = Path(csv_path) if csv_path is not None else None
        rows: list[dict[str, Any]] = []
        if path is not None and path.exists():
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))

        def log(epoch: int, model: nn.Module, record: dict[str, float]) -> None:
            for s in self.stats():
                row = {"epoch": epoch, **{k: v for k, v in asdict(s).items() if k in CSV_COLUMNS}}
                rows.append(row)
                if writer is not None:
                    for metric in ("saturation", "mean", "std", "frac_zero", "grad_norm"):
                        writer.add_scalar(f"{metric}/{s.layer}", row[metric], epoch)
            if path is not None:
                buf = io.StringIO()
                out = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
                out.writeheader()
                out.writerows(rows)
                atomic_write_text(path, buf.getvalue())
            self.reset()

        return log
