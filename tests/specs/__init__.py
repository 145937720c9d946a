"""Test specs, one per registered activation, collected from every module in this package.

Each module defines ``SPECS: list[ActTestSpec]``; a new family adds a file here, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from specs._base import ActTestSpec

__all__ = ["SPECS", "ActTestSpec"]


def _collect() -> dict[str, ActTestSpec]:
    found: dict[str, ActTestSpec] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        for spec in importlib.import_module(f"specs.{info.name}").SPECS:
            if spec.name in found:
                raise ValueError(f"duplicate test spec for {spec.name!r} in specs.{info.name}")
            found[spec.name] = spec
    return found


SPECS: dict[str, ActTestSpec] = _collect()
