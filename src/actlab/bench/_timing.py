"""The one timing primitive of the benchmark commands: a median from `torch.utils.benchmark`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils import benchmark

__all__ = ["median_ms"]


def median_ms(stmt: Callable[[], object], min_run_time: float, *, warmup: int = 1) -> float:
    """Median milliseconds of ``stmt()`` over ``blocked_autorange`` blocks, after ``warmup`` calls.

    The warm-up absorbs compilation, lazy state allocation and first-call effects; timings run
    with the process's current thread count.
    """
    for _ in range(warmup):
        stmt()
    timer = benchmark.Timer(stmt="stmt()", globals={"stmt": stmt}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3
