"""Every ```python block in the README and docs/ runs as written.

The blocks of one file run in order in one namespace (a later block may use an earlier one's
names, as a reader would), in a temporary working directory, with the global RNG seeded. What a
block changes globally is undone afterwards: an activation a worked example registers leaves the
registry, and torch's thread count is restored (docs/noisy.md sets it to 1, and later tests
compare numbers with child processes that run with the default).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from actlab.core.registry import ACTIVATIONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def test_the_docs_have_python_blocks():
    assert len(_blocks(ROOT / "README.md")) >= 5


@pytest.mark.parametrize("path", [p for p in DOCS if _blocks(p)], ids=lambda p: p.name)
def test_code_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ACTIVATIONS, "_entries", dict(ACTIVATIONS._entries))
    monkeypatch.setattr(ACTIVATIONS, "_aliases", dict(ACTIVATIONS._aliases))
    torch.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    threads = torch.get_num_threads()
    try:
        for i, block in enumerate(_blocks(path)):
            try:
                exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"{path.name}, python block {i} raised {type(exc).__name__}: {exc}\n{block}")
    finally:
        torch.set_num_threads(threads)
