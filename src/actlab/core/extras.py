"""Optional dependencies: import them where they are used, with an error that names the extra.

``pip install actlab`` brings torch and numpy only; the parts that need more (the harness, plots,
the constraint solvers, the CLI, mean-field initialisation) name the extra that brings it, e.g.
``pip install 'actlab[harness]'``. The extras are defined in pyproject.toml.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, feature: str, extra: str) -> ModuleType:
    """Import ``module`` (e.g. ``"cvxpy"`` or ``"scipy.optimize"``), or raise an `ImportError` that
    names ``feature`` (what needed it) and the ``extra`` that installs it.

    Examples:
        >>> require("math", "a doctest", "all").sqrt(4.0)
        2.0
        >>> require("not_a_module", "the demo", "harness")
        Traceback (most recent call last):
        ...
        actlab.core.extras.MissingExtraError: the demo needs 'not_a_module', which is not installed: pip install 'actlab[harness]' (or 'actlab[all]')
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{feature} needs {top!r}, which is not installed: pip install 'actlab[{extra}]' (or 'actlab[all]')"
        ) from exc
