"""The CLI is a thin layer: check each command end to end through typer's runner."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from actlab.cli.main import app

runner = CliRunner()


def test_list_table_and_json():
    res = runner.invoke(app, ["list", "hard*"])
    assert res.exit_code == 0, res.output
    assert "hardtanh" in res.output and "relu6" not in res.output
    res = runner.invoke(app, ["list", "--family", "classic", "--json"])
    records = json.loads(res.output)
    assert [r["name"] for r in records] == ["terelu"]
    assert records[0]["learnable"] is True and records[0]["stochastic"] is False


def test_list_unknown_family_is_a_clear_error():
    res = runner.invoke(app, ["list", "--family", "nope"])
    assert res.exit_code == 2
    assert "`family` must be one of" in res.output


def test_plot_writes_png(tmp_path):
    out = tmp_path / "a.png"
    res = runner.invoke(app, ["plot", "relu", "terelu(mu=2.0)", "rrelu", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_unknown_name_fails_without_writing(tmp_path):
    out = tmp_path / "a.png"
    res = runner.invoke(app, ["plot", "relu", "reul", "--out", str(out)])
    assert res.exit_code == 2 and "did you mean 'relu'" in res.output
    assert not out.exists()


def test_bench_ops_json_has_ratios_to_relu():
    res = runner.invoke(app, ["bench-ops", "terelu", "tanh", "--numel", "4096", "--min-run-time", "0.01", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert set(rows) == {"relu", "terelu", "tanh"}
    assert rows["relu"]["fwd_bwd_ratio"] == 1.0
    # relu saves its output, terelu its input and beta: one input-sized tensor each.
    assert rows["relu"]["saved_bytes"] == 4096 * 4
    assert rows["terelu"]["saved_bytes"] >= 4096 * 4
    assert all(r["forward_ms"] > 0 and r["fwd_bwd_ms"] > 0 for r in rows.values())


def test_bench_ops_scale_is_validated_and_shown():
    res = runner.invoke(app, ["bench-ops", "relu", "--numel", "256", "--scale", "0", "--min-run-time", "0.01"])
    assert res.exit_code == 2 and "`scale` must be > 0, got 0.0" in res.output
    res = runner.invoke(
        app, ["bench-ops", "hardtanh", "--numel", "256", "--scale", "0.3", "--min-run-time", "0.01", "--markdown"]
    )
    assert res.exit_code == 0 and "scale=0.3" in res.output


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "actlab", "list", "terelu", "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["name"] == "terelu"
