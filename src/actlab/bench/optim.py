"""Optimizer-step overhead of `GradientActivation` against the bare optimizer.

The parameter set has the shapes of a ResNet-18 (11.7M parameters, 62 tensors) built as plain
tensors with fixed random gradients, so only the optimizer step is timed. Baselines use
``foreach=True`` inner optimizers. Set ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
before Python starts (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from actlab._validation import check_bound, check_choice, check_int
from actlab.bench._timing import median_ms
from actlab.optim import GradientActivation
from actlab.optim.functions import resolve
from actlab.optim.wrapper import PLACEMENTS

__all__ = ["OPTIMIZERS", "StepTiming", "bench_optim", "resnet18_shapes"]

# Warm-up steps: state allocation, and the first ~8 foreach-Adam steps on CPU, which were 25x
# slower than later ones here with gradients of magnitude 1e-2 (not with 0.3).
_WARMUP = 10

OPTIMIZERS: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True),
}


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
    """Median step time (ms) of the bare and the wrapped optimizer, and the relative overhead."""

    optimizer: str
    fn: str
    placement: str
    numel: int
    bare_ms: float
    gaf_ms: float

    @property
    def overhead(self) -> float:
        return self.gaf_ms / self.bare_ms - 1.0

    def to_dict(self) -> dict:
        return {**asdict(self), "overhead": self.overhead}


def bench_optim(optimizers: Sequence[str] = ("sgd_momentum", "adam"), *, fn: str = "atan",
                placements: Sequence[str] = ("grad",), min_run_time: float = 2.0, seed: int = 0,
                shapes: Sequence[tuple[int, ...]] | None = None, rounds: int = 3,
                progress: Callable[[str], None] | None = None) -> list[StepTiming]:
    """Time ``opt.step()`` bare and wrapped in `GradientActivation` on ResNet-18-shaped parameters.

    Bare and wrapped runs alternate for ``rounds`` rounds and each figure is the median over
    rounds, so that load from other processes (and first-touch effects) affect both alike.

    Args:
        optimizers: keys of `OPTIMIZERS`.
        fn: the gradient activation (a registered name).
        placements: ``grad`` and/or ``update``.
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
    for placement in placements:
        check_choice("bench_optim", "placements", placement, PLACEMENTS)
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

        bare_opt = OPTIMIZERS[name](params)
        wrapped = {pl: GradientActivation(OPTIMIZERS[name](params), fn, placement=pl) for pl in placements}
        times: dict[str, list[float]] = {"bare": [], **{pl: [] for pl in placements}}
        for r in range(rounds):
            if progress:
                progress(f"{name} round {r + 1}/{rounds}")
            times["bare"].append(median_ms(run(bare_opt), min_run_time, warmup=_WARMUP))
            for pl in placements:
                times[pl].append(median_ms(run(wrapped[pl]), min_run_time, warmup=_WARMUP))
        bare = statistics.median(times["bare"])
        results += [StepTiming(name, fn, pl, numel, bare, statistics.median(times[pl])) for pl in placements]
    return results
