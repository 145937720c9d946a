"""`bench_optim` and `actlab bench-optim` (numbers are printed, never asserted)."""

from __future__ import annotations

import math

from typer.testing import CliRunner

from actlab.bench.optim import bench_optim, resnet18_shapes
from actlab.cli.main import app


def test_resnet18_shapes_have_torchvisions_parameter_count():
    shapes = resnet18_shapes()
    assert sum(math.prod(s) for s in shapes) == 11_689_512 and len(shapes) == 62


def test_bench_optim_times_bare_and_wrapped_steps():
    results = bench_optim(("sgd_momentum", "adam"), placements=("grad", "update"), min_run_time=0.01,
                          shapes=[(16, 8), (8,)])
    assert [(r.optimizer, r.placement) for r in results] == [
        ("sgd_momentum", "grad"), ("sgd_momentum", "update"), ("adam", "grad"), ("adam", "update")]
    assert all(r.numel == 136 and r.bare_ms > 0 and r.gaf_ms > 0 for r in results)
    assert results[0].to_dict()["overhead"] == results[0].gaf_ms / results[0].bare_ms - 1


def test_cli_rejects_unknown_optimizer_and_fn():
    runner = CliRunner()
    res = runner.invoke(app, ["bench-optim", "sgd_momentun"])
    assert res.exit_code == 2 and "did you mean 'sgd_momentum'" in res.output
    res = runner.invoke(app, ["bench-optim", "adam", "--fn", "atn", "--json"])
    assert res.exit_code == 2 and "unknown gradient activation 'atn'" in res.output


def test_cli_help_lists_the_command():
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0 and "bench-optim" in res.output
