"""Per-run caching for experiments: a finished run is read back, an interrupted one resumes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab.core.io import atomic_write_json

__all__ = ["resumable"]


def resumable(
    out_dir: Path, task: str, arm: str, seed: int, cfg: dict[str, Any], fn: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """``fn(arm, seed, checkpoint=..., **cfg)``, or its saved result from an earlier run with the same configuration.

    A run in progress checkpoints every epoch to a file named by its configuration, so an
    interrupted run resumes where it stopped and a changed one starts afresh.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", arm.lower()).strip("-")
    path = out_dir / "runs" / f"{task}-{slug}-seed{seed}.json"
    key = {"task": task, "arm": arm, "seed": seed, "config": cfg}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["result"]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    checkpoint = path.with_name(f"{path.stem}-{digest}.pt")
    result = fn(arm, seed, checkpoint=checkpoint, **cfg)
    atomic_write_json(path, {"key": key, "result": result})
    checkpoint.unlink(missing_ok=True)
    return result
