"""`actlab` commands. Each one calls an importable library function that returns data."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from actlab.cli import constraints as constraints_cli, gaf as gaf_cli, harness, inspect as inspect_cli
from actlab.cli._common import console, fail, note_untuned_malloc, print_json, print_table

app = typer.Typer(
    name="actlab",
    help="The nonlinear parts of neural networks: list, plot, benchmark and study activations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def list_cmd(
    pattern: Annotated[Optional[str], typer.Argument(help="glob over names, e.g. 'noisy_*'")] = None,
    family: Annotated[Optional[str], typer.Option(help="only this family")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
) -> None:
    """List registered activations: name, family, learnable?, stochastic?, paper."""
    from actlab.core.registry import get_spec, list_activations

    try:
        names = list_activations(pattern, family=family)
    except ValueError as exc:
        raise fail(exc) from None
    rows = [get_spec(n) for n in names]
    if as_json:
        records = [
            {
                "name": s.name,
                "family": s.family,
                "learnable": s.learnable,
                "stochastic": s.stochastic,
                "aliases": list(s.aliases),
                "description": s.description,
                "paper": s.paper,
            }
            for s in rows
        ]
        print_json(records)
        return
    table = Table(title=f"{len(rows)} activations", header_style="bold")
    for col in ("name", "family", "learnable", "stochastic", "description", "paper"):
        table.add_column(col, overflow="fold")
    for s in rows:
        table.add_row(
            s.name, s.family, "yes" if s.learnable else "", "yes" if s.stochastic else "", s.description, s.paper
        )
    console.print(table)


def plot_cmd(
    names: Annotated[Optional[list[str]], typer.Argument(help='names or spec strings, e.g. "terelu(mu=2.0)"')] = None,
    out: Annotated[Path, typer.Option(help="PNG file to write")] = Path("activations.png"),
    xmin: float = -5.0,
    xmax: float = 5.0,
    state_dict: Annotated[
        Optional[Path],
        typer.Option("--state-dict", help="draw the learned activations saved in this model state_dict file"),
    ] = None,
    act: Annotated[
        str, typer.Option(help="with --state-dict: which activation to look for, e.g. slaf, terelu, noisy_hard_tanh")
    ] = "slaf",
    key: Annotated[
        Optional[str], typer.Option(help="with --state-dict: one activation's module prefix, e.g. net.2")
    ] = None,
) -> None:
    """Draw activations and their derivatives on one figure (stochastic: eval curve + noise band)."""
    from actlab.plotting import plot_activations, plot_state_dict_activations

    try:
        if state_dict is not None:
            path = plot_state_dict_activations(state_dict, out, act=act, key=key, xlim=(xmin, xmax))
        elif not names:
            raise ValueError("plot: give activation names or --state-dict FILE")
        else:
            path = plot_activations(names, out, xlim=(xmin, xmax))
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    console.print(f"wrote {path}")


def _fmt_ratio(r: float) -> str:
    return "-" if math.isnan(r) else f"{r:.2f}x"


def bench_ops_cmd(
    names: Annotated[list[str], typer.Argument(help="names or spec strings")],
    numel: Annotated[int, typer.Option(help="elements per input")] = 1 << 24,
    dtype: Annotated[str, typer.Option(help="float32, float64 or bfloat16")] = "float32",
    scale: Annotated[float, typer.Option(help="standard deviation of the normal inputs")] = 3.0,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile(fullgraph=True) each module")] = False,
    min_run_time: Annotated[float, typer.Option(help="seconds of repeats per median")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a Markdown table")] = False,
) -> None:
    """Median forward and forward+backward time, GB/s and saved bytes, as ratios to torch.relu."""
    import torch

    from actlab.bench.ops import bench_ops

    note_untuned_malloc(as_json)
    try:
        if as_json:
            results = bench_ops(
                names, numel=numel, dtype=dtype, scale=scale, compiled=compile, min_run_time=min_run_time
            )
        else:
            with console.status("benchmarking") as status:
                results = bench_ops(
                    names,
                    numel=numel,
                    dtype=dtype,
                    scale=scale,
                    compiled=compile,
                    min_run_time=min_run_time,
                    progress=lambda s: status.update(f"benchmarking {s}"),
                )
    except (ValueError, TypeError) as exc:
        raise fail(exc) from None
    if as_json:
        print_json(results)
        return
    cols = ("activation", "fwd ms", "fwd/relu", "fwd+bwd ms", "fwd+bwd/relu", "fwd+bwd GB/s", "saved MiB", "saved/relu")
    rows = [
        (
            r.name,
            f"{r.forward_ms:.2f}",
            _fmt_ratio(r.forward_ratio),
            f"{r.fwd_bwd_ms:.2f}",
            _fmt_ratio(r.fwd_bwd_ratio),
            f"{r.fwd_bwd_gbps:.1f}",
            f"{r.saved_bytes / 2**20:.1f}",
            _fmt_ratio(r.saved_ratio),
        )
        for r in results
    ]
    header = (
        f"numel={numel}, dtype={dtype}, scale={scale}, compile={compile}, threads={torch.get_num_threads()}, "
        f"torch {torch.__version__}"
    )
    print_table(header, cols, rows, markdown=markdown)


def demo_cmd(
    out_dir: Annotated[Path, typer.Option(help="where the report goes")] = Path("reports/demo"),
) -> None:
    """The main job of `make demo`: a quick `actlab compare` on MNIST-1D; prints the table and the report path."""
    from actlab.cli.harness import run_demo

    run_demo(out_dir)


# One registration style: every command module lists its commands; they are added here, in help order.
COMMANDS: dict[str, Callable[..., Any]] = {
    "list": list_cmd,
    "plot": plot_cmd,
    "bench-ops": bench_ops_cmd,
    "demo": demo_cmd,
}
for commands in (COMMANDS, harness.COMMANDS, inspect_cli.COMMANDS, gaf_cli.COMMANDS, constraints_cli.COMMANDS):
    for name, command in commands.items():
        app.command(name)(command)
