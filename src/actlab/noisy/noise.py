r"""Counter-based Gaussian noise for the noisy activations, computed inside their fused kernels.

Why not ``torch.randn``: on these CPUs it costs several times a whole hard-tanh forward+backward
at 16M elements, and its output is one more tensor to write and read. Here each element's noise
is a pure function of (its row-major index, a key), so it is computed in registers inside the
activation's own kernel, and the same key gives the same noise on every path (eager small
tensors, the fused kernel, a user's ``torch.compile``) up to float rounding.

The draw, for elements :math:`2j` and :math:`2j + 1` (one Box-Muller pair) and key :math:`(a, b)`
(two int32 from the caller's generator):

.. math::
    w = \mathrm{mix}(j\,(a \lor 1) + b), \qquad
    U_1 = \frac{2\,w_{31:16} + 1}{2^{17}} \in (0, 1), \qquad U_2 = \frac{w_{15:0}}{2^{16}} \in [0, 1), \\
    \xi_{2j} = \sqrt{-2 \ln U_1}\,\cos(2\pi U_2), \qquad \xi_{2j+1} = \sqrt{-2 \ln U_1}\,\sin(2\pi U_2)

with ``mix`` the 32-bit "lowbias32" finaliser (two multiplies, three xor-shifts; full avalanche).
The odd multiplier keyed by ``a`` makes the index streams of two keys different sets of 32-bit
words, not shifted copies of one another (which ``i + b`` alone would give). ``ln`` and ``cos``
are evaluated in float32 by fitted polynomials (relative error below 3e-7 and 3e-9), which
cost a fraction of the library calls and avoid their range reductions (the sine is the cosine
a quarter turn back, :math:`U_2 - 1/4` on the same 16 bits):
:math:`\ln U_1 = e \ln 2 + f\,Q(f)` from the float's exponent ``e`` and ``f \in [-1/3, 1/3)``,
and :math:`\cos(2\pi U_2) = \sin(2\pi s)`, :math:`s = |U_2 - 1/2| - 1/4 \in [-1/4, 1/4]`.

Both halves of a pair are exact, independent normals (Box-Muller's theorem), and a kernel that
computes a whole pair pays for one hash, one ``ln`` and one square root per two elements
(``actlab/noisy/noisy.c`` does). So :math:`\xi` is a discretised normal with 2**32 equally
likely values per pair, :math:`|\xi| \le 4.85` (tail mass 1.2e-6 lost), mean 0 and variance 1
to 1e-5; element counts must stay below 2**31.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from actlab.core.validation import fail

__all__ = ["MAX_NUMEL", "draw_key", "standard_normal"]

#: Element indices are int32 (vector integer multiplies are 32-bit on CPUs).
MAX_NUMEL = 2**31 - 1

# log1p(f) / f on [-1/3, 1/3], fitted for relative error (1.7e-7), highest power last.
_LOG1P_Q = (
    0.9999998361391709,
    -0.49999876528068965,
    0.3333798993838599,
    -0.2501203032067747,
    0.19795006885548705,
    -0.1634073289422016,
    0.17111368599231477,
    -0.157737938133696,
)
# sin(a) / a in powers of a^2 on |a| <= pi/2 (3.3e-9), folded with a = 2 pi s into powers of s^2.
_SIN_A = (0.9999999765891169, -0.16666647634159992, 0.0083328998153905, -0.00019800897280798646, 2.5904875392002147e-06)
_SIN_S = tuple(c * (2 * math.pi) ** (2 * k + 1) for k, c in enumerate(_SIN_A))
_LN2 = math.log(2.0)
# lowbias32's two odd multipliers (as uint32)
_MIX_MUL = (0x7FEB352D, 0x846CA68B)
# float32 bit pattern of 2/3: subtracting it moves the mantissa's range to [2/3, 4/3).
_TWO_THIRDS_BITS = 0x3F2AAAAB


def _horner(t: Tensor, coeffs: tuple[float, ...]) -> Tensor:
    acc = t * coeffs[-1] + coeffs[-2]
    for c in reversed(coeffs[:-2]):
        acc = acc * t + c
    return acc


def _mix(v: Tensor) -> Tensor:
    # lowbias32 (xor-shift / multiply rounds) on int32: products wrap, masks make right shifts logical.
    v = v ^ ((v >> 16) & 0xFFFF)
    v = v * _MIX_MUL[0]
    v = v ^ ((v >> 15) & 0x1FFFF)
    v = v * (_MIX_MUL[1] - 2**32)  # as a signed int32
    return v ^ ((v >> 16) & 0xFFFF)


def _ln(u: Tensor) -> Tensor:
    """``ln u`` for positive float32 ``u`` (normal numbers), relative error ~2e-7."""
    bits = u.view(torch.int32) - _TWO_THIRDS_BITS
    e = bits >> 23  # arithmetic: u < 2/3 gives a negative exponent
    f = ((bits & 0x7FFFFF) + _TWO_THIRDS_BITS).view(torch.float32) - 1.0
    return e.to(torch.float32) * _LN2 + f * _horner(f, _LOG1P_Q)


def standard_normal(x: Tensor, key: Tensor, *, half: bool) -> Tensor:
    """Float32 noise shaped like ``x``: N(0, 1), or its absolute value with ``half=True``.

    Args:
        x: only its shape (and device) are used; element ``i`` is its row-major index.
        key: int32 tensor of shape ``(2,)`` (see `draw_key`).
        half: return :math:`|\\xi|` (half-normal noise).
    """
    idx = torch.arange(x.numel(), device=x.device, dtype=torch.int32).view(x.shape)
    w = _mix((idx >> 1) * (key[0] | 1) + key[1])  # one word per Box-Muller pair
    u1 = (((w >> 15) & 0x1FFFE) + 1).to(torch.float32) * (2.0**-17)
    radius = torch.sqrt(torch.clamp_min(-2.0 * _ln(u1), 0.0))
    # the odd element of a pair takes sin(2 pi U2) = cos(2 pi (U2 - 1/4)): a quarter turn of U2's 16 bits
    u2 = (w - ((idx & 1) << 14)) & 0xFFFF
    s = (u2.to(torch.float32) * (2.0**-16) - 0.5).abs() - 0.25
    cos = s * _horner(s * s, _SIN_S)
    return radius * (cos.abs() if half else cos)


def draw_key(owner: str, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Two int32 from ``generator`` (or the global one), on ``x``'s device: the noise key.

    Raises:
        ValueError: ``x`` has more than `MAX_NUMEL` elements.
    """
    if x.numel() > MAX_NUMEL:
        fail(owner, "input", f"of at most {MAX_NUMEL} elements", x.numel())
    device = generator.device if generator is not None else x.device
    key = torch.randint(-(2**31), 2**31 - 1, (2,), dtype=torch.int32, device=device, generator=generator)
    return key.to(x.device)
