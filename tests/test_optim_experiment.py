"""The GAF experiment's pieces at toy size (the real run is in docs/gaf.md)."""

from __future__ import annotations

import json

from actlab.experiments import gaf as exp, get_experiment


def test_registered():
    assert get_experiment("gaf").run is exp.run


def test_pieces_write_a_report_with_claim_and_plots(tmp_path):
    cond = exp.run_conditioning(steps=30, seeds=2, tol=1e-2)
    assert len(cond) == 2 * 2 * 2
    for r in cond.values():
        assert r["best_lr"] in exp.LR_GRIDS[r["optimizer"]] and len(r["steps_to_tol"]) == 2
        assert len(r["curve_median"]) == 31
    clf = exp.run_classifiers(datasets=["iris"], epochs=2, seeds=2)
    assert {k.split("/")[2] for k in clf} == {"bare", "gaf"}
    assert all(len(r["final_acc"]) == 2 and 0 <= r["final_acc_mean"] <= 1 for r in clf.values())
    plots = exp._plots(tmp_path, cond, clf)
    assert all((tmp_path / p).stat().st_size > 1000 for p in plots)
    text = exp._report(cond, clf, {"steps": 30, "tol": 1e-2, "epochs": 2, "seeds": 2})
    assert exp.CLAIM in text and "| rosenbrock | adam | GAF |" in text and "Verdict" in text
    json.dumps(cond)  # results must be JSON-serialisable
