"""The `actlab` command line (typer + rich, from the ``cli`` extra).

`main` is the console script: a command that needs an extra which is not installed (the CLI's
own typer and rich, matplotlib for ``plot``, the harness for ``compare``) ends with one line that
names the extra to install, not a traceback.
"""

from __future__ import annotations

import sys

from actlab.core.extras import MissingExtraError, require

__all__ = ["main"]


def main() -> None:
    """Run the ``actlab`` command line."""
    try:
        require("typer", "the actlab command line", "cli")
        require("rich", "the actlab command line", "cli")
        from actlab.cli.main import app

        app()
    except MissingExtraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
