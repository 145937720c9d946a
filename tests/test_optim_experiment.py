"""The GAF experiment's pieces at toy size (the real run is in docs/gaf.md)."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from actlab.experiments import _gaf_conditioning as part1, gaf as exp, get_experiment
from actlab.training import TrainConfig


def test_registered():
    assert get_experiment("gaf").run is exp.run


def test_arms_are_the_official_protocols():
    arms = exp.arms((0.1, 0.2))
    assert set(arms) == {
        "sgd",
        "gaf(0.1,20)",
        "gaf(0.2,10)",
        "clip-norm(0.1*pi/2)",
        "clip-value(0.1*pi/2)",
        "clip-norm(0.2*pi/2)",
        "clip-value(0.2*pi/2)",
    }
    for name, fields in arms.items():
        cfg = TrainConfig(**fields)  # every arm is a valid TrainConfig
        if name.startswith("gaf"):
            alpha, beta = (float(v) for v in name[4:-1].split(","))
            assert alpha * beta == pytest.approx(2.0)  # slope 2 at zero, as in the reported runs
            assert cfg.optim == f"sgd+gaf(alpha={alpha:g}, beta={beta:g})"
    assert arms["clip-norm(0.2*pi/2)"]["grad_clip"] == pytest.approx(0.2 * math.pi / 2)
    assert arms["clip-value(0.1*pi/2)"]["grad_clip_value"] == pytest.approx(0.1 * math.pi / 2)
    assert exp.PROTOCOL_LR in exp.LRS


def test_paired_statistics():
    gap, p = exp._paired([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert gap == pytest.approx(0.1) and p == 0.0  # the same gain on every seed
    assert exp._paired([0.5, 0.5], [0.5, 0.5]) == (0.0, 1.0)
    a, b = [0.9, 0.7, 0.85], [0.8, 0.75, 0.6]
    gap, p = exp._paired(a, b)
    assert gap == pytest.approx(0.1) and p == pytest.approx(stats.ttest_rel(a, b).pvalue)


def _fake_summary(gaf_shift: dict[float, float]) -> dict:
    runs = []
    for seed in range(3):
        for lr in (0.1, 0.2):
            base = 0.5 + (0.1 if lr == 0.2 else 0.0) + 0.01 * seed
            runs.append({"arm": "sgd", "lr": lr, "seed": seed, "best_acc": base, "final_acc": base, "diverged": False})
            g = base + gaf_shift[lr] + 0.003 * seed**2
            runs.append({"arm": "gaf(x)", "lr": lr, "seed": seed, "best_acc": g, "final_acc": g, "diverged": False})
    return exp.summarise(runs)


def test_verdicts_separate_a_learning_rate_effect_from_a_real_gain():
    # GAF at 0.1 only as good as bare at 0.2: better untuned, equal tuned -> partly
    lr_effect = _fake_summary({0.1: 0.1, 0.2: 0.0})
    assert lr_effect["sgd"]["tuned_lr"] == 0.2
    word, text = exp.verdict(lr_effect, "gaf(x)")
    assert word == "partly" and "lr 0.1" in text and "+10." in text
    real = _fake_summary({0.1: 0.05, 0.2: 0.05})
    assert exp.verdict(real, "gaf(x)")[0] == "reproduced"
    worse = _fake_summary({0.1: -0.05, 0.2: -0.05})
    assert exp.verdict(worse, "gaf(x)")[0] == "not reproduced"


def test_protocol_pieces_write_a_report_and_reuse_finished_runs(tmp_path):
    arms = {k: v for k, v in exp.ARMS.items() if k in ("sgd", "gaf(0.1,20)", "clip-value(0.1*pi/2)")}
    kw = {"task": "digits", "seeds": 2, "epochs": 1, "batch": 256, "channels": (4, 4), "lrs": (0.1, 0.4)}
    runs = exp.run_protocol(tmp_path, arm_fields=arms, **kw)
    assert len(runs) == 3 * 2 * 2
    assert all(0 <= r["best_acc"] <= 1 and len(r["test_acc"]) == 1 for r in runs)
    again = exp.run_protocol(tmp_path, arm_fields=arms, **kw)
    assert again == runs  # read back from the per-run cache, not retrained
    assert len(list((tmp_path / "runs").glob("*.json"))) == 12 and not list((tmp_path / "runs").glob("*.pt"))
    summary = exp.summarise(runs)
    assert set(summary) == set(arms) and all(s["tuned_lr"] in (0.1, 0.4) for s in summary.values())
    name = exp.plot_sweep(tmp_path, summary, "digits")
    assert (tmp_path / name).stat().st_size > 1000
    text = "\n".join(exp.protocol_report(summary, "digits", {"epochs": 1, "batch": 256, "seeds": 2}))
    assert "| gaf(0.1,20) |" in text and "Verdict" in text and "gaf(0.1,20):" in text
    assert "edge of the grid" in text  # a two-point grid: every tuned lr is at an edge
    json.dumps(summary, default=str)


def test_conditioning_pieces(tmp_path):
    cond = exp.run_conditioning(steps=30, seeds=2, tol=1e-2)
    assert len(cond) == 2 * 2 * 2
    for r in cond.values():
        assert r["best_lr"] in exp.LR_GRIDS[r["optimizer"]] and len(r["steps_to_tol"]) == 2
        assert len(r["curve_median"]) == 31
    assert (tmp_path / part1.plot_conditioning(tmp_path, cond)).stat().st_size > 1000
    text = "\n".join(part1.conditioning_report(cond, 30, 1e-2))
    assert "| rosenbrock | adam | GAF |" in text
    json.dumps(cond)  # results must be JSON-serialisable
