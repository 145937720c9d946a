"""Mean-field initialisation for quantized networks: closed forms, optimality, and a wide random net."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from actlab.functional import quantize
from actlab.quantized.mean_field import (
    _hermite_coefficients,
    _second_moment,
    correlation_map,
    depth_exponent,
    init_quantized_,
    max_trainable_depth,
    mean_field_init,
    paper_depth_exponent,
)


def test_sign_network_has_the_arcsine_slope():
    p = mean_field_init(2)
    assert p.chi == pytest.approx(2 / math.pi, rel=1e-12)
    assert p.depth_scale == pytest.approx(-1 / math.log(2 / math.pi), rel=1e-12)
    assert p.max_depth == pytest.approx(6 * p.depth_scale) and max_trainable_depth(2, factor=3.0) == pytest.approx(
        3 * p.depth_scale
    )
    # Arcsine law: E[sign(u1) sign(u2)] = (2/pi) arcsin(c).
    c = np.array([-0.7, 0.2, 0.6])
    np.testing.assert_allclose(correlation_map(c, 2, 1.0, terms=600), 2 / np.pi * np.arcsin(c), atol=1e-6)


@pytest.mark.parametrize("levels, s", [(3, 0.8), (4, 0.67), (16, 0.4)])
def test_closed_form_moments_match_monte_carlo(levels, s):
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    psi = quantize(s * z, levels=levels, range=(-1.0, 1.0))
    assert _second_moment(levels, s) == pytest.approx(psi.square().mean().item(), abs=3e-3)
    b = _hermite_coefficients(levels, s, 3)
    # b_1 = E[psi z], b_3 = E[psi He_3(z)] / sqrt(3!)
    assert b[0] == pytest.approx((psi * z).mean().item(), abs=3e-3)
    assert b[2] == pytest.approx((psi * (z**3 - 3 * z)).mean().item() / math.sqrt(6), abs=5e-3)


@pytest.mark.parametrize("levels", [3, 4, 16])
def test_init_maximises_chi_and_sits_at_the_length_fixed_point(levels):
    p = mean_field_init(levels)
    for factor in (0.8, 0.95, 1.05, 1.25):
        s = p.preact_std * factor
        chi = _hermite_coefficients(levels, s, 1)[0] ** 2 / _second_moment(levels, s)
        assert chi < p.chi
    assert p.weight_var * _second_moment(levels, p.preact_std) == pytest.approx(p.preact_std**2, rel=1e-12)
    assert 0 < p.chi < 1


def test_depth_grows_with_levels_like_a_power_law_near_the_papers():
    depths = [max_trainable_depth(n) for n in (2, 3, 4, 8, 16)]
    assert all(a < b for a, b in zip(depths, depths[1:]))
    # Blumenfeld et al. fit L_max ~ N^1.82; the closed form here gives 1.74 over N = 2..64.
    assert depth_exponent() == pytest.approx(1.744, abs=0.01)


def test_correlation_map_shape():
    p = mean_field_init(4)
    c = np.linspace(0, 0.99, 12)
    f = correlation_map(c, 4, p.preact_std)
    assert f[0] == 0 and np.all(np.diff(f) > 0) and np.all(f < c + 1e-12)  # decorrelating, monotone
    assert (correlation_map(1e-5, 4, p.preact_std) / 1e-5) == pytest.approx(p.chi, rel=1e-4)


@torch.no_grad()
def test_wide_random_network_follows_the_predicted_correlations():
    """Two inputs through a 2048-wide, 8-layer quantized net at the mean-field init vs iterating f."""
    levels, width, depth = 4, 2048, 8
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        *[m for _ in range(depth) for m in (torch.nn.Linear(width, width), torch.nn.Identity())]
    ).double()
    p = init_quantized_(model, levels, generator=gen)
    assert all(float(m.bias.abs().max()) == 0 for m in model if isinstance(m, torch.nn.Linear))
    w = model[0].weight
    assert w.std().item() == pytest.approx(math.sqrt(p.weight_var / width), rel=0.01)
    # Inputs already at the fixed-point length, correlation 0.95.
    a = torch.randn(width, generator=gen, dtype=torch.float64)
    b = 0.95 * a + math.sqrt(1 - 0.95**2) * torch.randn(width, generator=gen, dtype=torch.float64)
    h = torch.stack([a, b]) * p.preact_std  # pre-activations with std s (h = 1)
    c_pred, measured, predicted = 0.95, [], []
    for layer in model[::2]:
        h = layer(quantize(h, levels=levels, range=(-1.0, 1.0)))
        c_pred = float(correlation_map(c_pred, levels, p.preact_std, terms=2000))
        measured.append(torch.nn.functional.cosine_similarity(h[0], h[1], dim=0).item())
        predicted.append(c_pred)
        assert h.std().item() == pytest.approx(p.preact_std, rel=0.08)  # length fixed point
    np.testing.assert_allclose(measured, predicted, atol=0.05)
    assert predicted[-1] < 0.5  # the test is not trivially near c = 1


def test_papers_regression_of_the_exponent():
    # Blumenfeld et al.'s notebook: slope of log(1 - chi_max) on log(N + 1) over N = 3..63 plus
    # eight large N; on our closed-form chi it gives 1.816, the paper's 1.82.
    fit = paper_depth_exponent()
    assert fit.levels[:2] == (3, 4) and fit.levels[-3:] == (515, 1024, 1025) and len(fit.levels) == 69
    assert fit.exponent == pytest.approx(1.816, abs=0.002) and 0 < fit.stderr < 0.01
    # The range of N matters: N = 3..8 alone gives a steeper law (2.00).
    assert paper_depth_exponent(range(3, 9)).exponent == pytest.approx(2.00, abs=0.01)
    # (1 - chi)(N + 1)^p is nearly constant at large N: the power law holds there.
    ratio = [(1 - mean_field_init(n).chi) * (n + 1) ** fit.exponent for n in (255, 1024)]
    assert ratio[0] == pytest.approx(ratio[1], rel=0.05)
    with pytest.raises(ValueError, match="paper_depth_exponent: `levels` must hold >= 3"):
        paper_depth_exponent([3, 4])
