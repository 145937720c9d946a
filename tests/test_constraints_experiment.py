"""The constrained VAE, the experiment's files, the benchmark and its CLI command (tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from actlab.bench.constraints import bench_constraints, random_cone
from actlab.cli.main import app
from actlab.constraints import ConstrainedVAE, checkerboard_constraints, max_violation, v_representation


def test_checkerboard_constraints_are_signed_patch_sums():
    A = checkerboard_constraints()
    assert A.shape == (16, 64)
    img = np.zeros((8, 8))
    img[0:2, 0:2] = 1.0  # a bright top-left (white, +) patch violates only its own row
    v = A @ img.ravel()
    assert v[0] == 4.0 and (np.delete(v, 0) == 0).all()
    assert A[1].reshape(8, 8)[0:2, 2:4].tolist() == [[-1.0, -1.0], [-1.0, -1.0]]
    rep = v_representation(A)  # disjoint patches: one ray + 3 lineality directions per patch
    assert (rep.n_rays, rep.n_lineality) == (16, 48)
    with pytest.raises(ValueError, match="`patch` must divide"):
        checkerboard_constraints(8, 3)


def test_constrained_vae_outputs_are_feasible_and_it_trains():
    A = checkerboard_constraints()
    vae = ConstrainedVAE(64, A, latent=4, hidden=32)
    x = torch.randn(64, 64)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        rec, kl = vae.loss(x)
        opt.zero_grad()
        (rec + kl).backward()
        opt.step()
        first = first if first is not None else float(rec.detach())
    assert float(rec.detach()) < first
    assert max_violation(vae.sample(256), A, relative=True).max() <= 1e-6
    assert max_violation(vae.eval()(x)[0], A, relative=True).max() <= 1e-6
    assert isinstance(ConstrainedVAE(64, None).decoder[-1], torch.nn.Linear)


def test_experiment_writes_its_files(tmp_path, monkeypatch):
    import actlab.experiments.constraints as exp
    from actlab.experiments import run_experiment

    monkeypatch.setitem(exp.SIZES, False, (2, 64))
    monkeypatch.setitem(exp.TOY_SIZES, False, 2)
    res = run_experiment("constraints", tmp_path, seeds=1)
    assert {"report.md", "results.json", "constraints_samples.png", "constraints_violations.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert res["summary"]["constrained"]["sample_violation_frac"][0] == 0.0
    assert res["summary"]["unconstrained"]["projected_violation_frac"][0] == 0.0
    toy = res["toy"]["summary"]
    assert toy["constrained"]["violation_frac"][0] == 0.0  # feasible after any amount of training
    # Projection is non-expansive and P(x) is feasible: projecting the output only moves it closer.
    assert toy["unconstrained"]["projected_distance_rel"][0] <= toy["unconstrained"]["distance_rel"][0] + 1e-6
    assert res["verdicts"]["vae_feasible"] == "reproduced" and res["verdicts"]["toy"] in ("reproduced", "partly")
    assert res["summary"]["unconstrained"]["project_osqp_ms"][0] > 0
    assert json.loads((tmp_path / "results.json").read_text())["seeds"] == 1
    report = (tmp_path / "report.md").read_text()
    assert "Claim" in report and report.count("Verdict") == 4 and "checkerboard cone" in report


def test_bench_records_and_cli():
    A = random_cone(5, 4)
    assert (A @ np.ones(5) < 0).all()  # the all-ones direction is interior
    before = torch.get_num_threads()
    (r,) = bench_constraints([(5, 4)], batch=8, cvxpy_samples=2, min_run_time=0.01, threads=1)
    assert torch.get_num_threads() == before
    assert r.n_generators == 5 and r.layer_max_violation <= 1e-6 and r.admm_max_violation <= 1e-6
    assert r.speedup_vs_cvxpy == r.cvxpy_ms / r.layer_ms
    assert r.osqp_max_violation <= 1e-5 and r.osqp_ms > 0 and r.osqp_setup_ms > 0
    assert r.speedup_vs_osqp == r.osqp_ms / r.layer_ms and "speedup_vs_osqp" in r.to_dict()
    out = CliRunner().invoke(
        app,
        [
            "bench-constraints",
            "4x3",
            "--batch",
            "8",
            "--cvxpy-samples",
            "2",
            "--min-run-time",
            "0.01",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["m"] == 3
    bad = CliRunner().invoke(app, ["bench-constraints", "4by3"])
    assert bad.exit_code != 0 and "DxM" in bad.output
