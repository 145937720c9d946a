"""Output helpers shared by every command: one error format, one table format, one JSON form."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "fail", "note_untuned_malloc", "print_json", "print_table"]

# Off a terminal (logs, CI, `make demo | tee`) rich would wrap tables at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 132)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 132)


def fail(exc: Exception) -> typer.Exit:
    """Print ``exc`` as a one-line error and return the exit (code 2) for the caller to raise."""
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def note_untuned_malloc(as_json: bool) -> None:
    """Warn on stderr when a timing command runs without the malloc settings (docs/BENCHMARKS.md)."""
    from actlab.bench.ops import malloc_tuned

    if not (as_json or malloc_tuned()):
        err_console.print(
            "[yellow]note:[/] MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ unset: "
            "timings include page faults (see docs/BENCHMARKS.md)"
        )


def print_json(records: Sequence[Any]) -> None:
    """Print dataclass records (with ``to_dict``) or plain dicts as one JSON list, nothing else."""
    typer.echo(json.dumps([r.to_dict() if hasattr(r, "to_dict") else r for r in records], indent=2))


def print_table(header: str, cols: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False) -> None:
    """A Markdown table (for docs/BENCHMARKS.md) or a rich table; the first column is left-aligned."""
    if markdown:
        typer.echo(header + "\n")
        typer.echo("| " + " | ".join(cols) + " |")
        typer.echo("|" + "---|" * len(cols))
        for row in rows:
            typer.echo("| " + " | ".join(row) + " |")
        return
    table = Table(title=header, header_style="bold")
    for i, col in enumerate(cols):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
