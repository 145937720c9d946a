"""`compare`: the grid, the run folder, resume after a real SIGKILL, and errors before training."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from actlab.harness.compare import compare, split_specs
from actlab.harness.report import paired_test
from actlab.training import TrainConfig

CFG = TrainConfig(epochs=3, batch_size=128, lr=3e-3)
GRID = dict(task="mnist1d", acts=["relu", "gelu"], seeds=2, config=CFG, max_train=512, max_test=256)


def _cells(result_json):
    data = json.loads(result_json.read_text())
    return {
        (c["act"], c["seed"]): [{k: v for k, v in h.items() if k != "seconds"} for h in c["history"]]
        for c in data["cells"]
    }


def test_split_specs_respects_parentheses_and_quotes():
    assert split_specs("relu,gelu") == ["relu", "gelu"]
    assert split_specs("slaf(degree=4, init='a,b'), noisy_hard_tanh(c=0.5)") == [
        "slaf(degree=4, init='a,b')",
        "noisy_hard_tanh(c=0.5)",
    ]
    with pytest.raises(ValueError, match="split_specs: `text` must be balanced parentheses"):
        split_specs("relu,terelu(mu=2.0")


def test_paired_test_matches_scipy_and_is_undefined_when_it_must_be():
    from scipy.stats import ttest_rel

    a, b = [0.61, 0.64, 0.60, 0.66], [0.63, 0.65, 0.64, 0.67]
    assert paired_test(a, b) == pytest.approx(ttest_rel(a, b).pvalue)
    assert paired_test([0.5], [0.6]) is None
    assert paired_test([0.5, 0.6], [0.6, 0.7]) is None  # identical differences: zero variance


def test_compare_writes_tables_plots_and_report(tmp_path):
    out = tmp_path / "run"
    res = compare(
        task="mnist1d",
        acts="relu,terelu(mu=2.0)",
        out_dir=out,
        seeds=2,
        config=CFG,
        max_train=512,
        max_test=256,
        tensorboard=True,
    )
    for name in ("results.csv", "results.json", "learning_curves.png", "learned_activations.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(r["act"], r["seed"]) for r in rows] == [
        ("relu", "0"),
        ("relu", "1"),
        ("terelu(mu=2.0)", "0"),
        ("terelu(mu=2.0)", "1"),
    ]
    summary = {r["act"]: r for r in res.summary}
    accs = [float(r["test_acc"]) for r in rows if r["act"] == "terelu(mu=2.0)"]
    assert summary["terelu(mu=2.0)"]["test_acc_mean"] == pytest.approx(np.mean(accs))
    assert summary["terelu(mu=2.0)"]["test_acc_std"] == pytest.approx(np.std(accs, ddof=1))
    assert summary["terelu(mu=2.0)"]["learnable"] and not summary["relu"]["learnable"]
    learned = [c["learned"] for c in res.cells if c["act"] == "terelu(mu=2.0)"][0]
    assert len(learned["sites"]) == 2  # the MLP's two hidden activations, each trained separately
    report = (out / "report.md").read_text()
    assert "| `terelu(mu=2.0)` | classic (learned) |" in report and "paired t" in report.lower()
    assert "little power" in report and "learned_activations.png" in report
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))


def test_rerun_resumes_after_a_sigkill_and_matches_an_uninterrupted_run(tmp_path):
    clean = compare(out_dir=tmp_path / "clean", **GRID)
    killed = tmp_path / "killed"
    # A child runs the same grid and SIGKILLs itself mid-epoch in the third cell: no cleanup runs.
    script = textwrap.dedent(f"""
        import importlib, os, signal
        cell = importlib.import_module("actlab.harness.cell")  # the module that calls train
        from actlab.harness.compare import compare
        from actlab.training import TrainConfig
        steps = [0]
        def kill(model):
            steps[0] += 1
            if steps[0] == 4 * 3 * 2 + 6:  # 4 steps/epoch, 3 epochs/cell: 2 cells done, cell 3 mid epoch 2
                os.kill(os.getpid(), signal.SIGKILL)
        train = cell.train
        cell.train = lambda *a, **k: train(*a, step_callbacks=[kill], **k)
        compare(task="mnist1d", acts=["relu", "gelu"], seeds=2, max_train=512, max_test=256,
                  config=TrainConfig(**{CFG.to_dict()!r}), out_dir={str(killed)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    finished = sorted(killed.glob("cells/*/seed*/result.json"))
    assert len(finished) == 2 and (killed / "cells/gelu/seed0/checkpoint.pt").exists()
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    resumed = compare(out_dir=killed, **GRID)
    assert {p: p.stat().st_mtime_ns for p in finished} == stamps  # finished cells were not retrained
    assert _cells(killed / "results.json") == _cells(tmp_path / "clean" / "results.json")
    assert [r["test_acc_mean"] for r in resumed.summary] == [r["test_acc_mean"] for r in clean.summary]


def test_parallel_jobs_give_the_same_results_as_serial(tmp_path):
    grid = {**GRID, "config": TrainConfig(epochs=1, lr=3e-3), "seeds": [0]}
    compare(out_dir=tmp_path / "serial", **grid)
    compare(out_dir=tmp_path / "jobs", jobs=2, **grid)
    serial, jobs = _cells(tmp_path / "serial" / "results.json"), _cells(tmp_path / "jobs" / "results.json")
    assert serial.keys() == jobs.keys()
    for key in serial:  # one thread per worker vs this process's threads: equal up to float reassociation
        for a, b in zip(serial[key], jobs[key]):
            assert a == pytest.approx(b, rel=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"acts": "relu,reul"}, "unknown activation 'reul' \\(did you mean 'relu'"),
        ({"acts": "relu,terelu(alpha=-1)"}, "TERELU: `alpha` must be > 0, got -1"),
        ({"task": "mnist2d"}, "load_task: `name` must be one of"),
        ({"task": "npz", "path": "/nonexistent/data.npz"}, "load_task: `path` must be an existing .npz file"),
        ({"acts": "relu,relu"}, "compare: `acts` must be distinct specs"),
        ({"model": "cnn2d"}, "cnn2d needs \\(H, W\\)"),
    ],
)
def test_errors_come_before_any_training(tmp_path, kwargs, message):
    args = {"task": "mnist1d", "acts": "relu,gelu", "seeds": 1, "config": CFG, **kwargs}
    with pytest.raises(ValueError, match=message):
        compare(out_dir=tmp_path / "run", **args)
    assert not (tmp_path / "run" / "cells").exists()


def test_a_folder_from_another_grid_is_refused_before_training(tmp_path):
    grid = {**GRID, "seeds": [0], "acts": ["relu"], "config": TrainConfig(epochs=1)}
    compare(out_dir=tmp_path / "run", **grid)
    with pytest.raises(ValueError, match="compare: `out_dir` must be a new folder or one from the same grid"):
        compare(out_dir=tmp_path / "run", **{**grid, "config": TrainConfig(epochs=1, lr=0.1)})
