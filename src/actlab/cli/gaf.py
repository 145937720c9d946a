"""`actlab bench-optim`: optimizer-step overhead of gradient activation (GAF) vs the bare optimizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from actlab.cli._common import fail, note_untuned_malloc, print_json, print_table


def bench_optim_cmd(
    optimizers: Annotated[list[str], typer.Argument(help="sgd_momentum and/or adam")] = None,  # type: ignore[assignment]
    fn: Annotated[str, typer.Option(help="registered gradient activation")] = "atan",
    variant: Annotated[
        list[str], typer.Option(help="grad / update (the plain wrapper) and/or fused (the fused GAF step); repeatable")
    ] = None,  # type: ignore[assignment]
    min_run_time: Annotated[float, typer.Option(help="seconds of repeats per median")] = 2.0,
    rounds: Annotated[int, typer.Option(help="alternating bare/GAF rounds (the figure is their median)")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a Markdown table")] = False,
) -> None:
    """Median optimizer-step time on ResNet-18-shaped parameters (11.7M), bare vs GradientActivation."""
    import torch

    from actlab.bench.optim import BASELINES, bench_optim

    note_untuned_malloc(as_json)
    try:
        results = bench_optim(
            optimizers or ("sgd_momentum", "adam"),
            fn=fn,
            variants=variant or ("grad", "fused"),
            min_run_time=min_run_time,
            rounds=rounds,
        )
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    if as_json:
        print_json(results)
        return
    cols = (
        "optimizer",
        "fn",
        "GAF variant",
        "GAF ms",
        "bare default ms",
        "bare foreach ms",
        "bare fused ms",
        "vs default",
        "vs foreach",
        "vs fused",
    )
    rows = [
        (
            r.optimizer,
            r.fn,
            r.variant,
            f"{r.gaf_ms:.2f}",
            *(f"{r.bare_ms[k]:.2f}" for k in BASELINES),
            *(f"{100 * r.overhead(k):+.0f}%" for k in BASELINES),
        )
        for r in results
    ]
    header = (
        f"{results[0].numel} parameters (ResNet-18 shapes), "
        f"threads={torch.get_num_threads()}, torch {torch.__version__}"
    )
    print_table(header, cols, rows, markdown=markdown)


COMMANDS: dict[str, Callable[..., Any]] = {"bench-optim": bench_optim_cmd}
