r"""Euclidean projection onto :math:`\{z : A z \le b\}` and constraint violation.

The projection is the paper's baseline (an unconstrained network whose outputs are projected at
test time) and a tool in its own right:

.. math::
    \Pi(x) = \arg\min_z \tfrac12 \|z - x\|_2^2 \quad \text{s.t.} \quad A z \le b.

Three solvers: ``method="osqp"`` is the paper's baseline as its official code runs it
(`OSQPProjector`: one OSQP problem set up once per ``(A, b)``, then per sample only the linear
term changes and the solve is warm-started); ``method="cvxpy"`` solves one QP per sample through
cvxpy (OSQP with polishing by default); ``method="admm"`` solves the whole batch at once in torch (OSQP's splitting with one
shared factorisation and adaptive rho, then a polishing step that solves the equality-constrained
projection on the detected active set and keeps it wherever the KKT conditions hold). A sample
that neither converges nor passes that KKT check is solved exactly by the per-sample QP.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from actlab.constraints.geometry import as_constraints
from actlab.core.extras import require
from actlab.core.validation import check_bound, check_choice, check_int, check_type, fail

__all__ = ["OSQPProjector", "max_violation", "project"]

METHODS = ("admm", "cvxpy", "osqp")


def max_violation(z: Tensor, A, b=None, /, *, relative: bool = False) -> Tensor:
    r"""Largest constraint violation per sample: :math:`\max_i (a_i^\top z - b_i)_+`.

    Args:
        z: ``(*, d)`` points. A: ``(m, d)``. b: ``(m,)`` or ``None`` (zero).
        relative: divide each row's violation by :math:`\|a_i\|_2 \|z\|_2 + |b_i|` (scale-free;
            0 where that is 0).

    Returns:
        ``z.shape[:-1]``, nonnegative, in ``z``'s dtype (computed in float64).

    Examples:
        >>> max_violation(torch.tensor([[1.0, -2.0], [-1.0, -1.0]]), [[1.0, 0.0], [0.0, 1.0]])
        tensor([1., 0.])
    """
    A_np, b_np = as_constraints("max_violation", A, b)
    check_type("max_violation", "z", z, Tensor)
    if z.ndim < 1 or z.shape[-1] != A_np.shape[1]:
        fail("max_violation", "z", f"of shape (*, {A_np.shape[1]}) to match `A`", tuple(z.shape))
    z64 = z.detach().to(torch.float64)
    A_t = torch.as_tensor(A_np, device=z.device)
    b_t = (
        torch.zeros(A_np.shape[0], dtype=torch.float64, device=z.device)
        if b_np is None
        else torch.as_tensor(b_np, device=z.device)
    )
    viol = torch.clamp(z64 @ A_t.T - b_t, min=0.0)
    if relative:
        scale = torch.linalg.vector_norm(A_t, dim=1) * torch.linalg.vector_norm(z64, dim=-1, keepdim=True) + b_t.abs()
        viol = torch.where(scale > 0, viol / torch.where(scale > 0, scale, 1.0), viol)
    out = viol.amax(dim=-1) if A_np.shape[0] else z64.new_zeros(z.shape[:-1])
    return out.to(z.dtype)


def _check_feasible(A: np.ndarray, b: np.ndarray) -> None:
    linprog = require("scipy.optimize", "project's feasibility check", "constraints").linprog

    res = linprog(np.zeros(A.shape[1]), A_ub=A, b_ub=b, bounds=[(None, None)] * A.shape[1], method="highs")
    if res.status == 2:
        fail("project", "A, b", "constraints with a non-empty feasible set", f"an infeasible system {A.shape}")


def _project_cvxpy(x: np.ndarray, A: np.ndarray, b: np.ndarray, solver: str, tol: float) -> np.ndarray:
    cp = require("cvxpy", 'project(method="cvxpy")', "constraints")

    xp = cp.Parameter(A.shape[1])
    z = cp.Variable(A.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(z - xp)), [A @ z <= b])
    # cvxpy turns OSQP's polishing (an exact solve on the detected active set) on by default.
    opts = (
        {"eps_abs": tol, "eps_rel": tol, "max_iter": 100_000}
        if solver == "OSQP"
        else {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
        if solver == "CLARABEL"
        else {}
    )
    out = np.empty_like(x)
    for i, xi in enumerate(x):
        xp.value = xi
        prob.solve(solver=solver, **opts)
        if prob.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"project: cvxpy/{solver} returned status {prob.status!r} for sample {i}")
        out[i] = z.value
    return out


class OSQPProjector:
    r"""The paper's projection baseline: one OSQP problem for all samples, warm-started.

    .. math::
        \min_z \tfrac12 z^\top I z + q^\top z \quad \text{s.t.} \quad A z \le b,
        \qquad q = -x,

    set up once (``P = I``, constraint matrix ``A``, bounds ``(-inf, b]``, tolerances ``tol``,
    polishing and warm starting on, as in the official ``osqp_projection.py``); each call then
    updates only ``q`` per sample and solves from the previous sample's solution. The
    factorisation of the KKT matrix is reused across all samples, so the per-sample cost is
    the ADMM iterations (plus the polishing solve), not the set-up. Deviation: samples that
    already satisfy the constraints are returned as they are, without a solve (their exact
    projection; it also keeps OSQP's C library from printing to stdout). This can only make
    the baseline faster.

    Args:
        A: ``(m, d)`` finite. b: ``(m,)`` or ``None`` (the cone :math:`A z \le 0`).
        tol: OSQP's ``eps_abs`` and ``eps_rel``. Default: 1e-6 (the paper's).
        max_iter: OSQP iteration cap per sample. Default: 100000.

    Raises:
        ValueError: bad ``A``, ``b``, ``tol`` or ``max_iter``; on a call, ``x`` of the wrong shape.
        RuntimeError: OSQP reports a status other than solved for a sample (e.g. infeasible).

    Examples:
        >>> proj = OSQPProjector([[1.0, 0.0], [0.0, 1.0]])  # set up once, then reused
        >>> z = proj(torch.tensor([[1.0, -2.0], [3.0, 4.0]], dtype=torch.float64))
        >>> torch.allclose(z, torch.tensor([[0.0, -2.0], [0.0, 0.0]], dtype=torch.float64), atol=1e-9)
        True
    """

    def __init__(self, A, b=None, /, *, tol: float = 1e-6, max_iter: int = 100_000) -> None:
        owner = "OSQPProjector"
        osqp = require("osqp", 'project(method="osqp")', "constraints")
        sparse = require("scipy.sparse", 'project(method="osqp")', "constraints")
        A_np, b_np = as_constraints(owner, A, b)
        check_bound(owner, "tol", tol, ">", 0)
        check_int(owner, "max_iter", max_iter, ">=", 1)
        m, d = A_np.shape
        self.d, self.m, self.tol = d, m, float(tol)
        self._A, self._b = A_np, np.zeros(m) if b_np is None else b_np
        self._ok = (osqp.SolverStatus.OSQP_SOLVED, osqp.SolverStatus.OSQP_SOLVED_INACCURATE)
        self._solver = osqp.OSQP()
        self._solver.setup(
            sparse.identity(d, format="csc"),
            np.zeros(d),
            sparse.csc_matrix(A_np),
            np.full(m, -np.inf),
            self._b,
            eps_abs=tol,
            eps_rel=tol,
            max_iter=max_iter,
            polishing=True,
            warm_starting=True,
            verbose=False,
        )

    def __call__(self, x: Tensor, /) -> Tensor:
        """Project each ``x[..., :]``; same shape, dtype and device (solved in float64 on the CPU)."""
        check_type("OSQPProjector", "x", x, Tensor)
        if x.ndim < 1 or x.shape[-1] != self.d:
            fail("OSQPProjector", "x", f"of shape (*, {self.d})", tuple(x.shape))
        flat = x.detach().reshape(-1, self.d).cpu().double().numpy()
        out = flat.copy()
        # A feasible sample is its own projection: skipped (OSQP would return it after its
        # iterations, and its C library prints "Polishing not needed" to stdout even when quiet).
        inside = (flat @ self._A.T <= self._b).all(axis=1)
        for i in np.flatnonzero(~inside):
            self._solver.update(q=-flat[i])
            res = self._solver.solve(raise_error=False)  # the status is checked below
            if res.info.status_val not in self._ok:
                raise RuntimeError(f"OSQPProjector: OSQP returned status {res.info.status!r} for sample {i}")
            out[i] = res.x
        return torch.as_tensor(out).to(dtype=x.dtype, device=x.device).reshape(x.shape)


def _project_admm(
    x: Tensor, A: Tensor, b: Tensor, tol: float, max_iter: int, rho: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Batched ADMM + polishing; returns the projections and a per-sample "certified" mask.

    rho adapts every 50 iterations to the ratio of primal and dual residuals (as OSQP does):
    with a fixed rho, narrow cones (nearly parallel rays) need far more than ``max_iter`` steps.
    """
    # Rows scaled to unit norm describe the same set and make rho = 1 a sensible start for any A.
    norms = torch.linalg.vector_norm(A, dim=1).clamp_min(torch.finfo(A.dtype).tiny)
    A, b = A / norms[:, None], b / norms
    d = A.shape[1]
    eye_d = torch.eye(d, dtype=A.dtype, device=A.device)
    chol = torch.linalg.cholesky(eye_d + rho * A.T @ A)
    scale = 1.0 + x.abs().amax(dim=-1, keepdim=True)
    s = torch.minimum(x @ A.T, b)
    u = torch.zeros_like(s)
    z = x
    primal = dual = torch.full_like(scale, float("inf"))
    for it in range(max_iter):
        rhs = x + rho * (s - u) @ A
        z = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        Az = z @ A.T
        s_new = torch.minimum(Az + u, b)
        u = u + Az - s_new
        if it % 10 == 9:
            primal = (Az - s_new).abs().amax(dim=-1, keepdim=True)
            dual = rho * ((s_new - s) @ A).abs().amax(dim=-1, keepdim=True)
            if bool(((primal <= tol * scale) & (dual <= tol * scale)).all()):
                s = s_new
                break
            if it % 50 == 49:
                ratio = float(torch.sqrt(primal.amax() / dual.amax().clamp_min(1e-300)))
                if ratio > 5.0 or ratio < 0.2:
                    new_rho = min(max(rho * ratio, 1e-6), 1e6)
                    u = u * (rho / new_rho)  # u is the dual scaled by 1/rho
                    rho = new_rho
                    chol = torch.linalg.cholesky(eye_d + rho * A.T @ A)
        s = s_new
    converged = ((primal <= tol * scale) & (dual <= tol * scale)).squeeze(-1)
    z, certified = _polish(x, A, b, z, rho * u, tol * scale)
    return z, certified | (converged & ((z @ A.T) <= b + tol * scale).all(-1))


