r"""Linear regions of piecewise-linear networks: exact along a segment and in a 2-D slice.

A network of affine layers and piecewise-linear activations (ReLU, LeakyReLU, Hardtanh,
ReLU6) is affine on each set of inputs that share an *activation pattern*: the piece each unit's
pre-activation lies in. These sets are convex polyhedra (the linear regions). Here:

- `regions_on_segment` walks a segment and stops at every point where some unit's
  pre-activation crosses a kink; each crossing is solved exactly on the current affine piece.
- `regions_in_plane` splits a square of a 2-D slice layer by layer with exact half-plane
  clipping of convex polygons (pure numpy); each final polygon is one region.
- `regions_in_ball` estimates the count around a point as the number of distinct patterns
  among random samples (a lower bound that grows with the number of samples).

Everything runs in float64. Pre-activations within ``tol`` of a kink are placed on the side
they are moving to, so a walk never stalls on a kink it is sitting on.

Reference: Hanin & Rolnick, "Deep ReLU networks have surprisingly few activation patterns",
NeurIPS 2019 (counting regions along lines and in 2-D slices through data points);
Novak et al., "Sensitivity and generalization in neural networks", ICLR 2018 (transitions along
trajectories).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from actlab.core.validation import check_bound, check_int, check_type, fail

__all__ = [
    "PlaneRegions",
    "SegmentRegions",
    "activation_patterns",
    "regions_in_ball",
    "regions_in_plane",
    "regions_on_segment",
]

_TOL = 1e-9


@dataclass(frozen=True)
class _Affine:
    weight: np.ndarray  # (out, in)
    bias: np.ndarray  # (out,)


@dataclass(frozen=True)
class _PWL:
    """A scalar piecewise-linear activation: piece j is ``slopes[j] * z + offsets[j]``."""

    kinks: np.ndarray  # (k,) increasing
    slopes: np.ndarray  # (k + 1,)
    offsets: np.ndarray  # (k + 1,)


def _flatten(net: nn.Module) -> Iterator[nn.Module]:
    if isinstance(net, nn.Sequential):
        for child in net:
            yield from _flatten(child)
    else:
        yield net


def _layers(net: nn.Module) -> list[_Affine | _PWL]:
    """Read ``net`` (an `nn.Sequential`, possibly nested) into affine and activation layers."""
    check_type("linear regions", "net", net, nn.Sequential)
    layers: list[_Affine | _PWL] = []
    for m in _flatten(net):
        if isinstance(m, nn.Linear):
            b = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(m.out_features)
            layers.append(_Affine(m.weight.detach().double().numpy(), b))
        elif isinstance(m, nn.ReLU):
            layers.append(_PWL(np.array([0.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])))
        elif isinstance(m, nn.LeakyReLU):
            a = float(m.negative_slope)
            layers.append(_PWL(np.array([0.0]), np.array([a, 1.0]), np.array([0.0, 0.0])))
        elif isinstance(m, nn.Hardtanh):  # also ReLU6, a Hardtanh subclass with (0, 6)
            lo, hi = float(m.min_val), float(m.max_val)
            layers.append(_PWL(np.array([lo, hi]), np.array([0.0, 1.0, 0.0]), np.array([lo, 0.0, hi])))
        elif isinstance(m, (nn.Identity, nn.Flatten, nn.Dropout)):
            continue  # Dropout: regions are a property of the eval-mode function
        else:
            fail(
                "linear regions",
                "net",
                "an nn.Sequential of Linear, ReLU, LeakyReLU, Hardtanh, ReLU6, Identity, Flatten or Dropout layers",
                type(m).__name__,
                TypeError,
            )
    if not any(isinstance(layer, _PWL) for layer in layers):
        fail(
            "linear regions",
            "net",
            "a network with at least one piecewise-linear activation",
            "no activation",
            ValueError,
        )
    return layers


def _pieces(layer: _PWL, value: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Piece index per unit; a value on a kink goes to the side its ``slope`` moves it to.

    ``value``/``slope`` may have any leading shape; the last dim is units.
    """
    above = value[..., None] > layer.kinks + _TOL
    on = np.abs(value[..., None] - layer.kinks) <= _TOL
    above |= on & (slope[..., None] > 0)
    return above.sum(-1)


def _as_vector(owner: str, name: str, x: torch.Tensor | np.ndarray, size: int | None = None) -> np.ndarray:
    v = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64).reshape(-1)
    if size is not None and v.size != size:
        fail(owner, name, f"a vector of {size} elements", v.size)
    if not np.all(np.isfinite(v)):
        fail(owner, name, "finite", "non-finite values")
    return v


def _in_features(layers: list[_Affine | _PWL]) -> int | None:
    for layer in layers:
        if isinstance(layer, _Affine):
            return layer.weight.shape[1]
    return None


