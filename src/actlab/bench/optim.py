"""Optimizer-step overhead of `GradientActivation` against the bare optimizer.

The parameter set has the shapes of a ResNet-18 (11.7M parameters, 62 tensors) built as plain
tensors with fixed random gradients, so only the optimizer step is timed. Each GAF variant (the
plain wrapper with ``grad``/``update`` placement around a ``foreach=True`` inner optimizer, and
the fused GAF step) is compared with the bare optimizer in all three CPU kernel modes: the
default per-tensor loop, ``foreach=True`` and ``fused=True`` (the fastest). Set ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` before Python
starts (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from actlab.bench._timing import median_ms
from actlab.core.validation import check_bound, check_choice, check_int
from actlab.gaf import GradientActivation
from actlab.gaf.functions import resolve
from actlab.gaf.wrapper import PLACEMENTS

__all__ = ["BASELINES", "OPTIMIZERS", "VARIANTS", "StepTiming", "bench_optim", "resnet18_shapes"]

# Warm-up steps: state allocation, compilation of the fused step, and the first ~8 foreach-Adam
# steps on CPU, which were 25x slower than later ones here with gradients of magnitude 1e-2.
_WARMUP = 10

#: The bare optimizer's CPU kernel modes: PyTorch's default (a per-tensor loop on CPU),
#: ``foreach=True`` and ``fused=True``.
BASELINES = ("default", "foreach", "fused")
_MODE: dict[str, dict[str, Any]] = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}

#: ``name -> factory(params, mode)``, ``mode`` one of `BASELINES`.
OPTIMIZERS: dict[str, Callable[[list[torch.Tensor], str], torch.optim.Optimizer]] = {
    "sgd_momentum": lambda ps, k: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4, **_MODE[k]),
    "adam": lambda ps, k: torch.optim.Adam(ps, lr=1e-3, **_MODE[k]),
}

#: GAF variants: the two placements of the plain wrapper, and the fused step.
VARIANTS = (*PLACEMENTS, "fused")


def resnet18_shapes(num_classes: int = 1000) -> list[tuple[int, ...]]:
    """Parameter shapes of torchvision's ResNet-18 (conv weights, batch-norm weight/bias, fc)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            shapes += [(cout, cin, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
            cin = cout
    return shapes + [(num_classes, 512), (num_classes,)]


@dataclass(frozen=True)
class StepTiming:
    """Median step time (ms) of one GAF variant and of the bare optimizer in each kernel mode.

    ``bare_ms`` maps ``default`` (PyTorch's CPU default: a per-tensor loop), ``foreach`` and
    ``fused`` (``fused=True``, the fastest bare CPU step) to their medians.
    """

    optimizer: str
    fn: str
    variant: str
    numel: int
    gaf_ms: float
    bare_ms: dict[str, float]

    def overhead(self, baseline: str = "fused") -> float:
        """``gaf_ms / bare_ms[baseline] - 1``."""
        return self.gaf_ms / self.bare_ms[baseline] - 1.0

    def to_dict(self) -> dict:
        return {**asdict(self), "overhead": {k: self.overhead(k) for k in self.bare_ms}}


def bench_optim(
    optimizers: Sequence[str] = ("sgd_momentum", "adam"),
    *,
    fn: str = "atan",
    variants: Sequence[str] = ("grad", "fused"),
    min_run_time: float = 2.0,
    seed: int = 0,
    shapes: Sequence[tuple[int, ...]] | None = None,
    rounds: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[StepTiming]:
    """Time ``opt.step()`` bare and wrapped in `GradientActivation` on ResNet-18-shaped parameters.

    The bare optimizer runs in its three CPU kernel modes (``default``, ``foreach``, ``fused``).
    Bare and wrapped runs alternate for ``rounds`` rounds and each figure is the median over
    rounds, so that load from other processes (and first-touch effects) affect both alike.

    Args:
        optimizers: keys of `OPTIMIZERS`.
        fn: the gradient activation (a registered name).
        variants: ``grad`` and/or ``update`` (the plain wrapper around a ``foreach=True`` inner
            optimizer) and/or ``fused`` (the fused GAF step).
        min_run_time: seconds of repeats per median.
        seed: seeds the parameters and gradients.
        shapes: parameter shapes (default `resnet18_shapes`).
        rounds: alternating bare/wrapped rounds.
    """
    for name in optimizers:
        check_choice("bench_optim", "optimizers", name, list(OPTIMIZERS))
    check_bound("bench_optim", "min_run_time", min_run_time, ">", 0)
    check_int("bench_optim", "rounds", rounds, ">=", 1)
    resolve("bench_optim", fn, None, None)  # fail before minutes of timing, not after
    for variant in variants:
        check_choice("bench_optim", "variants", variant, VARIANTS)
    gen = torch.Generator().manual_seed(seed)
    shapes = resnet18_shapes() if shapes is None else list(shapes)
    results = []
    for name in optimizers:
        params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
        grads = [torch.randn(s, generator=gen) * 1e-2 for s in shapes]
        numel = sum(p.numel() for p in params)

        def run(opt: torch.optim.Optimizer) -> Callable[[], None]:
            for p, g in zip(params, grads):
                p.grad = g.clone()
            return opt.step

        bare = {k: OPTIMIZERS[name](params, k) for k in BASELINES}
        wrapped = {
            v: GradientActivation(
                OPTIMIZERS[name](params, "foreach"), fn, fused=v == "fused", placement="grad" if v == "fused" else v
            )
            for v in variants
        }
        times: dict[str, list[float]] = {
            f"{kind} {key}": [] for kind, d in (("bare", bare), ("gaf", wrapped)) for key in d
        }
        for r in range(rounds):
            if progress:
                progress(f"{name} round {r + 1}/{rounds}")
            for kind, d in (("bare", bare), ("gaf", wrapped)):
                for key, opt in d.items():
                    times[f"{kind} {key}"].append(median_ms(run(opt), min_run_time, warmup=_WARMUP))
        bare_ms = {k: statistics.median(times[f"bare {k}"]) for k in BASELINES}
        results += [StepTiming(name, fn, v, numel, statistics.median(times[f"gaf {v}"]), bare_ms) for v in variants]
    return results
