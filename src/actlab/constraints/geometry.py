r"""Polyhedral geometry: from inequalities (H-representation) to generators (V-representation).

By the Minkowski–Weyl theorem every polyhedron :math:`P = \{z : A z \le b\}` is

.. math::
    P = \operatorname{conv}\{v_1, \dots, v_k\} + \operatorname{cone}\{r_1, \dots, r_p\} + \operatorname{span}\{l_1, \dots, l_q\},

vertices plus extreme rays plus a lineality space. For a cone (:math:`b = 0`) the only vertex is
the origin. The double description method computes the right-hand side; we use pycddlib
(cddlib's Python binding, 2.x API), in floating point or in exact rational arithmetic.

Paper: T. Frerix, M. Nießner, D. Cremers, "Homogeneous Linear Inequality Constraints for Neural
Network Activations", CVPR Workshops 2020, arXiv:1902.01785.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from actlab.core.extras import require
from actlab.core.validation import check_int, check_type, fail

__all__ = ["GeneratorCountWarning", "VRepresentation", "as_constraints", "v_representation"]

#: Above this many generators `v_representation` warns: a constraint layer's width grows with it.
WARN_GENERATORS = 1024


class GeneratorCountWarning(UserWarning):
    """The V-representation has many generators, so a constraint layer built on it is wide."""


@dataclass(frozen=True)
class VRepresentation:
    """Generators of :math:`\\{z : A z \\le b\\}` (rows of float64 arrays).

    Attributes:
        vertices: ``(k, d)``, orthogonal to the lineality space; for a cone, the origin alone.
        rays: ``(p, d)`` extreme rays, each of unit Euclidean length, orthogonal to the lineality space.
        lineality: ``(q, d)`` an orthonormal basis of the lineality space (``A l = 0``).
        redundant_rows: indices of rows of ``A`` implied by the others.
        implicit_equalities: indices of rows that hold with equality on the whole set.
        homogeneous: whether ``b`` is zero (the set is a cone).
        exact: whether the generators were computed in rational arithmetic.
    """

    vertices: np.ndarray
    rays: np.ndarray
    lineality: np.ndarray
    redundant_rows: tuple[int, ...] = ()
    implicit_equalities: tuple[int, ...] = ()
    homogeneous: bool = True
    exact: bool = False
    dim: int = field(default=0)

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    @property
    def n_rays(self) -> int:
        return len(self.rays)

    @property
    def n_lineality(self) -> int:
        return len(self.lineality)

    @property
    def is_empty(self) -> bool:
        """The inequalities are infeasible."""
        return self.n_vertices == 0

    @property
    def is_point(self) -> bool:
        """The feasible set is one point (for a cone: only ``{0}``)."""
        return self.n_vertices == 1 and self.n_rays == 0 and self.n_lineality == 0

    def summary(self) -> str:
        kind = "cone" if self.homogeneous else "polyhedron"
        if self.is_empty:
            return f"empty {kind} in R^{self.dim}"
        parts = [
            f"{kind} in R^{self.dim}: {self.n_vertices} vertices, {self.n_rays} rays, {self.n_lineality}-dim lineality"
        ]
        if self.redundant_rows:
            parts.append(f"redundant rows {list(self.redundant_rows)}")
        if self.implicit_equalities:
            parts.append(f"implicit equalities {list(self.implicit_equalities)}")
        return "; ".join(parts)


def as_constraints(owner: str, A, b=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``A`` (``(m, d)``, finite, real) and ``b`` (``(m,)`` or ``None``) into float64 arrays."""
    try:
        A_np = np.asarray(A.detach().cpu() if hasattr(A, "detach") else A, dtype=np.float64)
    except (TypeError, ValueError):
        fail(owner, "A", "a real 2-D array", type(A).__name__, TypeError)
    if A_np.ndim != 2 or A_np.shape[0] < 1 or A_np.shape[1] < 1:
        fail(owner, "A", "a 2-D array of shape (m, d) with m, d >= 1", tuple(A_np.shape))
    if not np.isfinite(A_np).all():
        fail(owner, "A", "finite (no NaN or Inf entries)", f"{int((~np.isfinite(A_np)).sum())} non-finite entries")
    if b is None:
        return A_np, None
    try:
        b_np = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=np.float64)
    except (TypeError, ValueError):
        fail(owner, "b", "a real 1-D array", type(b).__name__, TypeError)
    if b_np.shape != (A_np.shape[0],):
        fail(owner, "b", f"of shape ({A_np.shape[0]},) to match `A`", tuple(b_np.shape))
    if not np.isfinite(b_np).all():
        fail(owner, "b", "finite (no NaN or Inf entries)", f"{int((~np.isfinite(b_np)).sum())} non-finite entries")
    return A_np, b_np


def _cdd_matrix(A: np.ndarray, b: np.ndarray, exact: bool):
    cdd = require("cdd", "the double description (pycddlib)", "constraints")

    # cdd's H-representation rows are [b, -A], meaning b - A z >= 0.
    rows = np.hstack([b[:, None], -A])
    if exact:
        # Fraction(float) is the float's exact binary value: no rounding on the way in.
        data = [[Fraction(float(v)) for v in row] for row in rows]
        mat = cdd.Matrix(data, number_type="fraction")
    else:
        mat = cdd.Matrix(rows.tolist(), number_type="float")
    mat.rep_type = cdd.RepType.INEQUALITY
    return mat


