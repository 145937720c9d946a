"""The activation registry: one frozen dataclass per entry, looked up by name or spec string.

Families register their entries at import time (``register(ActivationSpec(...))`` beside the
function and module). `create` turns a name, a spec string, a class, an instance or ``None``
into a module, so any model with an ``act_layer=`` argument can be configured by string.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from actlab.core.specparse import parse_spec
from actlab.core.validation import suggest

__all__ = [
    "ACTIVATIONS",
    "ActivationSpec",
    "Registry",
    "activation_classes",
    "activation_modules",
    "create",
    "get_spec",
    "list_activations",
    "list_families",
    "register",
    "spec_of",
]


@dataclass(frozen=True)
class ActivationSpec:
    """One registered activation.

    Attributes:
        name: canonical snake_case name.
        module: the `nn.Module` class; ``module()`` must build the paper's default.
        function: the functional form (``function(x, /, **hyperparameters)``).
        family: ``torch``, ``classic``, ``noisy``, ``learnable``, ``quantized``, ...
        description: one line.
        paper: the reference (authors, year, arXiv id) or ``""``.
        aliases: other accepted names.
        stochastic: whether training-mode output is random (eval is deterministic).
        saturation: optional ``x -> bool mask`` of pre-activations in the saturated regime
            (zero or vanishing derivative); used by the monitors.
    """

    name: str
    module: type[nn.Module]
    function: Callable[..., torch.Tensor]
    family: str
    description: str
    paper: str = ""
    aliases: tuple[str, ...] = ()
    stochastic: bool = False
    saturation: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, compare=False)

    @property
    def learnable(self) -> bool:
        """Whether the default module has trainable parameters."""
        return any(p.requires_grad for p in self.module().parameters())


E = TypeVar("E")


class Registry(Generic[E]):
    """A name -> entry map with aliases, duplicate detection and "did you mean" errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, E] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, entry: E, aliases: tuple[str, ...] = ()) -> E:
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.kind} registry: name {key!r} is already registered")
        self._entries[name] = entry
        self._aliases.update({a: name for a in aliases})
        return entry

    def canonical(self, name: str) -> str:
        """The canonical name for ``name`` or an alias; `ValueError` with suggestions otherwise."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted(self._entries)
        hint = suggest(name, [*known, *self._aliases])
        raise ValueError(f"unknown {self.kind} {name!r}{hint}; registered: {', '.join(known)}")

    def get(self, name: str) -> E:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[E]:
        return (self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)


ACTIVATIONS: Registry[ActivationSpec] = Registry("activation")


def register(spec: ActivationSpec) -> ActivationSpec:
    """Add ``spec`` to the activation registry (duplicate names or aliases are an error)."""
    return ACTIVATIONS.add(spec.name, spec, spec.aliases)


def get_spec(name: str) -> ActivationSpec:
    """Return the registry entry for ``name`` (canonical or alias)."""
    return ACTIVATIONS.get(name)


def list_activations(pattern: str | None = None, *, family: str | None = None) -> list[str]:
    """Sorted canonical names, optionally filtered by a glob ``pattern`` and a ``family``.

    Example:
        >>> "terelu" in list_activations("ter*")
        True
    """
    if family is not None and family not in list_families():
        raise ValueError(f"list_activations: `family` must be one of {', '.join(list_families())}, got {family!r}")
    return [
        s.name
        for s in ACTIVATIONS
        if (pattern is None or fnmatch.fnmatchcase(s.name, pattern)) and (family is None or s.family == family)
    ]


def list_families() -> list[str]:
    """Sorted names of the families with at least one entry."""
    return sorted({s.family for s in ACTIVATIONS})


def activation_classes() -> tuple[type[nn.Module], ...]:
    """The module classes of every registered entry (the registry grows at import, so not cached)."""
    return tuple(dict.fromkeys(spec.module for spec in ACTIVATIONS))


def spec_of(module: nn.Module) -> ActivationSpec | None:
    """The registry entry whose module class is exactly ``type(module)``, or None."""
    return next((spec for spec in ACTIVATIONS if type(module) is spec.module), None)


def activation_modules(model: nn.Module, kind: type[nn.Module] | None = None) -> list[tuple[str, nn.Module]]:
    """The named submodules of ``model`` (itself included) that are registered activations.

    The one way the tools find "the activations of a model" (swap, the monitors, the learnable
    families' training helpers, the harness). With ``kind``, only modules of exactly that class.

    Examples:
        >>> model = nn.Sequential(nn.Linear(2, 2), create("terelu"), nn.Linear(2, 1), nn.ReLU())
        >>> [(name, type(m).__name__) for name, m in activation_modules(model)]
        [('1', 'TERELU'), ('3', 'ReLU')]
    """
    if kind is not None:
        return [(n, m) for n, m in model.named_modules() if type(m) is kind]
    classes = activation_classes()
    return [(n, m) for n, m in model.named_modules() if isinstance(m, classes)]


def _build(spec: ActivationSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> nn.Module:
    # Bind first so an unknown argument names the activation and what it accepts.
    try:
        inspect.signature(spec.module).bind(*args, **kwargs)
    except TypeError as exc:
        accepted = ", ".join(p for p in inspect.signature(spec.module).parameters if p not in ("device", "dtype"))
        raise TypeError(f"{spec.name}: {exc}; accepted arguments: {accepted or '(none)'}") from None
    return spec.module(*args, **kwargs)


def create(spec: str | ActivationSpec | type[nn.Module] | nn.Module | None, **overrides: Any) -> nn.Module:
    """Build an activation module from a flexible specification.

    Args:
        spec: a registered name or alias (``"gelu"``), a spec string with literal arguments
            (``"terelu(alpha=0.5, mu=2.0)"``), an `ActivationSpec`, an `nn.Module` subclass,
            an `nn.Module` instance (returned as is) or ``None`` (`nn.Identity`).
        **overrides: keyword arguments applied on top of those in the spec string.

    Raises:
        ValueError: unknown name (with close matches) or malformed spec string.
        TypeError: arguments the activation does not accept, or an unsupported ``spec`` type.

    Examples:
        >>> create("terelu(mu=2.0)")
        TERELU(alpha=1.0, mu=2.0, num_parameters=1, learn_beta=True)
        >>> create(None)
        Identity()
    """
    if spec is None:
        module: nn.Module = nn.Identity()
    elif isinstance(spec, nn.Module):
        if overrides:
            raise TypeError(f"create: `overrides` must be empty when `spec` is a module instance, got {overrides}")
        module = spec
    elif isinstance(spec, type) and issubclass(spec, nn.Module):
        module = spec(**overrides)
    elif isinstance(spec, ActivationSpec):
        module = _build(spec, (), overrides)
    elif isinstance(spec, str):
        name, args, kwargs = parse_spec(spec)
        module = _build(ACTIVATIONS.get(name), args, {**kwargs, **overrides})
    else:
        raise TypeError(
            "create: `spec` must be a name, spec string, ActivationSpec, nn.Module class, "
            f"nn.Module instance or None, got {type(spec).__name__}"
        )
    return module
