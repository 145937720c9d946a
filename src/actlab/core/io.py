"""Atomic file writes: a result file is either the old one or the complete new one, never half."""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from actlab.core.extras import require

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "pyplot", "save_figure"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` in one rename.

    The temporary file sits in the target's directory (same filesystem, so `os.replace` is
    atomic) and keeps the target's suffix, so writers that infer a format from it still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600; give the result the mode an ordinary open() would (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def pyplot(feature: str) -> ModuleType:
    """``matplotlib.pyplot`` on the file-only Agg backend, or an `ImportError` naming ``actlab[plot]``.

    Every figure actlab draws is written to a file, so no display is needed (CI, servers).
    """
    require("matplotlib", feature, "plot").use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``path`` atomically, then release it if pyplot manages it.

    Figures made with ``matplotlib.figure.Figure`` (no pyplot state) have no manager and need
    no closing; pyplot figures would otherwise stay alive in pyplot's registry.
    """
    out = atomic_write(path, lambda p: fig.savefig(p, dpi=dpi))
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return out