def _orthonormal_rows(M: np.ndarray, d: int) -> np.ndarray:
    if len(M) == 0:
        return np.zeros((0, d))
    # Any basis spans the lineality space; an orthonormal one keeps the free weights well scaled.
    u, s, vt = np.linalg.svd(M, full_matrices=False)
    rank = int((s > s.max() * 1e-10).sum())
    return vt[:rank]


def v_representation(A, b=None, *, exact: bool = False, warn_above: int = WARN_GENERATORS) -> VRepresentation:
    r"""Compute vertices, extreme rays and a lineality basis of :math:`\{z : A z \le b\}`.

    Args:
        A: ``(m, d)`` constraint matrix (array-like or tensor), finite.
        b: ``(m,)`` right-hand side, or ``None`` for the cone :math:`A z \le 0`.
        exact: run the double description method in exact rational arithmetic (slower; immune
            to rounding in degenerate systems). The result is rounded to float64 at the end.
        warn_above: emit a `GeneratorCountWarning` when vertices + rays + lineality exceed it.

    Returns:
        A `VRepresentation`; an infeasible system gives ``is_empty`` (no vertices), a cone that is
        only the origin gives ``is_point``. Redundant rows and implicit equalities are reported.

    Raises:
        TypeError, ValueError: ``A`` or ``b`` of the wrong type, shape, or with non-finite entries.

    Examples:
        >>> rep = v_representation([[1.0, 0.0], [0.0, 1.0]])  # the negative quadrant
        >>> rep.rays.tolist(), rep.n_lineality
        ([[-1.0, 0.0], [0.0, -1.0]], 0)
        >>> v_representation([[1.0, 1.0]], [1.0]).summary()
        'polyhedron in R^2: 1 vertices, 1 rays, 1-dim lineality'
    """
    cdd = require("cdd", "the double description (pycddlib)", "constraints")

    owner = "v_representation"
    A_np, b_np = as_constraints(owner, A, b)
    check_type(owner, "exact", exact, bool)
    check_int(owner, "warn_above", warn_above, ">=", 0)
    m, d = A_np.shape
    homogeneous = b_np is None or not np.any(b_np)
    b_np = np.zeros(m) if b_np is None else b_np

    # Zero rows say 0 <= b_i: redundant or infeasible on their own. cddlib 0.94's canonicalize
    # crashes (segfault) when every row is such a row, so they never reach it.
    zero = ~A_np.any(axis=1)
    if (b_np[zero] < 0).any():
        return VRepresentation(np.zeros((0, d)), np.zeros((0, d)), np.zeros((0, d)), (), (), homogeneous, exact, d)
    keep = np.flatnonzero(~zero)
    if len(keep) == 0:
        return VRepresentation(
            np.zeros((1, d)), np.zeros((0, d)), np.eye(d), tuple(range(m)), (), homogeneous, exact, d
        )
    implicit, redundant = _cdd_matrix(A_np[keep], b_np[keep], exact).canonicalize()
    implicit = {int(keep[i]) for i in implicit}
    redundant = {int(keep[i]) for i in redundant} | set(np.flatnonzero(zero).tolist())
    gens = cdd.Polyhedron(_cdd_matrix(A_np[keep], b_np[keep], exact)).get_generators()
    rows = np.array([[float(v) for v in gens[i]] for i in range(gens.row_size)], dtype=np.float64).reshape(-1, d + 1)
    lin = np.zeros(len(rows), dtype=bool)
    lin[list(gens.lin_set)] = True
    # Floating-point cdd leaves ~1e-16 in the homogenising coordinate of rays: a row is a vertex
    # only when that coordinate is clearly nonzero relative to the row.
    is_vertex = (np.abs(rows[:, 0]) > 1e-9 * np.abs(rows[:, 1:]).max(axis=1, initial=0.0)) & ~lin
    vertices = rows[is_vertex, 1:] / rows[is_vertex, :1]
    lineality = _orthonormal_rows(rows[lin, 1:], d)
    # Rays and vertices are only defined modulo the lineality space (A l = 0); taking them in its
    # orthogonal complement makes them unique (the pointed part) and keeps them feasible.
    vertices = vertices - (vertices @ lineality.T) @ lineality
    rays = rows[~is_vertex & ~lin, 1:]
    rays = rays - (rays @ lineality.T) @ lineality
    rays = rays / np.linalg.norm(rays, axis=1, keepdims=True) if len(rays) else np.zeros((0, d))
    if homogeneous and len(rows) > 0:
        # cdd lists no vertex for a homogeneous system with rays; the apex is the origin.
        vertices = np.zeros((1, d))
    # "+ 0.0" turns cdd's negative zeros into zeros (cosmetic, but they show in printed output).
    rep = VRepresentation(
        vertices + 0.0, rays + 0.0, lineality, tuple(sorted(redundant)), tuple(sorted(implicit)), homogeneous, exact, d
    )
    n = rep.n_vertices + rep.n_rays + rep.n_lineality
    if n > warn_above:
        warnings.warn(
            f"v_representation: {n} generators ({rep.n_vertices} vertices, {rep.n_rays} rays, "
            f"{rep.n_lineality} lineality) for {m} constraints in R^{d}; a constraint layer's "
            "width grows with this number",
            GeneratorCountWarning,
            stacklevel=2,
        )
    return rep
