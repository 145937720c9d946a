"""`actlab inspect RUN_DIR` and the plots behind it, on a small real training run."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from actlab.cli.main import app
from actlab.data import Dataset
from actlab.inspect.monitors import Monitor
from actlab.inspect.plots import inspect_run, plot_plane_regions, read_monitor_csv
from actlab.inspect.regions import regions_in_plane
from actlab.swap import swap
from actlab.training import TrainConfig, train

runner = CliRunner()


def _run_folder(tmp_path, act="terelu"):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    data = Dataset("toy", x, y, x[:32], y[:32], 2)
    base = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 2))
    net = swap(base, nn.ReLU, act, per_channel=True, sample_input=x[:2]).model
    torch.save(net.state_dict(), tmp_path / "model_initial.pt")
    mon = Monitor(net)
    with mon:
        train(
            net,
            data,
            TrainConfig(epochs=3, batch_size=32, lr=0.05),
            callbacks=[mon.logger(tmp_path / "monitor.csv")],
        )
    torch.save(net.state_dict(), tmp_path / "model_final.pt")
    (tmp_path / "config.json").write_text(json.dumps({"model": "mlp", "act": act}))
    return tmp_path


def _is_png(path) -> bool:
    img = mpimg.imread(path)
    return img.ndim == 3 and img.shape[0] > 100 and img.std() > 0  # not blank


def test_inspect_full_run_folder(tmp_path):
    run = _run_folder(tmp_path)
    res = runner.invoke(app, ["inspect", str(run), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    names = sorted(p.rsplit("/", 1)[-1] for p in report["written"])
    assert names == ["inspect_activations.png", "inspect_gradient_flow.png", "inspect_saturation.png"]
    assert report["missing"] == []
    assert all(_is_png(p) for p in report["written"])
    layers = read_monitor_csv(run / "monitor.csv")
    assert list(layers) == ["1", "3"] and [r["epoch"] for r in layers["3"]] == [1.0, 2.0, 3.0]


def test_activation_layers_found_from_state_dicts(tmp_path):
    from actlab.inspect.plots import _activation_layers

    run = _run_folder(tmp_path)
    initial = torch.load(run / "model_initial.pt", weights_only=True)
    final = torch.load(run / "model_final.pt", weights_only=True)
    found = _activation_layers("terelu", initial, final)
    assert [(p, b.num_parameters) for p, b, _ in found] == [("1", 6), ("3", 6)]
    assert torch.equal(found[0][1].beta, torch.ones(6))
    assert not torch.equal(found[0][2].beta, torch.ones(6))  # trained


def test_inspect_reports_what_is_missing(tmp_path):
    run = _run_folder(tmp_path, act="relu")
    (run / "model_final.pt").unlink()
    res = runner.invoke(app, ["inspect", str(run), "--out", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    assert "inspect_saturation.png" in res.output
    assert "activation shapes: no model_final.pt" in res.output
    assert not (tmp_path / "plots" / "inspect_activations.png").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["inspect", str(empty)])
    assert res.exit_code == 2
    assert "no monitor.csv" in res.output and "no config.json, model_initial.pt, model_final.pt" in res.output


def test_inspect_errors(tmp_path):
    res = runner.invoke(app, ["inspect", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "`run_dir` must be a directory" in res.output
    (tmp_path / "monitor.csv").write_text("epoch,layer\n1,a\n")
    with pytest.raises(ValueError, match="missing activation, saturation, mean, std, grad_norm"):
        inspect_run(tmp_path)


def test_parameter_free_activation_plots_one_shape(tmp_path):
    run = _run_folder(tmp_path, act="relu")
    report = inspect_run(run)
    assert any(p.name == "inspect_activations.png" for p in report.written)


def test_plane_regions_plot(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    path = plot_plane_regions(regions_in_plane(net, torch.zeros(2), extent=2.0), tmp_path / "r.png")
    assert _is_png(path)
