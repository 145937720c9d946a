"""The layout's import rules, read from the source with ast (nothing is imported).

Layers, lowest first: the core, the families, the facades, the tools (in their own order), the
CLI. A module may import from its own layer or one below; never from above, never in a circle,
never the ``actlab`` package itself (its ``__init__`` is the top). Imports of actlab modules sit at
the top of a module, except in the CLI (which imports its commands when they run, for a fast
``--help``).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: rank of each top-level part of the package; a module may import only ranks <= its own
LAYERS: dict[str, int] = {
    "core": 0,
    **dict.fromkeys(["classic", "noisy", "slaf", "quantized", "gaf", "constraints"], 1),
    **dict.fromkeys(["functional", "nn"], 2),
    **dict.fromkeys(["data", "plotting", "swap"], 3),
    "training": 4,
    "inspect": 5,
    "harness": 6,
    **dict.fromkeys(["bench", "experiments"], 7),
    **dict.fromkeys(["cli", "__main__"], 8),
}
FAMILIES = {"classic", "noisy", "slaf", "quantized", "gaf", "constraints"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "actlab").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The actlab module that ``name`` (a module or a name inside one) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported actlab module, line, at module top) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" for a in node.names]
        for t in targets:
            if t == "actlab" or t.startswith("actlab."):
                resolved = _resolve(t)
                if resolved is not None:
                    out.append((resolved, node.lineno, id(node) in top))
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "actlab"


def test_every_part_has_a_layer():
    assert {_part(m) for m in MODULES} - {"actlab"} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "actlab"))
def test_imports_run_down_the_layers(module):
    rank = LAYERS[_part(module)]
    for target, line, _ in GRAPH[module]:
        assert target != "actlab", f"{module}:{line} imports the actlab package itself (its __init__ is the top)"
        assert LAYERS[_part(target)] <= rank, (
            f"{module}:{line} imports {target}: layer {_part(target)} ({LAYERS[_part(target)]}) is above "
            f"{_part(module)} ({rank})"
        )
        if _part(module) in FAMILIES and _part(target) in FAMILIES:
            assert _part(module) == _part(target), f"{module}:{line} imports another family, {target}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) != "cli"))
def test_actlab_imports_sit_at_the_top(module):
    local = [(t, line) for t, line, top in GRAPH[module] if not top]
    assert not local, f"{module} imports actlab modules inside functions: {local}"


def test_no_import_circles():
    edges = {m: {t for t, _, _ in GRAPH[m] if t != m} for m in MODULES}
    # A module imports its parent packages too; a package importing its own submodules is not a circle.
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges[m]):
            if m.startswith(t + ".") or t == "actlab":
                continue
            if state.get(t) == 1:
                cycle = [*stack[stack.index(t):], t] if t in stack else [m, t]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in MODULES:
        if m not in state:
            visit(m, [m])


def test_the_layer_test_sees_a_violation():
    # The rules would flag an arrow from the core up to a family (a check of the check).
    fake = {"core.x": [("actlab.noisy", 1, True)]}
    assert all(LAYERS[_part(t)] > LAYERS["core"] for t, _, _ in itertools.chain(*fake.values()))