@dataclass(frozen=True)
class SegmentRegions:
    """Linear regions along the segment ``a + t (b - a)``, ``t`` in [0, 1].

    Attributes:
        count: number of regions the segment passes through.
        breakpoints: the ``t`` where the activation pattern changes, increasing, in (0, 1).
    """

    count: int
    breakpoints: np.ndarray


def regions_on_segment(net: nn.Sequential, a: torch.Tensor, b: torch.Tensor) -> SegmentRegions:
    r"""Count, exactly, the linear regions that the segment from ``a`` to ``b`` passes through.

    On the current region every pre-activation is affine in ``t``, :math:`z(t) = p + t q`, so
    the next crossing of a kink :math:`c` is :math:`t^* = (c - p) / q`; the region ends at the
    smallest :math:`t^* > t_0` over all units of all layers (a deeper unit's affine form is
    valid up to the first crossing in a shallower layer, which is at least as small). The walk
    then restarts from that point, once per region.

    Args:
        net: an `nn.Sequential` of `nn.Linear` and ReLU / LeakyReLU / Hardtanh / ReLU6 layers.
        a, b: the segment's end points (flattened to the input size).

    Returns:
        A `SegmentRegions` with the count and the breakpoints.

    Raises:
        TypeError: a layer that is not affine or piecewise linear.
        ValueError: end points of the wrong size, or equal.

    Examples:
        >>> net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(1.0), net[0].bias.copy_(torch.tensor([1.0, 0.0, -1.0]))
        >>> regions_on_segment(net, torch.tensor([-2.0]), torch.tensor([2.0])).count
        4
    """
    layers = _layers(net)
    n = _in_features(layers)
    p0 = _as_vector("regions_on_segment", "a", a, n)
    q0 = _as_vector("regions_on_segment", "b", b, p0.size) - p0
    if not np.any(q0):
        fail("regions_on_segment", "b", "different from `a`", "the same point")
    t0, breaks = 0.0, []
    while True:
        p, q, t_next = p0 + t0 * q0, q0.copy(), 1.0
        for layer in layers:
            if isinstance(layer, _Affine):
                p, q = layer.weight @ p + layer.bias, layer.weight @ q
                continue
            piece = _pieces(layer, p, q)
            # Crossing of every kink by every unit on the current affine piece (p at t0).
            with np.errstate(divide="ignore", invalid="ignore"):
                dt = (layer.kinks[None, :] - p[:, None]) / q[:, None]
            ahead = dt[np.isfinite(dt) & (dt > _TOL)]
            if ahead.size:
                t_next = min(t_next, t0 + float(ahead.min()))
            p, q = layer.slopes[piece] * p + layer.offsets[piece], layer.slopes[piece] * q
        if t_next >= 1.0 - _TOL:
            break
        breaks.append(t_next)
        t0 = t_next
    return SegmentRegions(count=len(breaks) + 1, breakpoints=np.array(breaks))


