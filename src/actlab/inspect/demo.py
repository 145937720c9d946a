"""Make a small run folder and the docs' pictures: ``python -m actlab.inspect.demo OUT_DIR``.

Trains an MNIST-1D MLP whose ReLUs are swapped for per-channel TERELU, with a `Monitor`
logging each epoch, writes the run-folder files that ``actlab inspect`` reads, runs it, and
draws the linear regions of a trained ReLU MLP in a 2-D slice through a test point.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from actlab.core.io import atomic_write, atomic_write_json
from actlab.data import load_dataset
from actlab.inspect.monitors import Monitor
from actlab.inspect.plots import inspect_run, plot_plane_regions
from actlab.inspect.regions import regions_in_plane, regions_on_segment
from actlab.swap import swap
from actlab.training import TrainConfig, train

__all__ = ["make_demo"]


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def make_demo(out_dir: str | Path, *, epochs: int = 10, act: str = "terelu") -> list[Path]:
    """Write the run folder and PNGs under ``out_dir``; return the PNG paths."""
    out = Path(out_dir)
    data = load_dataset("mnist1d")
    torch.manual_seed(0)
    net = swap(_mlp(), nn.ReLU, act, per_channel=True, sample_input=data.x_train[:2]).model
    atomic_write(out / "model_initial.pt", lambda p: torch.save(net.state_dict(), p))
    mon = Monitor(net)
    with mon:
        train(net, data, TrainConfig(epochs=epochs), callbacks=[mon.logger(out / "monitor.csv")])
    atomic_write(out / "model_final.pt", lambda p: torch.save(net.state_dict(), p))
    atomic_write_json(out / "config.json", {"model": "mlp-40-64x3-10", "act": act, "dataset": "mnist1d"})
    written = inspect_run(out).written

    torch.manual_seed(0)
    relu_net = _mlp()
    train(relu_net, data, TrainConfig(epochs=epochs))
    x0 = data.x_test[0]
    plane = regions_in_plane(relu_net, x0, extent=2.0)
    line = regions_on_segment(relu_net, x0, data.x_test[1])
    written.append(
        plot_plane_regions(
            plane,
            out / "inspect_regions.png",
            title=f"ReLU MLP on MNIST-1D: {plane.count} regions in a 2-D slice\n"
            f"through a test point ({line.count} along the segment to the next)",
        )
    )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    for path in make_demo(args.out_dir, epochs=args.epochs):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
