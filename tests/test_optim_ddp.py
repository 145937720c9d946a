"""GradientActivation under DistributedDataParallel: g acts after the all-reduce.

Two gloo processes on 127.0.0.1 each train on half of every batch; both must end with identical
parameters, equal to one process training on the whole batch (activating a rank's local
gradient before averaging would give a different result, since g is nonlinear).
"""

from __future__ import annotations

import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from actlab.gaf import GradientActivation

STEPS, BATCH = 4, 8


def _setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(BATCH, 5, generator=g) * 3, torch.randint(0, 3, (BATCH,), generator=g)) for _ in range(STEPS)]
    return model, data


def _make_opt(params):
    return GradientActivation(
        torch.optim.SGD(params, lr=0.2, momentum=0.9, weight_decay=1e-3), "atan", alpha=0.1, beta=20.0
    )


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model, data = _setup()
        ddp = nn.parallel.DistributedDataParallel(model)
        opt = _make_opt(ddp.parameters())
        half = BATCH // 2
        for x, y in data:
            opt.zero_grad()
            nn.functional.cross_entropy(
                ddp(x[rank * half : (rank + 1) * half]), y[rank * half : (rank + 1) * half]
            ).backward()
            opt.step()
        torch.save([p.detach() for p in model.parameters()], Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_ranks_match_a_single_process_on_the_combined_batch(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(a, b) for a, b in zip(rank0, rank1))

    model, data = _setup()
    opt = _make_opt(model.parameters())
    for x, y in data:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    for a, b in zip(rank0, model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-6)
    # The check has teeth: activating each half's gradient before averaging ends elsewhere.
    model2, _ = _setup()
    sgd = torch.optim.SGD(model2.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    for x, y in data:
        grads = []
        for half in (slice(0, BATCH // 2), slice(BATCH // 2, BATCH)):
            model2.zero_grad()
            nn.functional.cross_entropy(model2(x[half]), y[half]).backward()
            grads.append([0.1 * torch.atan(20.0 * p.grad) for p in model2.parameters()])
        for p, g0, g1 in zip(model2.parameters(), *grads):
            p.grad = (g0 + g1) / 2
        sgd.step()
    assert not torch.allclose(rank0[0], model2[0].weight.detach(), rtol=1e-3, atol=1e-4)
