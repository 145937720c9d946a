"""`actlab inspect RUN_DIR`: plots of a run folder (saturation, gradient flow, activation shapes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from actlab.cli._common import console, err_console, fail


def inspect_cmd(
    run_dir: Annotated[Path, typer.Argument(help="run folder with monitor.csv and/or config.json + model_*.pt")],
    out: Annotated[Optional[Path], typer.Option(help="where the PNGs go (default: RUN_DIR)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
) -> None:
    """Plot saturation over epochs, gradient flow and activation shapes from a run folder.

    Reads what is present (see docs/inspect.md for the files) and says what is missing; exits
    with 2 when nothing could be plotted.
    """
    from actlab.inspect.plots import inspect_run

    try:
        report = inspect_run(run_dir, out)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps({"written": [str(p) for p in report.written], "missing": report.missing}, indent=2))
    else:
        for path in report.written:
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)
        for line in report.missing:
            err_console.print(f"[yellow]not plotted:[/] {line}", highlight=False, soft_wrap=True)
    if not report.written:
        raise typer.Exit(code=2)


COMMANDS: dict[str, Callable[..., Any]] = {"inspect": inspect_cmd}
