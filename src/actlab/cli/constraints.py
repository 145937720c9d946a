"""`actlab bench-constraints`: constraint layers vs projecting an unconstrained network's output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from actlab.cli._common import fail, note_untuned_malloc, print_json, print_table


def _parse_case(text: str) -> tuple[int, int]:
    try:
        d, m = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"`case` must be DxM such as 16x8, got {text!r}") from None
    return d, m


def bench_constraints_cmd(
    cases: Annotated[list[str], typer.Argument(help="DxM cases (output dim x constraints), e.g. 16x8 64x64")] = None,  # type: ignore[assignment]
    batch: Annotated[int, typer.Option(help="samples per batch")] = 256,
    cvxpy_samples: Annotated[
        int, typer.Option(help="samples solved per sample by OSQP and cvxpy to estimate their batch times")
    ] = 16,
    min_run_time: Annotated[float, typer.Option(help="seconds of repeats per median")] = 0.5,
    threads: Annotated[Optional[int], typer.Option(help="torch threads (1 is stable on a shared machine)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a Markdown table")] = False,
) -> None:
    """Median inference ms per batch: ConeLayer vs Linear + projection (batched ADMM, warm OSQP, cvxpy)."""
    import torch

    from actlab.bench.constraints import DEFAULT_CASES, bench_constraints

    note_untuned_malloc(as_json)
    parsed = [_parse_case(c) for c in cases] if cases else list(DEFAULT_CASES)
    try:
        results = bench_constraints(
            parsed, batch=batch, cvxpy_samples=cvxpy_samples, min_run_time=min_run_time, threads=threads
        )
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    if as_json:
        print_json(results)
        return
    cols = (
        "d",
        "m",
        "generators",
        "V-rep ms",
        "layer ms",
        "Linear ms",
        "Linear+ADMM ms",
        "Linear+OSQP ms",
        "OSQP setup ms",
        "Linear+cvxpy ms",
        "vs OSQP",
        "vs cvxpy",
        "vs ADMM",
        "layer viol (rel)",
    )
    rows = [
        (
            str(r.d),
            str(r.m),
            str(r.n_generators),
            f"{r.vrep_ms:.1f}",
            f"{r.layer_ms:.3f}",
            f"{r.linear_ms:.3f}",
            f"{r.admm_ms:.2f}",
            f"{r.osqp_ms:.1f}",
            f"{r.osqp_setup_ms:.1f}",
            f"{r.cvxpy_ms:.0f}",
            f"{r.speedup_vs_osqp:.0f}x",
            f"{r.speedup_vs_cvxpy:.0f}x",
            f"{r.speedup_vs_admm:.0f}x",
            f"{r.layer_max_violation:.1e}",
        )
        for r in results
    ]
    header = f"batch={batch}, float32, threads={threads or torch.get_num_threads()}, torch {torch.__version__}"
    print_table(header, cols, rows, markdown=markdown)


COMMANDS: dict[str, Callable[..., Any]] = {"bench-constraints": bench_constraints_cmd}
