"""Per-activation forward and forward+backward timings against `torch.relu`.

Effective bandwidth counts the bytes an ideal elementwise kernel must move: forward reads
``x`` and writes ``y`` (2 tensors); forward+backward also reads the upstream gradient and one
saved tensor and writes ``grad_x`` (5 tensors). Activations that save more, or compute more
per byte, show a lower figure. Set ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
before Python starts, or fresh outputs measure page faults (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from actlab.bench._timing import median_ms
from actlab.core.registry import create
from actlab.core.validation import check_bound, check_choice, check_finite, check_int

__all__ = ["DTYPES", "OpTiming", "bench_ops", "saved_tensor_bytes"]

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
REFERENCE = "relu"


@dataclass(frozen=True)
class OpTiming:
    """Median timings (milliseconds) of one activation, and ratios to `torch.relu`."""

    name: str
    numel: int
    dtype: str
    compiled: bool
    forward_ms: float
    fwd_bwd_ms: float
    forward_gbps: float
    fwd_bwd_gbps: float
    saved_bytes: int
    forward_ratio: float = float("nan")
    fwd_bwd_ratio: float = float("nan")
    saved_ratio: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def saved_tensor_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward of ``fn(x)`` (unique storages, via saved-tensor hooks)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values())


_WARMUP = 8


def _measure(spec: str, x: torch.Tensor, grad: torch.Tensor, compiled: bool, min_run_time: float) -> OpTiming:
    module = create(spec).to(x.dtype).train()
    fn = torch.compile(module, fullgraph=True) if compiled else module
    xg = x.detach().requires_grad_(True)

    def forward() -> None:
        with torch.no_grad():
            fn(x)

    def fwd_bwd() -> None:
        xg.grad = None
        fn(xg).backward(grad)

    # Several warm-up calls: the first calls of a freshly compiled fused kernel ran 1.2-2x slower
    # here (Inductor's compile workers still busy), which skewed the first entry of a run.
    fwd = median_ms(forward, min_run_time, warmup=_WARMUP)
    both = median_ms(fwd_bwd, min_run_time, warmup=_WARMUP)
    nbytes = x.numel() * x.element_size()
    return OpTiming(
        name=spec,
        numel=x.numel(),
        dtype=str(x.dtype).removeprefix("torch."),
        compiled=compiled,
        forward_ms=fwd,
        fwd_bwd_ms=both,
        forward_gbps=2 * nbytes / fwd / 1e6,
        fwd_bwd_gbps=5 * nbytes / both / 1e6,
        saved_bytes=saved_tensor_bytes(module, xg),
    )


def bench_ops(
    specs: Sequence[str],
    *,
    numel: int = 1 << 24,
    dtype: str = "float32",
    scale: float = 3.0,
    compiled: bool = False,
    min_run_time: float = 1.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[OpTiming]:
    """Time each activation's forward and forward+backward, with ratios to `torch.relu` run alongside.

    Args:
        specs: names or spec strings (``"terelu(mu=2.0)"``).
        numel: elements per input (shape ``(numel // 256, 256)``). Default: 2**24 (16M).
        dtype: ``float32``, ``float64`` or ``bfloat16``.
        scale: standard deviation of the normal inputs. Default: 3 (most of a hard unit's inputs
            saturated; 0.3 leaves them mostly in the linear region, where noisy units skip work).
        compiled: wrap each module in ``torch.compile(fullgraph=True)``.
        min_run_time: seconds of repeats per median.
        progress: called with each spec before it is measured.

    Returns:
        One `OpTiming` per spec (relu first if it was not requested, as the reference).
    """
    check_int("bench_ops", "numel", numel, ">=", 256)
    check_choice("bench_ops", "dtype", dtype, list(DTYPES))
    check_finite("bench_ops", "scale", scale)
    check_bound("bench_ops", "scale", scale, ">", 0)
    for spec in specs:
        create(spec)  # unknown names fail before any timing
    gen = torch.Generator().manual_seed(seed)
    x = (scale * torch.randn(numel // 256, 256, generator=gen)).to(DTYPES[dtype])
    grad = torch.randn(x.shape, generator=gen).to(DTYPES[dtype])
    order = [REFERENCE, *[s for s in specs if s != REFERENCE]]
    results: dict[str, OpTiming] = {}
    for spec in order:
        if progress is not None:
            progress(spec)
        results[spec] = _measure(spec, x, grad, compiled, min_run_time)
    ref = results[REFERENCE]
    return [
        OpTiming(
            **{
                **r.to_dict(),
                "forward_ratio": r.forward_ms / ref.forward_ms,
                "fwd_bwd_ratio": r.fwd_bwd_ms / ref.fwd_bwd_ms,
                "saved_ratio": r.saved_bytes / ref.saved_bytes if ref.saved_bytes else float("nan"),
            }
        )
        for r in results.values()
    ]


def malloc_tuned() -> bool:
    """Whether glibc's mmap/trim thresholds were raised for this process (see module docstring)."""
    return bool(os.environ.get("MALLOC_MMAP_THRESHOLD_")) and bool(os.environ.get("MALLOC_TRIM_THRESHOLD_"))
