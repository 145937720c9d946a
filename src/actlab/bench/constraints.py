"""Inference time of constraint layers against projecting an unconstrained network's output.

For each case (output dimension ``d``, ``m`` constraints) a random cone ``A z <= 0`` with a
nonempty interior is drawn (Gaussian rows, each flipped so the all-ones direction is strictly
feasible). Four ways to map a batch of features to feasible outputs are timed (medians):

* ``layer``: `ConeLayer` (a Linear to the generator weights, then two matrix products);
* ``admm``: an unconstrained ``nn.Linear`` followed by `project` (batched torch solver);
* ``osqp``: the same Linear followed by the paper's baseline as its official code runs it
  (`OSQPProjector`: one OSQP problem set up once per cone, outside the timing, then per sample
  ``q = -x`` and a warm-started, polished solve at tolerance 1e-6);
* ``cvxpy``: the same Linear followed by `project(..., method="cvxpy")` (OSQP at 1e-6 through
  cvxpy, one fresh solve per sample: cvxpy's per-call overhead included).

The two per-sample solvers are timed on ``cvxpy_samples`` samples (after one warm-up sample)
and scaled to the batch: their per-sample cost does not depend on the batch. The time of the
double description method (``vrep_ms``) and of the OSQP set-up (``osqp_setup_ms``) is recorded
too; both are paid once per cone. Set
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` before Python starts (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from actlab.bench._timing import median_ms
from actlab.constraints import ConeLayer, OSQPProjector, max_violation, project, v_representation
from actlab.core.validation import check_int

__all__ = ["DEFAULT_CASES", "ConstraintTiming", "bench_constraints", "random_cone"]

#: (d, m) pairs whose double description stays fast (m > d explodes combinatorially: d=16,
#: m=32 has ~68k extreme rays and takes ~2 minutes).
#: (784, 16) is the paper's MNIST size (28x28 outputs, 16 checkerboard constraints).
DEFAULT_CASES: tuple[tuple[int, int], ...] = (
    (8, 16),
    (16, 8),
    (16, 16),
    (16, 20),
    (64, 16),
    (64, 64),
    (256, 64),
    (784, 16),
)


@dataclass(frozen=True)
class ConstraintTiming:
    """Median milliseconds per batch of one case, and the speed-ups of the layer."""

    d: int
    m: int
    batch: int
    n_generators: int
    vrep_ms: float
    layer_ms: float
    linear_ms: float
    admm_ms: float
    cvxpy_ms: float
    layer_max_violation: float
    admm_max_violation: float
    osqp_ms: float = float("nan")
    osqp_setup_ms: float = float("nan")
    osqp_max_violation: float = float("nan")

    @property
    def speedup_vs_cvxpy(self) -> float:
        return self.cvxpy_ms / self.layer_ms

    @property
    def speedup_vs_admm(self) -> float:
        return self.admm_ms / self.layer_ms

    @property
    def speedup_vs_osqp(self) -> float:
        """Against the paper's own baseline (OSQP set up once, warm-started per sample)."""
        return self.osqp_ms / self.layer_ms

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "speedup_vs_osqp": self.speedup_vs_osqp,
            "speedup_vs_cvxpy": self.speedup_vs_cvxpy,
            "speedup_vs_admm": self.speedup_vs_admm,
        }


def random_cone(d: int, m: int, seed: int = 0) -> np.ndarray:
    """``(m, d)`` Gaussian rows flipped so that ``A 1 < 0``: a cone with a nonempty interior."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((m, d))
    s = np.sign(G @ np.ones(d))
    s[s == 0] = 1.0
    return -G * s[:, None]


def bench_constraints(
    cases: Sequence[tuple[int, int]] = DEFAULT_CASES,
    *,
    batch: int = 256,
    in_features: int = 64,
    cvxpy_samples: int = 16,
    min_run_time: float = 0.5,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ConstraintTiming]:
    """Time constraint layers against projection baselines, one `ConstraintTiming` per case.

    Args:
        cases: ``(d, m)`` pairs: output dimension and number of constraints.
        batch: samples per batch. in_features: width of the features fed to the last layer.
        cvxpy_samples: samples solved per sample by OSQP and by cvxpy to estimate their
            per-batch times.
        min_run_time: seconds of repeats per median.
        threads: torch threads during the run (restored after); ``None`` keeps the current
            setting. One thread gives stable medians on a shared machine, where a second thread
            waiting on a descheduled partner adds ~20 ms stalls to sub-millisecond ops.
        progress: called with a label before each case.
    """
    owner = "bench_constraints"
    check_int(owner, "batch", batch, ">=", 1)
    check_int(owner, "in_features", in_features, ">=", 1)
    check_int(owner, "cvxpy_samples", cvxpy_samples, ">=", 1)
    if threads is not None:
        check_int(owner, "threads", threads, ">=", 1)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(cases, batch, in_features, cvxpy_samples, min_run_time, progress)
    finally:
        torch.set_num_threads(before)


def _run(cases, batch, in_features, cvxpy_samples, min_run_time, progress) -> list[ConstraintTiming]:
    owner = "bench_constraints"
    out = []
    for d, m in cases:
        check_int(owner, "d", d, ">=", 1)
        check_int(owner, "m", m, ">=", 1)
        if progress:
            progress(f"d={d}, m={m}")
        A = random_cone(d, m)
        reps: list[float] = []
        while len(reps) < 3 and sum(reps) < 5.0:  # one repeat is enough when it takes seconds
            t0 = time.perf_counter()
            v_representation(A)
            reps.append(time.perf_counter() - t0)
        torch.manual_seed(0)
        layer = ConeLayer(in_features, A).eval()
        linear = nn.Linear(in_features, d).eval()
        x = torch.randn(batch, in_features)
        with torch.no_grad():
            layer_ms = median_ms(lambda: layer(x), min_run_time)
            linear_ms = median_ms(lambda: linear(x), min_run_time)
            admm_ms = median_ms(lambda: project(linear(x), A), min_run_time)
            xs = x[:cvxpy_samples]
            OSQPProjector(A[:1], tol=1e-6)  # imports osqp and scipy.sparse outside the timing
            t0 = time.perf_counter()
            osqp = OSQPProjector(A, tol=1e-6)
            osqp_setup_ms = (time.perf_counter() - t0) * 1e3
            osqp(linear(x[-1:]))  # warm-up: the timed samples start warm, as all but the first do
            t0 = time.perf_counter()
            z_osqp = osqp(linear(xs))
            osqp_ms = (time.perf_counter() - t0) * 1e3 * batch / len(xs)
            project(linear(x[-1:]), A, method="cvxpy", tol=1e-6)  # warm-up: imports, first-call costs
            t0 = time.perf_counter()
            project(linear(xs), A, method="cvxpy", tol=1e-6)
            cvxpy_ms = (time.perf_counter() - t0) * 1e3 * batch / len(xs)
            layer_viol = float(max_violation(layer(x), A, relative=True).max())
            admm_viol = float(max_violation(project(linear(x), A), A, relative=True).max())
            osqp_viol = float(max_violation(z_osqp, A, relative=True).max())
        out.append(
            ConstraintTiming(
                d,
                m,
                batch,
                layer.n_generators,
                float(np.median(reps)) * 1e3,
                layer_ms,
                linear_ms,
                admm_ms,
                cvxpy_ms,
                layer_viol,
                admm_viol,
                osqp_ms,
                osqp_setup_ms,
                osqp_viol,
            )
        )
    return out
