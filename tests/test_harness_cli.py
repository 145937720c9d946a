"""The harness commands end to end through typer's runner: compare, reproduce, the demo's choices."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

from actlab.cli.harness import demo_acts
from actlab.cli.main import app
from actlab.core.registry import ACTIVATIONS, get_spec

runner = CliRunner()


def test_compare_prints_the_table_and_writes_the_report(tmp_path):
    out = tmp_path / "run"
    args = [
        "compare",
        "--acts",
        "relu,prelu(init=0.1)",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--max-train",
        "256",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "prelu(init=0.1)" in res.output and "report:" in res.output
    assert (out / "report.md").exists() and (out / "learned_activations.png").exists()
    res = runner.invoke(app, [*args, "--json"])  # a rerun reads the finished cells back
    summary = json.loads(res.output)["summary"]
    assert [r["act"] for r in summary] == ["relu", "prelu(init=0.1)"] and summary[1]["seeds"] == 2


def test_compare_errors_exit_2_with_the_message(tmp_path):
    cases = [
        (["--acts", "relu,noisy_hard_tnah"], "unknown activation 'noisy_hard_tnah'"),
        (["--task", "npz", "--data", str(tmp_path / "missing.npz")], "`path` must be an existing .npz file"),
        (["--optim", "lbfgs"], "TrainConfig: `optim` must be one of 'sgd', 'adam', 'adamw'"),
        (["--task", "cifar"], "load_task: `name` must be one of"),
    ]
    for extra, message in cases:
        res = runner.invoke(app, ["compare", "--epochs", "1", "--out", str(tmp_path / "run"), *extra])
        assert res.exit_code == 2, (extra, res.output)
        assert message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "run").exists()


def test_reproduce_dispatches_to_the_experiment_registry(tmp_path, monkeypatch):
    from actlab.experiments import EXPERIMENTS, Experiment, list_experiments

    list_experiments()  # load the real ones first, so the fake one is not overwritten by discovery
    calls = []

    def run(out_dir, *, full=False, seeds=3):
        calls.append((out_dir, full, seeds))
        (out_dir / "report.md").write_text("# fake\n")
        return {"ok": True}

    monkeypatch.setitem(EXPERIMENTS._entries, "fakepaper", Experiment("fakepaper", "Doe 2024", "it works", run))
    res = runner.invoke(app, ["reproduce", "--list"])
    assert res.exit_code == 0 and "fakepaper" in res.output and "Doe 2024" in res.output
    res = runner.invoke(app, ["reproduce", "fakepaper", "--full", "--seeds", "5", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert calls == [(tmp_path / "r", True, 5)]
    assert "report.md" in res.output
    res = runner.invoke(app, ["reproduce", "fakepapr"])
    assert res.exit_code == 2 and "did you mean 'fakepaper'" in res.output


def test_demo_prefers_a_registered_noisy_and_learnable_activation(monkeypatch):
    assert demo_acts()[:3] == ["relu", "gelu", "terelu"]
    fake_noisy = replace(get_spec("tanh"), name="noisy_hard_tanh", family="noisy", stochastic=True)
    fake_learn = replace(get_spec("prelu"), name="slaf", family="learnable")
    monkeypatch.setitem(ACTIVATIONS._entries, "noisy_hard_tanh", fake_noisy)
    monkeypatch.setitem(ACTIVATIONS._entries, "slaf", fake_learn)
    assert demo_acts() == ["relu", "gelu", "terelu", "noisy_hard_tanh", "slaf"]
