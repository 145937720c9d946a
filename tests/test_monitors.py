"""Monitors: exact aggregates on known inputs, hook lifecycle, CSV/TensorBoard logging."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn

from actlab.data import Dataset
from actlab.inspect.monitors import CSV_COLUMNS, Monitor, default_saturation, saturation_mask
from actlab.training import TrainConfig, train


class _Scale(nn.Module):
    """Multiplies by a fixed tensor so the upstream gradient of the activation is known."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("w", w)

    def forward(self, x):
        return x * self.w


def test_exact_aggregates_on_known_input():
    net = nn.Sequential(nn.ReLU(), _Scale(torch.tensor([3.0, 4.0, 0.0, 0.0])))
    x = torch.tensor([[-2.0, -0.5, 1.0, 3.0]], requires_grad=True)
    with Monitor(net) as mon:
        net(x).sum().backward()
        net(x).sum().backward()
    (s,) = mon.stats()
    assert (s.layer, s.activation, s.elements, s.backward_passes) == ("0", "ReLU", 8, 2)
    assert s.saturation == 0.5 and s.frac_zero == 0.5
    out = torch.tensor([0.0, 0.0, 1.0, 3.0])
    assert s.mean == pytest.approx(out.mean().item())
    assert s.std == pytest.approx(out.std(unbiased=False).item())
    assert s.grad_norm == pytest.approx(5.0)  # |(3, 4, 0, 0)| per backward pass


def test_declared_mask_and_derivative_default():
    x = torch.linspace(-6, 6, 121)
    assert torch.equal(saturation_mask(nn.Hardtanh(), x), x.abs() >= 1)
    # tanh has no declared mask: |1 - tanh^2| < 1e-2  <=>  |x| > atanh(sqrt(0.99)) = 2.9932.
    expected = (1 - torch.tanh(x) ** 2) < 1e-2
    assert torch.equal(saturation_mask(nn.Tanh(), x), expected)
    assert bool(expected.any()) and not bool(expected.all())
    assert torch.equal(
        default_saturation(nn.Sigmoid(), x, threshold=0.2), torch.sigmoid(x) * (1 - torch.sigmoid(x)) < 0.2
    )


def test_derivative_default_leaves_rng_untouched():
    torch.manual_seed(1)
    net = nn.Sequential(nn.RReLU())  # stochastic, no declared mask
    x = torch.randn(64)
    ref = net(x)
    torch.manual_seed(1)
    _ = torch.randn(64)
    with Monitor(net) as mon:
        out = net(x)
    assert torch.equal(out, ref) and mon.stats()[0].elements == 64


def test_inplace_relu_and_eval_passes():
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(inplace=True), nn.Linear(5, 2))
    with Monitor(net) as mon:
        net.eval()
        net(torch.randn(4, 3))
        assert mon.stats()[0].elements == 0  # train_only skips eval passes
        net.train()
        net(torch.randn(4, 3)).sum().backward()
    s = mon.stats()[0]
    assert s.elements == 20 and s.saturation == s.frac_zero and s.backward_passes == 1


def test_detach_removes_all_hooks_and_every_samples():
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 5), nn.GELU())
    mon = Monitor(net, every=2)
    assert not mon.attached
    with mon:
        assert mon.attached and len(net[1]._forward_hooks) == 1
        for _ in range(5):
            net(torch.randn(2, 3))
    assert not mon.attached and not net[1]._forward_hooks and not net[3]._forward_hooks
    assert [s.elements for s in mon.stats()] == [30, 30]  # passes 1, 3, 5 of 5
    net(torch.randn(2, 3))
    assert [s.elements for s in mon.stats()] == [30, 30]
    mon.reset()
    assert all(math.isnan(s.saturation) for s in mon.stats())


def test_layer_selection_and_errors():
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Identity(), nn.Linear(5, 2), nn.Sigmoid())
    assert list(Monitor(net).modules) == ["1", "4"]
    assert list(Monitor(net, ["4"]).modules) == ["4"]
    assert list(Monitor(net, lambda n, m: isinstance(m, nn.Linear)).modules) == ["0", "3"]
    with pytest.raises(ValueError, match=r"Monitor: `layers` must be names of modules of `model`, got \['9'\]"):
        Monitor(net, ["9"])
    with pytest.raises(ValueError, match="Monitor: `every` must be >= 1, got 0"):
        Monitor(net, every=0)
    with pytest.raises(ValueError, match="at least one activation module"):
        Monitor(nn.Linear(2, 2))


def test_logger_with_train_writes_csv_and_tensorboard(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = (x[:, 0] > 0).long()
    data = Dataset("toy", x, y, x[:16], y[:16], 2)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))

    class Writer:  # the SummaryWriter interface the logger uses
        def __init__(self):
            self.scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

    writer = Writer()
    mon = Monitor(net)
    with mon:
        train(net, data, TrainConfig(epochs=3, batch_size=16), callbacks=[mon.logger(tmp_path / "monitor.csv", writer)])
    with (tmp_path / "monitor.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["epoch"], r["layer"], r["activation"]) for r in rows[:2]] == [("1", "1", "ReLU"), ("1", "3", "Tanh")]
    assert len(rows) == 6 and all(0 <= float(r["saturation"]) <= 1 and float(r["grad_norm"]) > 0 for r in rows)
    assert ("saturation/3", float(rows[-1]["saturation"]), 3) in writer.scalars
    # Each epoch is its own period: 4 batches of 16 through 8 units (the eval pass excluded).
    assert mon.stats()[0].elements == 0
    # A new logger on the same file appends after the earlier epochs.
    log = mon.logger(tmp_path / "monitor.csv")
    log(4, net, {})
    with (tmp_path / "monitor.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 8


def test_real_summary_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with SummaryWriter(tmp_path / "tb") as writer, Monitor(net) as mon:
        net(torch.randn(5, 3)).sum().backward()
        mon.logger(writer=writer)(1, net, {})
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