def activation_patterns(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The piece index of every unit for each row of ``x``: an ``(N, units)`` int tensor.

    Vectorised (one pass over the batch); units of all activation layers are concatenated.
    """
    layers = _layers(net)
    h = np.asarray(x.detach().cpu().reshape(len(x), -1), dtype=np.float64)
    codes = []
    for layer in layers:
        if isinstance(layer, _Affine):
            h = h @ layer.weight.T + layer.bias
            continue
        piece = _pieces(layer, h, np.zeros_like(h))
        codes.append(piece)
        h = layer.slopes[piece] * h + layer.offsets[piece]
    return torch.from_numpy(np.concatenate(codes, axis=1))


def regions_in_ball(
    net: nn.Sequential, center: torch.Tensor, radius: float, *, samples: int = 10_000, seed: int = 0
) -> int:
    """Estimate the regions meeting the ball ``|x - center| <= radius`` by sampling.

    Draws ``samples`` points uniformly in the ball (seeded) plus the center and counts the
    distinct activation patterns among them: a lower bound on the true count that grows with
    ``samples`` (a small region is hit with probability proportional to its volume).
    """
    layers = _layers(net)
    check_bound("regions_in_ball", "radius", radius, ">", 0)
    check_int("regions_in_ball", "samples", samples, ">=", 1)
    c = _as_vector("regions_in_ball", "center", center, _in_features(layers))
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(samples, c.size, generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    r = radius * torch.rand(samples, 1, generator=gen, dtype=torch.float64) ** (1.0 / c.size)
    pts = torch.cat([torch.from_numpy(c)[None], torch.from_numpy(c)[None] + r * d])
    return int(torch.unique(activation_patterns(net, pts), dim=0).shape[0])


def _clip(poly: np.ndarray, line: np.ndarray, keep_above: bool) -> np.ndarray:
    """Clip a convex polygon (V, 2) to ``line @ (u, v, 1) >= 0`` (or ``<= 0``)."""
    values = poly @ line[:2] + line[2]
    if not keep_above:
        values = -values
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        vi, vj = values[i], values[j]
        if vi >= 0:
            out.append(poly[i])
        if (vi >= 0) != (vj >= 0):
            out.append(poly[i] + (vi / (vi - vj)) * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, 2)


def _area(poly: np.ndarray) -> float:
    u, v = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1))))


@dataclass(frozen=True)
class PlaneRegions:
    """Linear regions in a square of the 2-D slice ``x0 + u d1 + v d2``.

    Attributes:
        count: number of regions meeting the square.
        polygons: one ``(V, 2)`` array of ``(u, v)`` vertices per region (convex, in order).
        patterns: one activation pattern (piece index per unit) per region.
        extent: the square's half-width ``r`` (``u, v`` in ``[-r, r]``).
    """

    count: int
    polygons: list[np.ndarray]
    patterns: list[np.ndarray]
    extent: float


def regions_in_plane(
    net: nn.Sequential,
    x0: torch.Tensor,
    d1: torch.Tensor | None = None,
    d2: torch.Tensor | None = None,
    *,
    extent: float = 1.0,
    seed: int = 0,
) -> PlaneRegions:
    r"""Find, exactly, the linear regions in a square of the 2-D slice through ``x0``.

    The square :math:`\{x_0 + u d_1 + v d_2 : |u|, |v| \le r\}` starts as one polygon with an
    affine map :math:`(u, v, 1) \mapsto x`. For each activation layer, each polygon is cut by
    the lines where a unit's pre-activation (affine in ``u, v`` on that polygon) meets a kink;
    on every piece the pattern of that layer is constant, so the map stays affine for the next
    layer. Cuts use exact half-plane clipping of convex polygons (pieces of area below
    ``1e-12 r^2`` are numerical slivers and dropped).

    Args:
        net: an `nn.Sequential` of `nn.Linear` and ReLU / LeakyReLU / Hardtanh / ReLU6 layers.
        x0: the point the slice passes through (the square's centre).
        d1, d2: the slice's directions; by default two random orthonormal directions (seeded).
        extent: half-width ``r`` of the square, > 0. Default: 1.
        seed: seeds the default directions.

    Returns:
        A `PlaneRegions` with the count, one polygon and one pattern per region.
    """
    layers = _layers(net)
    check_bound("regions_in_plane", "extent", extent, ">", 0)
    center = _as_vector("regions_in_plane", "x0", x0, _in_features(layers))
    if (d1 is None) != (d2 is None):
        fail("regions_in_plane", "d1, d2", "both given or both None", "one of them")
    if d1 is None or d2 is None:  # both, by the check above
        rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(rng.standard_normal((center.size, 2)))
        e1, e2 = basis[:, 0], basis[:, 1]
    else:
        e1 = _as_vector("regions_in_plane", "d1", d1, center.size)
        e2 = _as_vector("regions_in_plane", "d2", d2, center.size)
        if np.linalg.matrix_rank(np.stack([e1, e2])) < 2:
            fail("regions_in_plane", "d1, d2", "linearly independent", "parallel directions")
    r = float(extent)
    square = np.array([[-r, -r], [r, -r], [r, r], [-r, r]])
    # Each cell: (polygon, map (units, 3) to the current layer's input, pattern so far).
    cells: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = [(square, np.stack([e1, e2, center], axis=1), [])]
    min_area = 1e-12 * r * r
    for layer in layers:
        if isinstance(layer, _Affine):
            cells = [
                (
                    poly,
                    layer.weight @ amap + np.concatenate([np.zeros((len(layer.bias), 2)), layer.bias[:, None]], axis=1),
                    pat,
                )
                for poly, amap, pat in cells
            ]
            continue
        new_cells = []
        for poly, amap, pat in cells:
            pieces = [poly]
            for unit in range(amap.shape[0]):
                for kink in layer.kinks:
                    line = amap[unit] - np.array([0.0, 0.0, kink])
                    split = []
                    for piece in pieces:
                        vals = piece @ line[:2] + line[2]
                        if vals.max() > _TOL and vals.min() < -_TOL:
                            for half in (_clip(piece, line, True), _clip(piece, line, False)):
                                if len(half) >= 3 and _area(half) > min_area:
                                    split.append(half)
                        else:
                            split.append(piece)
                    pieces = split
            for piece in pieces:
                centroid = np.append(piece.mean(axis=0), 1.0)
                idx = _pieces(layer, amap @ centroid, np.zeros(amap.shape[0]))
                out_map = layer.slopes[idx][:, None] * amap
                out_map[:, 2] += layer.offsets[idx]
                new_cells.append((piece, out_map, [*pat, idx]))
        cells = new_cells
    polygons = [poly for poly, _, _ in cells]
    patterns = [np.concatenate(pat) for _, _, pat in cells]
    return PlaneRegions(count=len(polygons), polygons=polygons, patterns=patterns, extent=r)
