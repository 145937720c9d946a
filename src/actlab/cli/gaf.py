"""`actlab bench-optim`: optimizer-step overhead of gradient activation (GAF) vs the bare optimizer."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def bench_optim_cmd(
    optimizers: Annotated[list[str], typer.Argument(help="sgd_momentum and/or adam")] = None,  # type: ignore[assignment]
    fn: Annotated[str, typer.Option(help="registered gradient activation")] = "atan",
    placement: Annotated[list[str], typer.Option(help="grad and/or update (repeatable)")] = None,  # type: ignore[assignment]
    min_run_time: Annotated[float, typer.Option(help="seconds of repeats per median")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a Markdown table")] = False,
) -> None:
    """Median optimizer-step time on ResNet-18-shaped parameters (11.7M), bare vs GradientActivation."""
    import torch

    from actlab.bench.ops import malloc_tuned
    from actlab.bench.optim import bench_optim

    if not (as_json or malloc_tuned()):
        err_console.print("[yellow]note:[/] MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ unset: "
                          "timings include page faults (see docs/BENCHMARKS.md)")
    try:
        results = bench_optim(optimizers or ("sgd_momentum", "adam"), fn=fn, placements=placement or ("grad",),
                              min_run_time=min_run_time)
    except (ValueError, TypeError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    cols = ("optimizer", "fn", "placement", "bare ms", "GAF ms", "overhead")
    rows = [(r.optimizer, r.fn, r.placement, f"{r.bare_ms:.1f}", f"{r.gaf_ms:.1f}", f"{100 * r.overhead:+.0f}%")
            for r in results]
    header = (f"{results[0].numel} parameters (ResNet-18 shapes), foreach=True, "
              f"threads={torch.get_num_threads()}, torch {torch.__version__}")
    if markdown:
        typer.echo(header + "\n")
        typer.echo("| " + " | ".join(cols) + " |")
        typer.echo("|" + "---|" * len(cols))
        for row in rows:
            typer.echo("| " + " | ".join(row) + " |")
        return
    table = Table(title=header, header_style="bold")
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("bench-optim")(bench_optim_cmd)
