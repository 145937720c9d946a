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
    results = bench_optim(
        ("sgd_momentum", "adam"),
        variants=("grad", "update", "fused"),
        min_run_time=0.01,
        shapes=[(16, 8), (8,)],
        rounds=1,
    )
    assert [(r.optimizer, r.variant) for r in results] == [
        ("sgd_momentum", "grad"),
        ("sgd_momentum", "update"),
        ("sgd_momentum", "fused"),
        ("adam", "grad"),
        ("adam", "update"),
        ("adam", "fused"),
    ]
    assert all(
        r.numel == 136
        and r.gaf_ms > 0
        and set(r.bare_ms) == {"default", "foreach", "fused"}
        and min(r.bare_ms.values()) > 0
        for r in results
    )
    d = results[0].to_dict()
    assert d["overhead"]["fused"] == results[0].gaf_ms / results[0].bare_ms["fused"] - 1
    # The variants of one optimizer share its bare timings.
    assert results[0].bare_ms == results[2].bare_ms


def test_cli_rejects_unknown_optimizer_and_fn():
    runner = CliRunner()
    res = runner.invoke(app, ["bench-optim", "sgd_momentun"])
    assert res.exit_code == 2 and "did you mean 'sgd_momentum'" in res.output
    res = runner.invoke(app, ["bench-optim", "adam", "--fn", "atn", "--json"])
    assert res.exit_code == 2 and "unknown gradient activation 'atn'" in res.output


def test_cli_rejects_unknown_variant():
    res = CliRunner().invoke(app, ["bench-optim", "adam", "--variant", "fusd"])
    assert res.exit_code == 2 and "did you mean 'fused'" in res.output


def test_cli_help_lists_the_command():
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0 and "bench-optim" in res.output