def _polish(x: Tensor, A: Tensor, b: Tensor, z: Tensor, y: Tensor, tol: Tensor) -> tuple[Tensor, Tensor]:
    # On the active set S the projection is x - A_S^T y_S with (A_S A_S^T) y_S = A_S x - b_S:
    # solved for every sample at once, masking inactive rows to the identity.
    active = (y > tol) | (z @ A.T >= b - tol)
    mask = active.to(x.dtype)
    gram = A @ A.T
    eye = torch.eye(len(b), dtype=x.dtype, device=x.device)
    M = mask.unsqueeze(-1) * gram * mask.unsqueeze(-2) + eye * (1 - mask).unsqueeze(-1)
    y_s, info = torch.linalg.solve_ex(M, (mask * (x @ A.T - b)).unsqueeze(-1))
    y_s = y_s.squeeze(-1)
    z_s = x - y_s @ A
    kkt = (info == 0) & (y_s >= -tol).all(-1) & (z_s @ A.T <= (b + tol)).all(-1) & torch.isfinite(z_s).all(-1)
    return torch.where(kkt.unsqueeze(-1), z_s, z), kkt


def project(
    x: Tensor,
    A,
    b=None,
    /,
    *,
    method: str = "admm",
    tol: float | None = None,
    max_iter: int = 10_000,
    solver: str = "OSQP",
) -> Tensor:
    r"""Euclidean projection of each ``x[..., :]`` onto :math:`\{z : A z \le b\}`.

    Args:
        x: ``(*, d)`` points, floating dtype.
        A: ``(m, d)`` finite. b: ``(m,)`` or ``None`` (the cone :math:`A z \le 0`).
        method: ``"admm"`` (batched in torch; default), ``"osqp"`` (the paper's baseline: one
            OSQP problem set up once for the batch, warm-started per sample; `OSQPProjector`)
            or ``"cvxpy"`` (one cvxpy QP per sample).
        tol: residual tolerance (relative to :math:`1 + \|x\|_\infty` for ADMM). Default:
            1e-9 in float64, 1e-5 in float32.
        max_iter: ADMM / OSQP iteration cap (per sample for OSQP). Default: 10000.
        solver: cvxpy solver for ``method="cvxpy"``: ``"OSQP"`` (default, with polishing; the
            paper's baseline), ``"CLARABEL"`` (interior point: ~sqrt(tol) accurate at degenerate
            points), ``"SCS"``.

    Returns:
        The projections, same shape, dtype and device as ``x``.

    Raises:
        ValueError: infeasible constraints, mismatched shapes, non-finite ``A``, ``b`` or ``x``.

    Examples:
        >>> project(torch.tensor([[1.0, -2.0], [3.0, 4.0]], dtype=torch.float64), [[1.0, 0.0], [0.0, 1.0]])
        tensor([[ 0., -2.],
                [ 0.,  0.]], dtype=torch.float64)
    """
    owner = "project"
    A_np, b_np = as_constraints(owner, A, b)
    check_type(owner, "x", x, Tensor)
    if not x.is_floating_point():
        fail(owner, "x", "a floating-point tensor", x.dtype, TypeError)
    if x.ndim < 1 or x.shape[-1] != A_np.shape[1]:
        fail(owner, "x", f"of shape (*, {A_np.shape[1]}) to match `A`", tuple(x.shape))
    if not bool(torch.isfinite(x).all()):
        fail(owner, "x", "finite (no NaN or Inf entries)", "non-finite entries")
    check_choice(owner, "method", method, METHODS)
    check_int(owner, "max_iter", max_iter, ">=", 1)
    if tol is None:
        tol = 1e-9 if x.dtype == torch.float64 else 1e-5
    check_bound(owner, "tol", tol, ">", 0)
    b_np = np.zeros(A_np.shape[0]) if b_np is None else b_np
    if np.any(b_np):
        _check_feasible(A_np, b_np)
    flat = x.detach().reshape(-1, A_np.shape[1])
    if method == "osqp":
        out = OSQPProjector(A_np, b_np, tol=tol, max_iter=max_iter)(flat)
    elif method == "cvxpy":
        check_choice(owner, "solver", solver, ("OSQP", "CLARABEL", "SCS"))
        out = torch.as_tensor(_project_cvxpy(flat.cpu().double().numpy(), A_np, b_np, solver, tol))
    else:
        # float64 internally: the factorisation and the polishing solve need the headroom.
        f64: dict[str, Any] = {"dtype": torch.float64, "device": x.device}
        out, certified = _project_admm(
            flat.to(torch.float64), torch.as_tensor(A_np, **f64), torch.as_tensor(b_np, **f64), tol, max_iter
        )
        # Never return an uncertified point: samples that neither converged nor passed the KKT
        # check of the polishing step are solved exactly, one QP each.
        bad = (~certified).nonzero().flatten()
        if len(bad):
            exact = _project_cvxpy(flat[bad].cpu().double().numpy(), A_np, b_np, solver, tol)
            out[bad] = torch.as_tensor(exact, device=out.device)
    return out.to(dtype=x.dtype, device=x.device).reshape(x.shape)
