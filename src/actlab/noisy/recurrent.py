r"""LSTM and GRU layers whose gate and cell activations are any registered activation.

With the defaults (``sigmoid`` gates, ``tanh`` cell) they compute exactly what `torch.nn.LSTM`
/ `torch.nn.GRU` compute, with the same parameter names and layouts, so weights load from
either. The use Gulcehre et al. (2016) make of noisy units -- hard-sigmoid gates with noise in
their saturated part -- is one argument away::

    LSTM(10, 64, gate_act="noisy_hard_sigmoid", cell_act="noisy_hard_tanh", batch_first=True)

Each gate gets its own activation module (so a learnable ``p`` is per gate, and per unit with
``"noisy_hard_sigmoid(num_parameters=64)"``). The time loop runs in Python: slower than
cuDNN/oneDNN's fused RNNs, which cannot take a custom activation.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import Tensor, nn

from actlab.core.registry import create
from actlab.core.validation import check_int, check_interval, check_type, fail

__all__ = ["GRU", "LSTM"]

ActSpec = str | nn.Module | type[nn.Module] | None


class _RNNBase(nn.Module):
    _gates: tuple[str, ...] = ()
    _gate_kinds: dict[str, str] = {}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        gate_act: ActSpec,
        cell_act: ActSpec,
        device,
        dtype,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_int(owner, "input_size", input_size, ">=", 1)
        check_int(owner, "hidden_size", hidden_size, ">=", 1)
        check_int(owner, "num_layers", num_layers, ">=", 1)
        check_type(owner, "bias", bias, bool)
        check_type(owner, "batch_first", batch_first, bool)
        check_interval(owner, "dropout", dropout, 0.0, 1.0, closed="left")
        if isinstance(gate_act, nn.Module) or isinstance(cell_act, nn.Module):
            # One instance would be shared by every gate (and its parameters with it).
            fail(
                owner,
                "gate_act/cell_act",
                "a name, spec string or class (one module is built per gate)",
                "an nn.Module instance",
                TypeError,
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.gate_act, self.cell_act = gate_act, cell_act
        n = len(self._gates) * hidden_size
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", nn.Parameter(torch.empty(n, in_size, **factory)))
            setattr(self, f"weight_hh_l{layer}", nn.Parameter(torch.empty(n, hidden_size, **factory)))
            if bias:
                setattr(self, f"bias_ih_l{layer}", nn.Parameter(torch.empty(n, **factory)))
                setattr(self, f"bias_hh_l{layer}", nn.Parameter(torch.empty(n, **factory)))
        spec = {"gate": gate_act, "cell": cell_act}
        self.acts = nn.ModuleList(
            nn.ModuleDict({name: create(spec[kind]).to(**factory) for name, kind in self._gate_kinds.items()})
            for _ in range(num_layers)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's RNN initialisation: every weight and bias uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith(("weight_", "bias_")):
                    p.uniform_(-bound, bound)

    def _layer_params(self, layer: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        def get(n: str) -> Tensor | None:
            return getattr(self, f"{n}_l{layer}", None)

        # The weights are always registered; only the biases can be missing (bias=False).
        return cast(Tensor, get("weight_ih")), cast(Tensor, get("weight_hh")), get("bias_ih"), get("bias_hh")

    def _prepare(self, x: Tensor) -> tuple[Tensor, bool]:
        if x.dim() not in (2, 3):
            fail(type(self).__name__, "input", "2-D (unbatched) or 3-D", f"{x.dim()}-D")
        if x.shape[-1] != self.input_size:
            fail(type(self).__name__, "input", f"of size {self.input_size} in its last dim", x.shape[-1])
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, batched  # (T, B, F)

    def _finish(self, out: Tensor, batched: bool) -> Tensor:
        if not batched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    def _between_layers(self, out: Tensor, layer: int) -> Tensor:
        if self.dropout > 0 and layer < self.num_layers - 1:
            return nn.functional.dropout(out, self.dropout, self.training)
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
            f"batch_first={self.batch_first}, dropout={self.dropout}, gate_act={self.gate_act!r}, "
            f"cell_act={self.cell_act!r}"
        )


def _state(hx: Tensor | None, layers: int, batch: int, hidden: int, like: Tensor, batched: bool) -> Tensor:
    if hx is None:
        return like.new_zeros(layers, batch, hidden)
    return hx if batched else hx.unsqueeze(1)


class LSTM(_RNNBase):
    r"""A multi-layer LSTM with configurable gate and cell activations.

    .. math::
        i, f, o = \sigma_g(W_{i\{i,f,o\}} x_t + b_{i\cdot} + W_{h\{i,f,o\}} h_{t-1} + b_{h\cdot}), \quad
        g = \sigma_c(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), \quad
        c_t = f \odot c_{t-1} + i \odot g, \quad h_t = o \odot \sigma_c(c_t)

    Args:
        input_size, hidden_size: feature sizes, >= 1.
        num_layers: stacked layers, >= 1. Default: 1.
        bias: use ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first: input and output are ``(B, T, F)``. Default: ``False``.
        dropout: dropout on each layer's output except the last, in [0, 1). Default: 0.
        gate_act: activation of the i, f, o gates, any `actlab.create` spec. Default: ``"sigmoid"``.
        cell_act: activation of the cell input ``g`` and of ``c_t``. Default: ``"tanh"``.
        device, dtype: factory arguments.

    Shape:
        Like `torch.nn.LSTM` (without ``bidirectional``/``proj_size``): input ``(T, B, F)``
        (``(B, T, F)`` if ``batch_first``) or unbatched ``(T, F)``; returns
        ``output, (h_n, c_n)`` with ``h_n, c_n`` of shape ``(num_layers, B, H)``.

    Attributes:
        weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}: as in `torch.nn.LSTM`
            (gate order i, f, g, o).
        acts: per layer, the modules ``input``, ``forget``, ``cell``, ``output`` and ``hidden``.

    Examples:
        >>> lstm = LSTM(3, 5, batch_first=True)
        >>> out, (h, c) = lstm(torch.zeros(2, 7, 3))
        >>> out.shape, h.shape
        (torch.Size([2, 7, 5]), torch.Size([1, 2, 5]))
    """

    _gates = ("i", "f", "g", "o")
    _gate_kinds = {"input": "gate", "forget": "gate", "cell": "cell", "output": "gate", "hidden": "cell"}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        *,
        gate_act: ActSpec = "sigmoid",
        cell_act: ActSpec = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, gate_act, cell_act, device, dtype
        )

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, batched = self._prepare(x)
        size = (self.num_layers, x.shape[1], self.hidden_size)
        h0 = _state(None if hx is None else hx[0], *size, x, batched)
        c0 = _state(None if hx is None else hx[1], *size, x, batched)
        h_n, c_n, out = [], [], x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(layer)
            acts = cast(nn.ModuleDict, self.acts[layer])  # a ModuleList of ModuleDicts
            # All time steps' input projections in one matmul; only h @ W_hh is sequential.
            xw = nn.functional.linear(out, w_ih, b_ih)
            h, c, steps = h0[layer], c0[layer], []
            # unbind, not xw[t]: each select's backward would fill and add a zero tensor the size of
            # all of xw (O(T^2) memory traffic: 90% of a 100-step backward); unbind's is one stack.
            for xw_t in xw.unbind(0):
                i, f, g, o = (xw_t + nn.functional.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
                c = acts["forget"](f) * c + acts["input"](i) * acts["cell"](g)
                h = acts["output"](o) * acts["hidden"](c)
                steps.append(h)
            out = self._between_layers(torch.stack(steps) if steps else xw[..., : self.hidden_size], layer)
            h_n.append(h)
            c_n.append(c)
        h_n_t, c_n_t = torch.stack(h_n), torch.stack(c_n)
        if not batched:
            h_n_t, c_n_t = h_n_t.squeeze(1), c_n_t.squeeze(1)
        return self._finish(out, batched), (h_n_t, c_n_t)


class GRU(_RNNBase):
    r"""A multi-layer GRU with configurable gate and cell activations.

    .. math::
        r, z = \sigma_g(W_{i\{r,z\}} x_t + b_{i\cdot} + W_{h\{r,z\}} h_{t-1} + b_{h\cdot}), \quad
        n = \sigma_c(W_{in} x_t + b_{in} + r \odot (W_{hn} h_{t-1} + b_{hn})), \quad
        h_t = (1 - z) \odot n + z \odot h_{t-1}

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, device, dtype: as `LSTM`.
        gate_act: activation of the r and z gates. Default: ``"sigmoid"``.
        cell_act: activation of the candidate ``n``. Default: ``"tanh"``.

    Shape:
        Like `torch.nn.GRU` (without ``bidirectional``): returns ``output, h_n``.

    Attributes:
        weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}: as in `torch.nn.GRU`
            (gate order r, z, n).
        acts: per layer, the modules ``reset``, ``update_gate`` and ``new`` (``update`` is a
            reserved name in `nn.ModuleDict`).
    """

    _gates = ("r", "z", "n")
    _gate_kinds = {"reset": "gate", "update_gate": "gate", "new": "cell"}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        *,
        gate_act: ActSpec = "sigmoid",
        cell_act: ActSpec = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, gate_act, cell_act, device, dtype
        )

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._prepare(x)
        h0 = _state(hx, self.num_layers, x.shape[1], self.hidden_size, x, batched)
        h_n, out = [], x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(layer)
            acts = cast(nn.ModuleDict, self.acts[layer])  # a ModuleList of ModuleDicts
            xw = nn.functional.linear(out, w_ih, b_ih)
            h, steps = h0[layer], []
            for xw_t in xw.unbind(0):  # unbind, not xw[t]: see LSTM.forward
                xr, xz, xn = xw_t.chunk(3, dim=-1)
                hr, hz, hn = nn.functional.linear(h, w_hh, b_hh).chunk(3, dim=-1)
                r, z = acts["reset"](xr + hr), acts["update_gate"](xz + hz)
                h = (1 - z) * acts["new"](xn + r * hn) + z * h
                steps.append(h)
            out = self._between_layers(torch.stack(steps) if steps else xw[..., : self.hidden_size], layer)
            h_n.append(h)
        h_n_t = torch.stack(h_n)
        return self._finish(out, batched), (h_n_t if batched else h_n_t.squeeze(1))
