"""SLAF explainability: self-describing state_dicts, `actlab plot --state-dict`, and the experiment's outputs."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import actlab
from actlab.cli.main import app
from actlab.harness.models import MLP
from actlab.slaf.activation import SLAF, slaf_prefixes
from actlab.training import TrainConfig

runner = CliRunner()


def _saved_model(tmp_path):
    torch.manual_seed(0)
    model = MLP(8, 3, act="slaf_relu(degree=3, basis='legendre', num_parameters=6)", hidden=(6, 6))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("coefficients"):
                p.add_(0.1 * torch.randn_like(p))
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_state_dict_rebuilds_the_activation_from_the_file_alone(tmp_path):
    model, path = _saved_model(tmp_path)
    state = torch.load(path, weights_only=True)
    assert slaf_prefixes(state) == ["net.2", "net.4"]
    rebuilt = SLAF.from_state_dict(state, "net.4")
    x = torch.randn(5, 6)
    assert repr(rebuilt) == repr(model.net[4])
    torch.testing.assert_close(rebuilt(x), model.net[4](x), atol=0, rtol=0)
    with pytest.raises(
        ValueError, match=r"`prefix` must be the prefix of a saved SLAF \(found: 'net.2', 'net.4'\), got 'net.1'"
    ):
        SLAF.from_state_dict(state, "net.1")


def test_loading_a_state_dict_of_another_basis_is_an_error():
    cheb = actlab.create("slaf(degree=4, basis='chebyshev')").state_dict()
    with pytest.raises(
        ValueError, match=r"SLAF: `state_dict` must be saved with this module's basis, got \{'basis': 'chebyshev'\}"
    ):
        actlab.create("slaf(degree=4)").load_state_dict(cheb)
    # init is only how the coefficients started: a different one loads fine.
    actlab.create("slaf(degree=4, basis='chebyshev', init='tanh')").load_state_dict(cheb)


def test_plot_state_dict_writes_png_per_channel_and_checks_the_key(tmp_path):
    _, path = _saved_model(tmp_path)
    out = tmp_path / "learned.png"
    res = runner.invoke(app, ["plot", "--state-dict", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(app, ["plot", "--state-dict", str(path), "--key", "net.3", "--out", str(tmp_path / "b.png")])
    assert res.exit_code == 2 and "found: 'net.2', 'net.4'" in res.output
    res = runner.invoke(app, ["plot", "--out", str(tmp_path / "c.png")])
    assert res.exit_code == 2 and "give activation names or --state-dict" in res.output
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "lin.pt")
    res = runner.invoke(app, ["plot", "--state-dict", str(tmp_path / "lin.pt"), "--out", str(tmp_path / "d.png")])
    assert res.exit_code == 2 and "must hold a learned activation (slaf), got none" in res.output


def test_experiment_writes_report_results_plots_and_a_plottable_state_dict(tmp_path, monkeypatch):
    import actlab.experiments.slaf as exp
    from actlab.experiments import get_experiment

    assert get_experiment("slaf").run is exp.run
    monkeypatch.setattr(exp, "VARIANTS", {k: exp.VARIANTS[k] for k in ("relu", "slaf(4, per-channel)")})
    monkeypatch.setattr(exp, "TrainConfig", lambda **k: TrainConfig(**{**k, "epochs": 1}))
    import actlab.experiments._slaf_cnn as cnn

    monkeypatch.setattr(cnn, "TrainConfig", lambda **k: TrainConfig(**{**k, "epochs": 1}))
    results = exp.run(tmp_path, seeds=2)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "report.md",
        "results.json",
        "accuracy.png",
        "activations_mnist1d.png",
        "activations_digits.png",
        "mnist1d_slaf_per_channel.pt",
    }
    assert json.loads((tmp_path / "results.json").read_text())["summary"] == json.loads(json.dumps(results["summary"]))
    row = results["summary"]["digits"]["slaf(4, per-channel)"]
    assert row["seeds"] == 2 and row["activation_params"] == 2 * 64 * 5 and row["diverged"] == 0
    assert 0.0 < row["acc_mean"] <= 1.0 and row["acc_std"] >= 0.0
    assert "| slaf(4, per-channel) |" in (tmp_path / "report.md").read_text()
    cnn_part = results["cnn"]
    assert set(cnn_part["summary"]) == set(cnn.ARMS) and len(cnn_part["runs"]) == 2 * len(cnn.ARMS)
    assert cnn_part["verdict"] in ("reproduced", "partly", "not reproduced")
    assert f"**Verdict: {cnn_part['verdict']}**" in (tmp_path / "report.md").read_text()
    assert len(list((tmp_path / "runs").glob("digits-cnn-*.json"))) == 2 * len(cnn.ARMS)  # cached per run
    res = runner.invoke(
        app,
        [
            "plot",
            "--state-dict",
            str(tmp_path / "mnist1d_slaf_per_channel.pt"),
            "--key",
            "net.2",
            "--out",
            str(tmp_path / "p.png"),
        ],
    )
    assert res.exit_code == 0, res.output
