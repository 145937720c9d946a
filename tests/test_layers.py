"""The layout's import rules, read from the source with ast (nothing is imported).

Layers, lowest first: the core, the families, the facades, the tools (in their own order), the
CLI. A module may import from its own layer or one below; never from above, never in a circle,
never the ``actlab`` package itself (its ``__init__`` is the top). Imports of actlab modules sit at
the top of a module, except in the CLI (which imports its commands when they run, for a fast
``--help``).
"""

from __future__ import annotations

import ast
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


def _layer_violations(module: str, imports: list[tuple[str, int, bool]]) -> list[str]:
    """Why ``module``'s imports break the rules (empty when they keep them)."""
    out = []
    rank = LAYERS[_part(module)]
    for target, line, top in imports:
        where = f"{module}:{line} imports {target}"
        if target == "actlab":
            out.append(f"{where}: the package itself (its __init__ is the top)")
        elif LAYERS[_part(target)] > rank:
            out.append(f"{where}: layer {_part(target)} ({LAYERS[_part(target)]}) is above {_part(module)} ({rank})")
        elif _part(module) in FAMILIES and _part(target) in FAMILIES and _part(module) != _part(target):
            out.append(f"{where}: another family")
        if not top and _part(module) != "cli":
            out.append(f"{where} inside a function")
    return out


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "actlab"))
def test_imports_run_down_the_layers(module):
    assert _layer_violations(module, GRAPH[module]) == []


def test_the_rules_catch_each_kind_of_violation():
    cases = {
        "actlab.core.registry": [("actlab.noisy.core", 3, True)],  # core -> family
        "actlab.noisy.core": [("actlab.harness.compare", 4, True)],  # family -> tool
        "actlab.slaf.activation": [("actlab.noisy.core", 5, True)],  # family -> family
        "actlab.harness.compare": [("actlab", 6, True)],  # the package itself
        "actlab.swap": [("actlab.core.specparse", 7, False)],  # a function-local import
    }
    for module, imports in cases.items():
        assert len(_layer_violations(module, imports)) == 1, module
    assert _layer_violations("actlab.cli.main", [("actlab.harness.compare", 8, False)]) == []


def _circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``edges`` (module -> imported modules), or None."""
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> list[str] | None:
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if m.startswith(t + ".") or t == "actlab":
                continue  # a module imports its parent packages too: not a circle
            if state.get(t) == 1:
                return [*stack[stack.index(t) :], t]
            if t not in state and (found := visit(t, [*stack, t])):
                return found
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_no_import_circles():
    edges = {m: {t for t, _, _ in GRAPH[m] if t != m} for m in MODULES}
    assert _circle(edges) is None


def test_a_circle_is_found():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _circle({"a.x": {"a"}, "a": {"a.x"}}) is None  # a package and its own submodule
