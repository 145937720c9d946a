r"""Layers whose outputs satisfy linear inequality constraints by construction.

A `ConeLayer` maps its input to nonnegative weights on the cone's extreme rays and free weights
on its lineality space, so every output lies in :math:`\{z : A z \le 0\}` whatever the input and
the parameters; a `PolyhedronLayer` adds a convex combination of vertices for
:math:`\{z : A z \le b\}`. The generators are computed once, at construction, by the double
description method (`actlab.constraints.v_representation`); inference is two matrix products.

Paper: T. Frerix, M. Nießner, D. Cremers, "Homogeneous Linear Inequality Constraints for Neural
Network Activations", CVPR Workshops 2020, arXiv:1902.01785.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from actlab.constraints.geometry import VRepresentation, as_constraints, v_representation
from actlab.core.validation import check_bound, check_choice, check_finite, check_int, check_type, fail

__all__ = ["ConeLayer", "PolyhedronLayer", "cone_combination", "polyhedron_combination"]

NONNEG = ("relu", "abs")
_PAPER = "Frerix, Nießner, Cremers, CVPRW 2020, arXiv:1902.01785"


def _nonneg(c: Tensor, kind: str) -> Tensor:
    return torch.relu(c) if kind == "relu" else torch.abs(c)


def cone_combination(coeffs: Tensor, rays: Tensor, lineality: Tensor, /, *, nonneg: str = "relu") -> Tensor:
    r"""Map coefficients to a point of the cone: :math:`z = R^\top \sigma(\lambda) + L^\top \mu`.

    Args:
        coeffs: ``(*, p + q)``: the first ``p`` entries weight the rays (made nonnegative by
            ``nonneg``), the last ``q`` the lineality basis (free).
        rays: ``(p, d)`` extreme rays. lineality: ``(q, d)`` lineality basis.
        nonneg: ``"relu"`` or ``"abs"`` (the paper's official code).

    Returns:
        ``(*, d)``; satisfies :math:`A z \le 0` for the ``A`` the generators came from.
    """
    p = rays.shape[0]
    return _nonneg(coeffs[..., :p], nonneg) @ rays + coeffs[..., p:] @ lineality


def polyhedron_combination(
    coeffs: Tensor, vertices: Tensor, rays: Tensor, lineality: Tensor, /, *, nonneg: str = "relu"
) -> Tensor:
    r"""Map coefficients to a point of the polyhedron.

    .. math::
        z = V^\top \operatorname{softmax}(w) + R^\top \sigma(\lambda) + L^\top \mu

    Args:
        coeffs: ``(*, k + p + q)``: vertex logits ``w``, ray weights ``lambda``, lineality
            weights ``mu``, in that order.
        vertices: ``(k, d)``, rays: ``(p, d)``, lineality: ``(q, d)``.
        nonneg: ``"relu"`` or ``"abs"``.
    """
    k = vertices.shape[0]
    return torch.softmax(coeffs[..., :k], dim=-1) @ vertices + cone_combination(
        coeffs[..., k:], rays, lineality, nonneg=nonneg
    )


class _ConstraintLayer(nn.Module):
    """Shared machinery: validation, generators as buffers, the linear map to the coefficients."""

    _owner = "ConstraintLayer"
    # Buffers (registered in __init__; ``b`` and ``vertices`` only for a polyhedron with vertices).
    A: Tensor
    b: Tensor
    vertices: Tensor
    rays: Tensor
    lineality: Tensor

    def __init__(
        self, in_features: int, A, b, *, nonneg: str, exact: bool, bias: bool, device=None, dtype=None
    ) -> None:
        super().__init__()
        owner = self._owner
        check_int(owner, "in_features", in_features, ">=", 1)
        check_choice(owner, "nonneg", nonneg, NONNEG)
        check_type(owner, "bias", bias, bool)
        A_np, b_np = as_constraints(owner, A, b)
        rep = v_representation(A_np, b_np, exact=exact)
        self._check_rep(rep, A_np.shape)
        self.in_features, self.out_features = in_features, A_np.shape[1]
        self.nonneg, self.exact = nonneg, exact
        self.n_vertices = 0 if b is None else rep.n_vertices
        self.n_rays, self.n_lineality = rep.n_rays, rep.n_lineality
        self.redundant_rows = rep.redundant_rows
        factory: dict[str, Any] = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        # Buffers: they follow .to()/.double() and are saved in the state_dict, so a loaded model
        # never depends on cdd reproducing the same generator order.
        self.register_buffer("A", torch.as_tensor(A_np, **factory))
        if b is not None:
            self.register_buffer("b", torch.as_tensor(b_np, **factory))
        if self.n_vertices:
            self.register_buffer("vertices", torch.as_tensor(rep.vertices, **factory))
        self.register_buffer("rays", torch.as_tensor(rep.rays, **factory).reshape(rep.n_rays, self.out_features))
        self.register_buffer(
            "lineality", torch.as_tensor(rep.lineality, **factory).reshape(rep.n_lineality, self.out_features)
        )
        self.linear = nn.Linear(in_features, self.n_generators, bias=bias, **factory)

    @property
    def n_generators(self) -> int:
        """Width of the coefficient vector: vertices + rays + lineality basis."""
        return self.n_vertices + self.n_rays + self.n_lineality

    def _check_rep(self, rep: VRepresentation, shape) -> None:
        if rep.is_empty:
            fail(self._owner, "A, b", "constraints with a non-empty feasible set", f"an infeasible system {shape}")
        if rep.is_point:
            what = "{0}" if rep.homogeneous else f"the single point {rep.vertices[0].tolist()}"
            fail(
                self._owner,
                "A" if rep.homogeneous else "A, b",
                "constraints whose feasible set is more than one point",
                f"a set that is only {what}",
            )

    def reset_parameters(self) -> None:
        self.linear.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"n_constraints={self.A.shape[0]}, n_vertices={self.n_vertices}, n_rays={self.n_rays}, "
            f"n_lineality={self.n_lineality}, nonneg={self.nonneg!r}, exact={self.exact}"
        )


class ConeLayer(_ConstraintLayer):
    r"""A linear layer whose outputs always satisfy :math:`A z \le 0`.

    .. math::
        c = W x + w_0, \qquad z = \sum_i \sigma(c_i)\, r_i + \sum_j c_{p+j}\, l_j
        \;\;\Rightarrow\;\; A z = \sum_i \sigma(c_i) A r_i \le 0,

    with :math:`r_i` the unit-length extreme rays of the cone and :math:`l_j` an orthonormal basis
    of its lineality space (:math:`A l_j = 0`), computed once by the double description method.
    Every point of the cone is reached (Minkowski–Weyl), and the constraint holds for every input
    and every value of the parameters, during training too.

    Design choices (the paper's official code uses ``abs`` and lists each lineality direction as
    both :math:`+l` and :math:`-l` with nonnegative weights):

    * ``nonneg="relu"`` by default: a whole half-space of coefficients maps to exactly zero
      weight, so outputs on faces of the cone (where projections land) are reached on an open
      set of inputs; ``"abs"`` (the paper's) keeps every coefficient's gradient alive instead.
    * Free weights on a basis of the lineality space: the same set as :math:`\pm l` with
      nonnegative weights, with half the generators.
    * ``max_norm`` optionally rescales :math:`z` to :math:`\|z\|_\infty \le` ``max_norm`` (the
      paper's box option); a positive scale keeps the cone constraint.

    The layer owns the linear map from its input to the coefficients, so it replaces the last
    ``nn.Linear`` of a network.

    Args:
        in_features: size of the input's last dimension.
        A: ``(m, d)`` constraint matrix (finite); ``d`` is the output size.
        nonneg: ``"relu"`` (default) or ``"abs"``.
        max_norm: ``None`` (default) or a bound > 0 on the output's infinity norm.
        exact: compute the generators in exact rational arithmetic. Default: ``False``.
        bias: whether the coefficient map has a bias. Default: ``True``.
        device, dtype: factory arguments for the parameters and buffers.

    Shape:
        - Input: :math:`(*, \text{in\_features})`. Output: :math:`(*, d)`.

    Attributes:
        linear: the ``in_features -> n_generators`` map to the coefficients.
        A, rays, lineality: buffers (``(m, d)``, ``(n_rays, d)``, ``(n_lineality, d)``).
        n_rays, n_lineality, n_generators: the generator counts (``n_generators`` is the width
            of ``linear``); redundant_rows: rows of ``A`` implied by the others.

    Raises:
        ValueError: non-finite or wrongly shaped ``A``, a cone that is only ``{0}``, bad options.

    Examples:
        >>> layer = ConeLayer(3, [[1.0, 0.0], [0.0, 1.0]])  # outputs in the negative quadrant
        >>> bool((layer(torch.randn(100, 3)) <= 0).all()), layer.n_generators
        (True, 2)

    Paper: Frerix, Nießner, Cremers, CVPRW 2020, arXiv:1902.01785.
    """

    _owner = "ConeLayer"

    def __init__(
        self,
        in_features: int,
        A,
        *,
        nonneg: str = "relu",
        max_norm: float | None = None,
        exact: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        if max_norm is not None:
            check_finite(self._owner, "max_norm", max_norm)
            check_bound(self._owner, "max_norm", max_norm, ">", 0)
        super().__init__(in_features, A, None, nonneg=nonneg, exact=exact, bias=bias, device=device, dtype=dtype)
        self.max_norm = None if max_norm is None else float(max_norm)

    def forward(self, x: Tensor, /) -> Tensor:
        z = cone_combination(self.linear(x), self.rays, self.lineality, nonneg=self.nonneg)
        if self.max_norm is not None:
            z = z / torch.clamp(z.abs().amax(dim=-1, keepdim=True) / self.max_norm, min=1.0)
        return z

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.max_norm is None else f", max_norm={self.max_norm}")


class PolyhedronLayer(_ConstraintLayer):
    r"""A linear layer whose outputs always satisfy :math:`A z \le b`.

    .. math::
        c = W x + w_0, \qquad
        z = \sum_k \operatorname{softmax}(c_{1:K})_k\, v_k + \sum_i \sigma(c_{K+i})\, r_i + \sum_j c_{K+p+j}\, l_j,

    a convex combination of the vertices plus a conic combination of the extreme rays plus the
    lineality space: every point of the polyhedron (Minkowski–Weyl), with vertices themselves
    reached in the limit (softmax weights are never exactly one-hot). Exact up to float rounding:
    a convex combination of vertices can land an ulp outside a face. Beyond the paper, which
    treats the homogeneous case; this is the generalisation its follow-ups describe.

    Args:
        in_features: size of the input's last dimension.
        A: ``(m, d)`` constraint matrix; b: ``(m,)`` right-hand side (finite).
        nonneg, exact, bias, device, dtype: as in `ConeLayer`.

    Shape:
        - Input: :math:`(*, \text{in\_features})`. Output: :math:`(*, d)`.

    Attributes:
        linear: the ``in_features -> n_generators`` map; A, b, vertices, rays, lineality: buffers;
        n_vertices, n_rays, n_lineality, n_generators: the generator counts.

    Raises:
        ValueError: infeasible constraints, a single-point set, bad shapes or non-finite entries.

    Examples:
        >>> layer = PolyhedronLayer(4, [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], [1.0] * 4)
        >>> x = 100 * torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
        >>> bool((layer(x).abs() <= 1 + 1e-6).all()), layer.n_vertices  # float32: within an ulp of 1
        (True, 4)
    """

    _owner = "PolyhedronLayer"

    def __init__(
        self,
        in_features: int,
        A,
        b,
        *,
        nonneg: str = "relu",
        exact: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        if b is None:
            fail(self._owner, "b", "an array of shape (m,) (use ConeLayer for A z <= 0)", None)
        super().__init__(in_features, A, b, nonneg=nonneg, exact=exact, bias=bias, device=device, dtype=dtype)

    def forward(self, x: Tensor, /) -> Tensor:
        return polyhedron_combination(self.linear(x), self.vertices, self.rays, self.lineality, nonneg=self.nonneg)
