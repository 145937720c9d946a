"""Recipes: compare and the demo train each model with its measured recipe; the MNIST-1D baselines."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from actlab.cli.main import app
from actlab.experiments import get_experiment, mnist1d as exp
from actlab.harness import compare
from actlab.harness.recipes import RECIPES, recipe
from actlab.training import TrainConfig


def test_the_mnist1d_mlp_recipe_is_the_measured_one_and_others_fall_back():
    assert recipe("mnist1d", "mlp").config == TrainConfig(epochs=30, batch_size=100, lr=1e-2, schedule="cosine")
    assert recipe("mnist1d", "cnn1d").config.epochs == 40
    assert recipe("mnist1d", "mlp", lr=3e-3).config.lr == 3e-3  # overrides apply on top
    assert recipe("copy", "rnn").config == TrainConfig()
    assert all(r.source and r.measured for r in RECIPES.values())


def test_compare_without_a_config_uses_the_models_recipe(tmp_path):
    compare(task="mnist1d", acts=["relu"], out_dir=tmp_path, seeds=1, model="linear", max_train=128, max_test=64)
    grid = json.loads((tmp_path / "grid.json").read_text())
    assert grid["config"] == {**recipe("mnist1d", "linear").config.to_dict(), "seed": 0}


def test_cli_flags_override_only_what_they_name(tmp_path):
    out = tmp_path / "run"
    args = ["compare", "--acts", "relu", "--seeds", "1", "--epochs", "1", "--max-train", "64", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    config = json.loads((out / "grid.json").read_text())["config"]
    assert (config["epochs"], config["lr"], config["batch_size"], config["schedule"]) == (1, 1e-2, 100, "cosine")


def test_mnist1d_baselines_report_the_published_numbers_and_a_verdict(tmp_path):
    assert get_experiment("mnist1d").run is exp.run
    results = exp.run(tmp_path, seeds=2, models=("linear",), jobs=1)  # no worker start-up
    (row,) = results["rows"]
    assert row["published"] == 0.32 and len(row["final_acc"]) == 2
    assert 0.25 < row["final_mean"] < 0.40  # logistic regression on MNIST-1D: the README's 32 %
    assert row["verdict"] == exp.verdict(row["final_mean"], 0.32)
    report = (tmp_path / "report.md").read_text()
    assert exp.CLAIM in report and "| linear | 32% |" in report and row["verdict"] in report
