"""Small benchmark models with an activation spec at every nonlinearity.

Each site gets its own module from `actlab.create`, so learnable activations learn per layer and
stochastic ones draw independent noise. Models take ``(B, *input_shape)`` and reshape as they
need (a 1-D CNN sees a length-40 signal as one channel, an RNN sees it as 40 steps of 1 feature).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from actlab.core.registry import create
from actlab.core.specparse import parse_spec
from actlab.core.validation import check_choice, check_type, fail
from actlab.noisy.recurrent import LSTM

__all__ = ["MODELS", "MLP", "CNN1d", "CNN2d", "LayerActs", "RecurrentNet", "ResNet", "build_model", "site_template"]


@dataclass(frozen=True)
class LayerActs:
    """Activations by layer type, the spec ``hybrid(conv=..., dense=..., dense_norm=True, per_channel=True)``.

    The SLAF authors' "SLAF with ReLU" (PAPERS.md, section 2) is ``hybrid(conv='slaf_bn',
    dense='relu')``: SLAF in the conv layers, BatchNorm1d + ReLU in the dense (hidden ``Linear``)
    layers. Understood by `MLP` (every layer dense), `CNN1d` and `CNN2d` (convs, then the
    ``dense`` hidden layers); other models reject it.

    Attributes:
        conv, dense: activation specs (as for `create`) for conv and dense sites.
        dense_norm: put ``BatchNorm1d(width)`` before each dense-site activation.
        per_channel: give activations that take ``num_parameters`` one per channel / feature.
    """

    conv: str = "slaf_bn"
    dense: str = "relu"
    dense_norm: bool = True
    per_channel: bool = True

    def __post_init__(self) -> None:
        for name in ("conv", "dense"):
            create(check_type("hybrid", name, getattr(self, name), str))  # unknown names fail now
        check_type("hybrid", "dense_norm", self.dense_norm, bool)
        check_type("hybrid", "per_channel", self.per_channel, bool)

    @staticmethod
    def parse(spec: object) -> LayerActs | None:
        """The `LayerActs` of a ``"hybrid(...)"`` string; ``None`` for any other spec."""
        if not (isinstance(spec, str) and spec.strip().startswith("hybrid(")):
            return None
        _, args, kwargs = parse_spec(spec)
        if args:
            fail("hybrid", "spec", "keyword arguments only (conv=, dense=, dense_norm=, per_channel=)", spec)
        try:
            return LayerActs(**kwargs)
        except TypeError:
            fail("hybrid", "spec", "arguments among conv, dense, dense_norm, per_channel", spec, TypeError)

    def make(self, site: str, width: int) -> nn.Module:
        module = create(self.conv if site == "conv" else self.dense)
        params = inspect.signature(type(module)).parameters
        if self.per_channel and width > 1 and "num_parameters" in params:
            module = create(self.conv if site == "conv" else self.dense, num_parameters=width)
        if site == "dense" and self.dense_norm:
            return nn.Sequential(nn.BatchNorm1d(width), module)
        return module


ActSpec = str | Callable[[], nn.Module] | LayerActs | None


def _act(spec: ActSpec, site: str = "conv", width: int = 1) -> nn.Module:
    if isinstance(spec, LayerActs):
        return spec.make(site, width)
    return spec() if callable(spec) and not isinstance(spec, (str, type)) else create(spec)


def site_template(spec: str) -> nn.Module:
    """A fresh module of the kind whose learned curves the harness records: ``create(spec)``, or a hybrid's conv activation."""
    hybrid = LayerActs.parse(spec)
    return create(hybrid.conv if hybrid is not None else spec)


class MLP(nn.Module):
    """Flatten, then ``Linear -> act`` per hidden layer, then a linear head."""

    def __init__(
        self, in_features: int, num_outputs: int, act: ActSpec = "relu", *, hidden: Sequence[int] = (128, 128)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), _act(act, "dense", h)]
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        return self.net(x)


