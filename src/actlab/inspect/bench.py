"""Monitor overhead on an MNIST-1D epoch: ``python -m actlab.inspect.bench``.

Times one training epoch (4000 samples, batch 128, an MLP 40-256-256-256-10 with the given
activation) in four interleaved configurations: no monitor, a monitor created and detached
(off), attached recording every pass, attached recording every 10th pass. Prints medians and
ratios to the no-monitor time. Timings are for the record only, never for pass/fail.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from actlab.core.registry import create
from actlab.data import load_dataset
from actlab.inspect.monitors import Monitor
from actlab.training import TrainConfig, train

__all__ = ["bench_monitor_overhead"]


def _mlp(act: str) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(40, 256),
        create(act),
        nn.Linear(256, 256),
        create(act),
        nn.Linear(256, 256),
        create(act),
        nn.Linear(256, 10),
    )


def bench_monitor_overhead(act: str = "relu", repeats: int = 7) -> dict[str, list[float]]:
    """Training seconds per epoch for each configuration (interleaved ``repeats`` times, order rotated)."""
    data = load_dataset("mnist1d")
    net = _mlp(act)
    off = Monitor(net)
    off.attach()
    off.detach()  # created, attached once, detached: the "off" path
    configs = {
        "none": lambda: None,
        "off": lambda: None,
        "on": lambda: Monitor(net).attach(),
        "on_every10": lambda: Monitor(net, every=10).attach(),
    }
    times: dict[str, list[float]] = {k: [] for k in configs}
    train(net, data, TrainConfig(epochs=1))  # warm-up
    names = list(configs)
    for rep in range(repeats):
        # Rotate the order each repeat so no configuration always runs first or last.
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            make = configs[name]
            mon = make()
            if name in ("none", "off"):
                assert not any(m._forward_hooks for m in net.modules())  # truly hook-free
            record = train(net, data, TrainConfig(epochs=1)).history[-1]
            if mon is not None:
                mon.detach()
            times[name].append(record["seconds"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--act", default="relu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    times = bench_monitor_overhead(args.act, args.repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    print(
        f"act={args.act}, threads={torch.get_num_threads()}, torch {torch.__version__}, "
        f"{args.repeats} epochs per configuration"
    )
    print("| configuration | median s/epoch | median / none | min s/epoch | min / none |")
    print("|---|---|---|---|---|")
    for name in times:
        print(
            f"| {name} | {med[name]:.3f} | {med[name] / med['none']:.3f}x | {low[name]:.3f} | "
            f"{low[name] / low['none']:.3f}x |"
        )


if __name__ == "__main__":
    main()
