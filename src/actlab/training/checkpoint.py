"""Checkpoints of a training run: everything the next epoch depends on, written atomically."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist

from actlab.core.io import atomic_write
from actlab.core.validation import fail

__all__ = ["CKPT_VERSION", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]

CKPT_VERSION = 2


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    """The torch, numpy and python RNG states and the data-order generator's."""
    # numpy's stub picks its dict overload here, but `legacy` defaults to True: the tuple.
    state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    kind, keys, pos, has_gauss, cached = state
    # numpy's array becomes a tensor so the checkpoint loads with torch.load(weights_only=True).
    return {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
        "data": gen.get_state(),
    }


def set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    gen.set_state(state["data"])


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by `actlab.training.train` (tensors and plain Python values only).

    Raises:
        ValueError: the file is empty, truncated or not a checkpoint (it names the file; delete it
            to start that run afresh).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, OSError, RuntimeError, pickle.UnpicklingError, ValueError) as exc:
        fail(
            "load_checkpoint",
            "path",
            "a complete checkpoint (delete it to start afresh)",
            f"{path} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'empty or truncated'})",
        )
    if not isinstance(state, dict):
        fail("load_checkpoint", "path", "a checkpoint written by actlab.training.train", str(path))
    return state


def save_checkpoint(path: Path, state: dict[str, Any], gen: torch.Generator, rank: int, world: int) -> None:
    """Write ``state`` plus every rank's RNG states (collective under DDP; only rank 0 writes)."""
    rng = [rng_state(gen)]
    if world > 1:  # every rank's noise stream, so a resumed DDP run continues each one
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, rng[0])
        rng = gathered
    if rank != 0:
        return
    full = {"version": CKPT_VERSION, **state, "rng": rng}
    atomic_write(path, lambda p: torch.save(full, p))
