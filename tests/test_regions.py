"""Linear regions: exact counts against hand-built networks and dense brute-force sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from actlab.inspect.regions import (
    activation_patterns,
    regions_in_ball,
    regions_in_plane,
    regions_on_segment,
)


def _tent(depth: int) -> nn.Sequential:
    """Telgarsky's sawtooth: the tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) composed ``depth``
    times has exactly 2**depth linear pieces on [0, 1], with breakpoints at k / 2**depth."""
    layers: list[nn.Module] = []
    for i in range(depth):
        first = nn.Linear(1 if i == 0 else 2, 2)
        with torch.no_grad():
            # Later layers fold the previous tent's output combination (2, -4) into their weights.
            w = torch.tensor([[1.0], [1.0]]) if i == 0 else torch.tensor([[2.0, -4.0], [2.0, -4.0]])
            first.weight.copy_(w)
            first.bias.copy_(torch.tensor([0.0, -0.5]))
        layers += [first, nn.ReLU()]
    out = nn.Linear(2, 1)
    with torch.no_grad():
        out.weight.copy_(torch.tensor([[2.0, -4.0]]))
        out.bias.zero_()
    return nn.Sequential(*layers, out)


def _random_net(seed: int, act: nn.Module, width: int = 12, depth: int = 3, d_in: int = 3) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else width, width), act]
    return nn.Sequential(*layers, nn.Linear(width, 2))


def _brute_segment(net, a, b, n=200_001) -> int:
    t = torch.linspace(0, 1, n, dtype=torch.float64)[:, None]
    pat = activation_patterns(net, a.double() + t * (b.double() - a.double()))
    return int((pat[1:] != pat[:-1]).any(1).sum()) + 1


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_sawtooth_has_exactly_two_to_the_depth_regions(depth):
    net = _tent(depth)
    # Sanity of the construction: the network is the sawtooth.
    x = torch.tensor([[0.25 / 2 ** (depth - 1)]])
    assert net(x).item() == pytest.approx(0.5)
    res = regions_on_segment(net, torch.tensor([0.0]), torch.tensor([1.0]))
    assert res.count == 2**depth
    np.testing.assert_allclose(res.breakpoints, np.arange(1, 2**depth) / 2**depth, atol=1e-12)


@pytest.mark.parametrize("act", [nn.ReLU(), nn.Hardtanh(), nn.LeakyReLU(0.1), nn.ReLU6()], ids=repr)
@pytest.mark.parametrize("seed", [0, 1])
def test_segment_count_matches_dense_sampling(act, seed):
    net = _random_net(seed, act)
    gen = torch.Generator().manual_seed(seed)
    a, b = 3 * torch.randn(3, generator=gen), 3 * torch.randn(3, generator=gen)
    res = regions_on_segment(net, a, b)
    assert res.count >= 3  # a non-trivial case
    assert res.count == _brute_segment(net, a, b)
    # Each region has one pattern: the pattern at the midpoint of consecutive breakpoints
    # differs from its neighbours'.
    edges = np.concatenate([[0.0], res.breakpoints, [1.0]])
    mids = torch.from_numpy((edges[1:] + edges[:-1]) / 2)[:, None]
    pats = activation_patterns(net, a.double() + mids * (b.double() - a.double()))
    assert bool((pats[1:] != pats[:-1]).any(1).all())


def test_plane_grid_of_lines_has_known_count():
    # relu(u - c) for 3 vertical lines and relu(v - d) for 2 horizontal lines: a 4 x 3 grid.
    net = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1], [0, 1]]))
        net[0].bias.copy_(-torch.tensor([-0.5, 0.1, 0.6, -0.3, 0.4]))
    res = regions_in_plane(net, torch.zeros(2), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
    assert res.count == 12
    assert sum(_area(p) for p in res.polygons) == pytest.approx(4.0)


def _area(poly):
    u, v = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1)))


@pytest.mark.parametrize("act", [nn.ReLU(), nn.Hardtanh()], ids=repr)
def test_plane_regions_agree_with_dense_grid(act):
    net = _random_net(3, act, width=10, depth=2)
    res = regions_in_plane(net, torch.zeros(3), extent=2.0, seed=1)
    patterns = {tuple(p) for p in res.patterns}
    assert len(patterns) == res.count  # one region per pattern (regions are convex)
    assert sum(_area(p) for p in res.polygons) == pytest.approx(16.0)
    # The pattern claimed for each polygon is the network's pattern at its centroid.
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.standard_normal((3, 2)))
    cents = np.stack([p.mean(0) for p in res.polygons])
    pats = activation_patterns(net, torch.from_numpy(cents @ basis.T))
    assert [tuple(p) for p in pats.tolist()] == [tuple(p) for p in res.patterns]
    # Every pattern on a dense grid is one of the exact regions, and nearly all are seen.
    u = np.linspace(-2, 2, 601)
    uu, vv = np.meshgrid(u, u)
    grid = uu.reshape(-1, 1) * basis[:, 0] + vv.reshape(-1, 1) * basis[:, 1]
    seen = {tuple(p) for p in torch.unique(activation_patterns(net, torch.from_numpy(grid)), dim=0).tolist()}
    assert seen <= patterns
    assert len(seen) >= 0.9 * res.count


def test_ball_estimate_is_a_lower_bound_that_grows():
    net = _random_net(0, nn.ReLU(), d_in=2)
    small = regions_in_ball(net, torch.zeros(2), 1.0, samples=50)
    large = regions_in_ball(net, torch.zeros(2), 1.0, samples=20_000)
    assert 1 <= small <= large
    # In 2-D the exact count in the bounding square bounds the count in the inscribed disc.
    exact = regions_in_plane(net, torch.zeros(2), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), extent=1.0)
    assert large <= exact.count
    assert regions_in_ball(net, torch.zeros(2), 1e-9, samples=100) == 1


def test_unsupported_layers_and_bad_arguments_raise():
    with pytest.raises(TypeError, match="linear regions: `net` must be an nn.Sequential of Linear"):
        regions_on_segment(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), torch.zeros(2), torch.ones(2))
    with pytest.raises(TypeError, match="`net` must be of type Sequential"):
        regions_on_segment(nn.Linear(2, 2), torch.zeros(2), torch.ones(2))
    net = _random_net(0, nn.ReLU(), d_in=2)
    with pytest.raises(ValueError, match="`a` must be a vector of 2 elements, got 3"):
        regions_on_segment(net, torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match="`b` must be different from `a`"):
        regions_on_segment(net, torch.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="`radius` must be > 0"):
        regions_in_ball(net, torch.zeros(2), 0.0)
    with pytest.raises(ValueError, match="`d1, d2` must be linearly independent"):
        regions_in_plane(net, torch.zeros(2), torch.ones(2), 2 * torch.ones(2))
