"""Swap the activations of any model for a registered one, and report what changed where.

`swap` walks an `nn.Module` tree and replaces the activation modules selected by ``old`` (a
class, a registered name, a predicate) with fresh modules built from ``new`` (anything
`actlab.create` accepts). With ``trace=True`` it also rewrites functional calls
(``F.relu(x)``, ``torch.tanh(x)``, ``x.sigmoid()``, ...) through `torch.fx`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from actlab.core.registry import ACTIVATIONS, ActivationSpec, activation_classes, create
from actlab.core.specparse import parse_spec
from actlab.core.validation import check_type, fail

__all__ = ["Replacement", "SwapResult", "swap"]

Predicate = Callable[[str, nn.Module], bool]
OldSpec = str | type | Predicate | Sequence[str | type]

# Functional spellings that the registry's `function` fields do not cover (in-place variants,
# the torch.* and Tensor-method forms); each maps to a registry name.
_EXTRA_FUNCTIONS: dict[Any, str] = {
    torch.relu: "relu",
    torch.relu_: "relu",
    F.relu_: "relu",
    F.tanh: "tanh",
    F.sigmoid: "sigmoid",
    torch.selu: "selu",
    torch.celu: "celu",
    F.elu_: "elu",
    F.leaky_relu_: "leaky_relu",
    F.hardtanh_: "hardtanh",
    torch.rrelu: "rrelu",
    torch.prelu: "prelu",
}
_METHODS: dict[str, str] = {
    "relu": "relu",
    "relu_": "relu",
    "tanh": "tanh",
    "tanh_": "tanh",
    "sigmoid": "sigmoid",
    "sigmoid_": "sigmoid",
}


@dataclass(frozen=True)
class Replacement:
    """One replaced activation.

    Attributes:
        name: qualified module name (``layer1.0.relu``) or, for a functional call, the name of
            the module inserted in its place (``swapped_relu_1``).
        old: what was there (a module's repr, or ``F.relu(...)`` for a functional call).
        new: the repr of the module put in its place.
        kind: ``"module"`` or ``"functional"``.
        aliases: other qualified names that referenced the same (shared) module instance.
        channels: the ``num_parameters`` given to the new module (``None`` when not per-channel).
    """

    name: str
    old: str
    new: str
    kind: str
    aliases: tuple[str, ...] = ()
    channels: int | None = None


@dataclass
class SwapResult:
    """The swapped model and the list of replacements, in module order."""

    model: nn.Module
    replaced: list[Replacement] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.replaced)

    def __str__(self) -> str:
        lines = [f"{len(self.replaced)} activation(s) replaced"]
        for r in self.replaced:
            extra = f" (also {', '.join(r.aliases)})" if r.aliases else ""
            lines.append(f"  {r.name}: {r.old} -> {r.new}{extra}")
        return "\n".join(lines)


def _functional_table() -> dict[Any, str]:
    table = {spec.function: spec.name for spec in ACTIVATIONS}
    table.update(_EXTRA_FUNCTIONS)
    return table


def _matcher(old: OldSpec) -> Predicate:
    """Turn ``old`` into a ``(qualname, module) -> bool`` predicate, validating it fully first."""
    if isinstance(old, (str, type)):
        old = [old]
    if callable(old) and not isinstance(old, type):
        return old
    if not isinstance(old, Sequence) or len(old) == 0:
        fail(
            "swap",
            "old",
            "a class, a registered name, a predicate or a non-empty list of those",
            f"{type(old).__name__} {old!r}",
            TypeError,
        )
    classes: list[type] = []
    for item in old:
        if isinstance(item, str):
            classes.append(ACTIVATIONS.get(item).module)  # unknown name -> ValueError with suggestions
        elif isinstance(item, type) and issubclass(item, nn.Module):
            classes.append(item)
        else:
            fail("swap", "old", "a list of nn.Module classes or registered names", repr(item), TypeError)
    wanted = tuple(classes)
    return lambda _name, module: type(module) in wanted


def _factory(new: Any) -> tuple[Callable[[int | None], nn.Module], bool]:
    """A ``channels -> module`` builder for ``new`` and whether it takes ``num_parameters``.

    Builds one module up front so that an unknown name or bad argument fails before any change.
    """
    create(new)  # validation only
    if isinstance(new, nn.Module):
        takes_channels = hasattr(new, "num_parameters")
        return (lambda _c: copy.deepcopy(new)), takes_channels
    if isinstance(new, str):
        name, args, kwargs = parse_spec(new)
        cls = ACTIVATIONS.get(name).module
        explicit = "num_parameters" in kwargs or bool(args)
    elif isinstance(new, ActivationSpec):
        cls, explicit = new.module, False
    elif isinstance(new, type):
        cls, explicit = new, False
    else:  # None: nn.Identity
        return (lambda _c: create(None)), False
    takes_channels = "num_parameters" in inspect.signature(cls).parameters and not explicit

    def build(channels: int | None) -> nn.Module:
        if channels is None or not takes_channels:
            return create(new)
        return create(new, num_parameters=channels)

    return build, takes_channels


class _Probe(nn.Module):
    """Identity stand-in for a functional call while channel counts are recorded."""

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        return x


def _trace(model: nn.Module, table: dict[Any, str]) -> fx.GraphModule:
    classes = activation_classes()

    class _Tracer(fx.Tracer):
        # Registered activation modules stay call_module nodes so the module pass can swap them.
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, classes) or super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises many types (TraceError, TypeError, ...) for dynamic code
        raise TypeError(
            f"swap: `model` must be traceable by torch.fx when trace=True, got "
            f"{type(model).__name__} ({type(exc).__name__}: {exc})"
        ) from exc
    return fx.GraphModule(model, graph, type(model).__name__)


def _functional_nodes(gm: fx.GraphModule, table: dict[Any, str], match: Predicate) -> list[tuple[fx.Node, str]]:
    found = []
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in table:
            name = table[node.target]
        elif node.op == "call_method" and node.target in _METHODS:
            name = _METHODS[node.target]
        else:
            continue
        # The predicate sees a default instance of the registered module for this function.
        if match(node.name, ACTIVATIONS.get(name).module()):
            found.append((node, name))
    return found


def _record_channels(model: nn.Module, targets: dict[int, nn.Module], sample_input: Any) -> dict[int, set[int]]:
    seen: dict[int, set[int]] = {key: set() for key in targets}
    handles = []
    for key, module in targets.items():

        def hook(_m: nn.Module, args: tuple[Any, ...], key: int = key) -> None:
            x = args[0]
            seen[key].add(int(x.shape[1]) if x.dim() >= 2 else 1)

        handles.append(module.register_forward_pre_hook(hook))
    modes = [m.training for m in model.modules()]
    model.eval()  # no batch-norm statistics or dropout noise from the probing pass
    try:
        with torch.no_grad():
            if isinstance(sample_input, tuple):
                model(*sample_input)
            else:
                model(sample_input)
    finally:
        for h in handles:
            h.remove()
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    return seen


def _set_submodule(root: nn.Module, qualname: str, module: nn.Module) -> None:
    parent_name, _, child = qualname.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, module)


def _factory_kwargs(model: nn.Module) -> dict[str, Any]:
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return {"device": t.device, "dtype": t.dtype}
    return {}


def swap(
    model: nn.Module,
    old: OldSpec,
    new: Any,
    *,
    inplace: bool = False,
    trace: bool = False,
    per_channel: bool = False,
    sample_input: Any = None,
) -> SwapResult:
    """Replace activations in ``model`` and report every replacement.

    Args:
        model: any `nn.Module` tree.
        old: what to replace: an `nn.Module` class (``nn.ReLU``), a registered name or alias
            (``"relu"``, meaning its module class), a list of those, or a predicate
            ``(qualname, module) -> bool`` (e.g. ``lambda n, m: n.startswith("layer1")``).
            Only exact classes match (a subclass of ``nn.ReLU`` is not an ``nn.ReLU``).
        new: anything `actlab.create` accepts: a name, a spec string (``"terelu(mu=2.0)"``),
            an `ActivationSpec`, a class, an instance (deep-copied per replacement) or ``None``.
        inplace: modify ``model`` itself; by default a deep copy is modified and ``model`` is
            left untouched. Default: ``False``.
        trace: also rewrite functional calls (``F.relu``, ``torch.tanh``, ``x.sigmoid()``, ...)
            by tracing with `torch.fx`; the result is then an `fx.GraphModule`. Arguments of a
            rewritten call other than its input (``inplace=True``, a slope) are dropped: the new
            activation replaces the old one entirely. Default: ``False``.
        per_channel: give learnable replacements one parameter per channel (dim 1), as
            ``num_parameters=C``. ``C`` comes from the old module's ``num_parameters`` when it
            has more than one, else from ``sample_input``. Ignored when ``new`` does not take
            ``num_parameters`` or sets it explicitly. Default: ``False``.
        sample_input: a tensor (or tuple of positional inputs) run once, in eval mode without
            gradients, to record each replaced activation's ``input.shape[1]``.

    Returns:
        A `SwapResult` with the swapped ``model`` and one `Replacement` per replaced module
        (a module instance shared by several attributes counts once, with ``aliases``).

    Raises:
        ValueError: unknown activation name in ``old`` or ``new``; a shared module whose
            inputs have different channel counts; ``per_channel`` without the channel count.
        TypeError: bad argument types; an untraceable model with ``trace=True``.

    All validation, including building one ``new`` module, happens before ``model`` changes.

    Examples:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2), nn.Tanh())
        >>> result = swap(net, nn.ReLU, "terelu")
        >>> [(r.name, r.new) for r in result.replaced]
        [('1', 'TERELU(alpha=1.0, mu=1.0, num_parameters=1, learn_beta=True)')]
        >>> type(net[1]).__name__  # the original is untouched
        'ReLU'
    """
    check_type("swap", "model", model, nn.Module)
    for flag in ("inplace", "trace", "per_channel"):
        check_type("swap", flag, locals()[flag], bool)
    match = _matcher(old)
    build, takes_channels = _factory(new)
    table = _functional_table()

    work = model if inplace else copy.deepcopy(model)
    traced = _trace(work, table) if trace else None
    if traced is not None:
        work = traced

    # Modules: group every qualified name by instance so shared modules stay shared.
    by_id: dict[int, list[str]] = {}
    instances: dict[int, nn.Module] = {}
    for qualname, module in work.named_modules(remove_duplicate=False):
        if qualname and match(qualname, module):
            by_id.setdefault(id(module), []).append(qualname)
            instances[id(module)] = module

    functional: list[tuple[str, str]] = []  # (inserted name, old description)
    if traced is not None:
        for node, name in _functional_nodes(traced, table, match):
            qualname = f"swapped_{node.name}"
            probe = _Probe()
            traced.add_submodule(qualname, probe)
            with traced.graph.inserting_after(node):
                new_node = traced.graph.call_module(qualname, (node.args[0] if node.args else node.kwargs["input"],))
            node.replace_all_uses_with(new_node)
            traced.graph.erase_node(node)
            by_id[id(probe)] = [qualname]
            instances[id(probe)] = probe
            spelled = f"x.{node.target}()" if node.op == "call_method" else _spell(node.target)
            functional.append((qualname, f"{spelled} [{name}]"))
        traced.graph.lint()
        traced.recompile()

    channels: dict[int, int | None] = dict.fromkeys(by_id)
    if per_channel and takes_channels:
        for key, module in instances.items():
            n = getattr(module, "num_parameters", 1)
            channels[key] = n if isinstance(n, int) and n > 1 else None
        unknown = {k: instances[k] for k, c in channels.items() if c is None}
        if unknown:
            if sample_input is None:
                fail(
                    "swap",
                    "sample_input",
                    "given when per_channel=True and the channel count of "
                    f"{', '.join(by_id[k][0] for k in unknown)} is not known",
                    None,
                )
            for key, shapes in _record_channels(work, unknown, sample_input).items():
                if len(shapes) > 1:
                    fail(
                        "swap",
                        "model",
                        f"free of shared activations with different channel counts "
                        f"(per_channel=True), but {by_id[key]} saw",
                        sorted(shapes),
                    )
                channels[key] = shapes.pop() if shapes else None

    fkw = _factory_kwargs(work)
    described = dict(functional)
    result = SwapResult(model=work)
    for key, names in by_id.items():
        replacement = build(channels[key])
        if fkw:
            replacement = replacement.to(**fkw)
        for qualname in names:
            _set_submodule(work, qualname, replacement)
        old_text = described.get(names[0], repr(instances[key]))
        result.replaced.append(
            Replacement(
                name=names[0],
                old=old_text,
                new=repr(replacement),
                kind="functional" if names[0] in described else "module",
                aliases=tuple(names[1:]),
                channels=channels[key] if takes_channels and per_channel else None,
            )
        )
    if traced is not None:
        traced.recompile()
    return result


def _spell(target: Any) -> str:
    module = getattr(target, "__module__", None) or ""
    prefix = "F." if module.endswith("functional") else "torch."
    return f"{prefix}{getattr(target, '__name__', str(target))}(...)"
