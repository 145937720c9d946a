"""`import actlab` stays lean: the core and the families load no tool's optional dependency."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actlab.core.extras import require

# torch._dynamo: 1.7 s of import that only torch.compile users need (they import it anyway).
HEAVY = ("matplotlib", "scipy", "cvxpy", "sklearn", "tensorboard", "typer", "rich", "cdd", "mnist1d", "torch._dynamo")


def test_import_actlab_loads_no_optional_dependency():
    code = (
        "import sys, actlab; actlab.create('slaf'); actlab.gaf.GradientActivation; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tools_are_reachable_after_import_actlab():
    code = "import actlab; print(actlab.harness.compare.__name__, actlab.experiments.reproduce.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["compare", "reproduce"]


def test_a_missing_optional_module_names_its_extra():
    with pytest.raises(ImportError, match=r"the demo needs 'no_such_module'.*pip install 'actlab\[harness\]'"):
        require("no_such_module", "the demo", "harness")


@pytest.mark.parametrize(
    ("hidden", "argv", "extra"),
    [
        ("typer", ["list"], "cli"),
        ("matplotlib", ["plot", "relu", "--out", "x.png"], "plot"),
        ("sklearn", ["compare", "--task", "digits", "--acts", "relu", "--seeds", "1", "--epochs", "1"], "harness"),
    ],
)
def test_a_command_whose_extra_is_missing_says_which_to_install(tmp_path, hidden, argv, extra):
    # None in sys.modules makes the import fail as if the package were not installed.
    code = f"import sys; sys.modules[{hidden!r}] = None; sys.argv = ['actlab', *{argv!r}]; import actlab.cli; actlab.cli.main()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"pip install 'actlab[{extra}]'" in out.stderr and "Traceback" not in out.stderr