def _conv_stack(dim: int, in_ch: int, channels: Sequence[int], act: ActSpec, norm: bool) -> list[nn.Module]:
    conv, bn, pool = (
        (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if dim == 1 else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
    )
    layers: list[nn.Module] = []
    for i, ch in enumerate(channels):
        layers += [conv(in_ch, ch, 3, padding=1), *([bn(ch)] if norm else []), _act(act, "conv", ch)]
        if i < len(channels) - 1:
            layers.append(pool(2))
        in_ch = ch
    return layers


class _CNN(nn.Module):
    dim = 1

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        act: ActSpec = "relu",
        *,
        channels: Sequence[int] = (32, 64),
        norm: bool = False,
        dense: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        in_ch = 1 if len(self.in_shape) == self.dim else self.in_shape[0]
        pool = nn.AdaptiveAvgPool1d(1) if self.dim == 1 else nn.AdaptiveAvgPool2d(1)
        hidden: list[nn.Module] = []
        width = channels[-1]
        for h in dense:  # hidden dense layers after the pool: `Linear -> act`
            hidden += [nn.Linear(width, h), _act(act, "dense", h)]
            width = h
        self.features = nn.Sequential(*_conv_stack(self.dim, in_ch, channels, act, norm), pool, nn.Flatten(), *hidden)
        self.head = nn.Linear(width, num_outputs)

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        if x.dim() == self.dim + 1:  # no channel axis: one channel
            x = x.unsqueeze(1)
        return self.head(self.features(x))


class CNN1d(_CNN):
    """Conv1d stack (3-wide kernels, max-pool between blocks, optional BatchNorm), average pool, ``dense`` hidden layers, head."""

    dim = 1


class CNN2d(_CNN):
    """Conv2d stack (3x3 kernels, max-pool between blocks, optional BatchNorm), average pool, ``dense`` hidden layers, head."""

    dim = 2


class _Block(nn.Module):
    def __init__(self, dim: int, ch: int, act: ActSpec, norm: bool) -> None:
        super().__init__()
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        bn = (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d) if norm else (lambda c: nn.Identity())
        self.body = nn.Sequential(conv(ch, ch, 3, padding=1), bn(ch), _act(act), conv(ch, ch, 3, padding=1), bn(ch))
        self.out_act = _act(act)

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        return self.out_act(x + self.body(x))


class ResNet(nn.Module):
    """A small residual net (stem conv, ``blocks`` basic blocks, average pool, head), 1-D or 2-D."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        act: ActSpec = "relu",
        *,
        width: int = 32,
        blocks: int = 2,
        dim: int | None = None,
        norm: bool = True,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.dim = dim if dim is not None else (1 if len(self.in_shape) == 1 else 2)
        in_ch = 1 if len(self.in_shape) == self.dim else self.in_shape[0]
        conv = nn.Conv1d if self.dim == 1 else nn.Conv2d
        pool = nn.AdaptiveAvgPool1d(1) if self.dim == 1 else nn.AdaptiveAvgPool2d(1)
        self.net = nn.Sequential(
            conv(in_ch, width, 3, padding=1),
            _act(act),
            *[_Block(self.dim, width, act, norm) for _ in range(blocks)],
            pool,
            nn.Flatten(),
            nn.Linear(width, num_outputs),
        )

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        if x.dim() == self.dim + 1:
            x = x.unsqueeze(1)
        return self.net(x)


class RecurrentNet(nn.Module):
    """A recurrent encoder followed by ``Linear -> act -> Linear`` on its outputs.

    Args:
        rnn_cls: the recurrent layer, called as ``rnn_cls(input_size, hidden_size, **rnn_kwargs)``
            and applied to time-major input ``(T, B, F)``, returning ``(outputs, state)`` like
            `torch.nn.LSTM`. The hook is where noisy LSTM/GRU cells plug in; their own
            ``gate_act``/``cell_act`` go in ``rnn_kwargs``.
        out_steps: ``None`` to predict from the last step; ``k`` to predict at each of the last ``k``.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        act: ActSpec = "tanh",
        *,
        hidden: int = 64,
        rnn_cls: Callable[..., nn.Module] = nn.LSTM,
        rnn_kwargs: dict[str, Any] | None = None,
        out_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.features = 1 if len(in_shape) == 1 else math.prod(in_shape[1:])
        self.rnn = rnn_cls(self.features, hidden, **(rnn_kwargs or {}))
        self.out_steps = out_steps
        self.head = nn.Sequential(nn.Linear(hidden, hidden), _act(act), nn.Linear(hidden, num_outputs))

    def forward(self, x: torch.Tensor, /) -> torch.Tensor:
        seq = x.reshape(x.shape[0], x.shape[1], self.features).transpose(0, 1)  # (T, B, F)
        out, _ = self.rnn(seq)
        if self.out_steps is None:
            return self.head(out[-1])
        return self.head(out[-self.out_steps :]).transpose(0, 1)  # (B, k, C)


MODELS = ("linear", "mlp", "cnn1d", "cnn2d", "resnet", "rnn", "gru", "gated_rnn")


def build_model(name: str | None, task: Any, act: ActSpec = "relu", **kwargs: Any) -> nn.Module:
    """Build ``name`` for ``task`` (a `Task`: input shape, outputs, output steps) with ``act`` everywhere.

    Args:
        name: one of `MODELS` (or ``None`` for the task's default). ``linear`` is logistic
            regression (no activation: the floor of a comparison); ``rnn`` has a `torch.nn.LSTM`
            encoder, ``gru`` a `torch.nn.GRU` one (the MNIST-1D reference's GRU); ``gated_rnn`` is
            an `actlab.noisy.recurrent.LSTM` whose gates use ``act`` (cell and head: tanh).
        task: the `actlab.harness.tasks.Task` the model is for.
        act: an activation spec string, ``None`` (identity) or a zero-argument factory; or
            activations by layer type, ``"hybrid(conv='slaf_bn', dense='relu')"`` (`LayerActs`;
            ``mlp``, ``cnn1d``, ``cnn2d`` only).
        **kwargs: model options (``hidden``, ``channels``, ``dense``, ``norm``, ``width``, ``rnn_cls``, ...).

    Raises:
        ValueError: unknown model or a model that cannot read the task's inputs.
    """
    name = name or task.default_model
    check_choice("build_model", "name", name, MODELS)
    act = LayerActs.parse(act) or act
    if isinstance(act, LayerActs) and name not in ("mlp", "cnn1d", "cnn2d"):
        fail("build_model", "name", "'mlp', 'cnn1d' or 'cnn2d' for a hybrid(...) activation spec", name)
    shape, out = task.input_shape, task.num_outputs
    if task.out_steps is not None and name not in ("rnn", "gru", "gated_rnn"):
        fail("build_model", "name", f"'rnn' for the per-step task {task.name!r}", name)
    if name == "cnn2d" and len(shape) not in (2, 3):
        fail("build_model", "name", f"a model for inputs of shape {shape} (cnn2d needs (H, W) or (C, H, W))", name)
    if name == "cnn1d" and len(shape) not in (1, 2):
        fail("build_model", "name", f"a model for inputs of shape {shape} (cnn1d needs (L,) or (C, L))", name)
    if name == "linear":
        return MLP(math.prod(shape), out, None, hidden=())
    if name == "mlp":
        return MLP(math.prod(shape), out, act, **kwargs)
    if name == "cnn1d":
        return CNN1d(shape, out, act, **kwargs)
    if name == "cnn2d":
        return CNN2d(shape, out, act, **kwargs)
    if name == "resnet":
        return ResNet(shape, out, act, **kwargs)
    if name == "rnn":
        return RecurrentNet(shape, out, act, out_steps=task.out_steps, **kwargs)
    if name == "gru":
        return RecurrentNet(shape, out, act, out_steps=task.out_steps, rnn_cls=nn.GRU, **kwargs)
    if name == "gated_rnn":
        # The paper's use: the compared activation sits in the LSTM's i, f, o gates
        # (e.g. noisy_hard_sigmoid); cell and head keep tanh.
        return RecurrentNet(
            shape,
            out,
            "tanh",
            out_steps=task.out_steps,
            rnn_cls=LSTM,
            rnn_kwargs={"gate_act": act, **kwargs.pop("rnn_kwargs", {})},
            **kwargs,
        )
    raise AssertionError(name)  # unreachable: check_choice covers MODELS
