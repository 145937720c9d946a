"""Run a training cell with DistributedDataParallel in several processes, through torchrun.

`run_distributed` writes the cell's spec to JSON and starts
``python -m torch.distributed.run --standalone --nproc_per_node=N -m actlab.harness.distributed SPEC``;
each rank joins the process group (gloo on CPU, nccl on GPU), trains its shard of every global
batch (`actlab.training.train`) and rank 0 writes the checkpoint and the result. Several
machines: see docs/harness.md (torchrun's ``--nnodes``/``--rdzv-endpoint`` flags, same module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from actlab.core.io import atomic_write_json
from actlab.harness.cell import CellSpec, train_cell

__all__ = ["main", "run_distributed", "torchrun_command"]


def torchrun_command(spec_path: str | os.PathLike[str], nproc: int) -> list[str]:
    """The single-machine torchrun command line for a cell spec file."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "actlab.harness.distributed",
        str(spec_path),
    ]


def run_distributed(cell: CellSpec) -> Path:
    """Run ``cell`` (a `CellSpec`) in ``cell.nproc`` processes; return its ``result.json``.

    Raises:
        RuntimeError: torchrun exited with an error (its output is in the message).
    """
    cell_dir = Path(cell.dir)
    spec_path = atomic_write_json(cell_dir / "cell.json", cell.to_dict())
    # One thread per rank: ranks share the machine's cores, and oversubscription slows every rank.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(torchrun_command(spec_path, cell.nproc), env=env, capture_output=True, text=True)
    done = cell_dir / "result.json"
    if proc.returncode != 0 or not done.exists():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"run_distributed: torchrun failed with exit code {proc.returncode} for {cell_dir}:\n{tail}")
    return done


def main(argv: list[str] | None = None) -> None:
    """A torchrun worker: join the process group, run the cell, leave."""
    import torch.distributed as dist

    args = sys.argv[1:] if argv is None else argv
    torch.set_num_threads(1)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    try:
        cell = CellSpec.from_dict(json.loads(Path(args[0]).read_text()))
        train_cell(cell)
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
