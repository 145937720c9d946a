r"""A small VAE whose decoder output satisfies :math:`A z \le 0` by construction.

The paper's constrained generative model: the decoder's last layer is a `ConeLayer`, so every
reconstruction and every sample drawn from the prior satisfies the constraints exactly, during
training and at test time, with no projection step and no penalty weight to tune.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from actlab.constraints.layers import ConeLayer
from actlab.core.validation import check_int

__all__ = ["ConstrainedVAE", "checkerboard_constraints"]


def checkerboard_constraints(side: int = 8, patch: int = 2) -> np.ndarray:
    r"""Signed patch-sum inequalities on ``side x side`` images (the paper's checkerboard).

    The image is cut into ``(side // patch)**2`` square patches coloured like a checkerboard;
    row ``p`` of ``A`` reads :math:`s_p \sum_{i \in p} z_i \le 0` with :math:`s_p = +1` on
    "white" and :math:`-1` on "black" patches: white patches sum to at most zero, black ones
    to at least zero. 8x8 images with 2x2 patches give 16 constraints, as in the paper (which
    used 7x7 patches on 28x28 MNIST).

    Returns:
        ``((side // patch)**2, side * side)`` float64, for row-major flattened images.

    Examples:
        >>> checkerboard_constraints(4, 2).astype(int)[:2]
        array([[ 1,  1,  0,  0,  1,  1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0],
               [ 0,  0, -1, -1,  0,  0, -1, -1,  0,  0,  0,  0,  0,  0,  0,  0]])
    """
    check_int("checkerboard_constraints", "side", side, ">=", 1)
    check_int("checkerboard_constraints", "patch", patch, ">=", 1)
    if side % patch:
        raise ValueError(f"checkerboard_constraints: `patch` must divide `side` ({side}), got {patch}")
    n = side // patch
    A = np.zeros((n * n, side, side))
    for i in range(n):
        for j in range(n):
            A[i * n + j, i * patch : (i + 1) * patch, j * patch : (j + 1) * patch] = 1.0 if (i + j) % 2 == 0 else -1.0
    return A.reshape(n * n, side * side)


class ConstrainedVAE(nn.Module):
    r"""MLP VAE with a Gaussian decoder whose mean is constrained to :math:`A z \le 0` (or not).

    Encoder ``d -> hidden -> hidden -> 2 * latent`` (mean, log-variance); decoder
    ``latent -> hidden -> hidden -> d`` ending in `ConeLayer` (``A`` given) or ``nn.Linear``
    (``A=None``, the unconstrained baseline with the same hidden sizes).

    Args:
        in_features: data dimension ``d``.
        A: ``(m, d)`` constraints on the decoder output, or ``None``.
        latent: latent size. Default: 8. hidden: hidden width. Default: 128.

    Examples:
        >>> vae = ConstrainedVAE(64, checkerboard_constraints())
        >>> A = torch.as_tensor(checkerboard_constraints(), dtype=torch.float32)
        >>> bool(((vae.sample(100) @ A.T) <= 1e-5).all())
        True
    """

    def __init__(self, in_features: int, A=None, *, latent: int = 8, hidden: int = 128) -> None:
        super().__init__()
        check_int("ConstrainedVAE", "in_features", in_features, ">=", 1)
        check_int("ConstrainedVAE", "latent", latent, ">=", 1)
        check_int("ConstrainedVAE", "hidden", hidden, ">=", 1)
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * latent),
        )
        head = nn.Linear(hidden, in_features) if A is None else ConeLayer(hidden, A)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), head)

    def forward(self, x: Tensor, /) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction (decoder mean), posterior mean and log-variance."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def loss(self, x: Tensor, /) -> tuple[Tensor, Tensor]:
        """Per-batch mean of (squared-error reconstruction, KL to the standard normal prior)."""
        recon, mu, logvar = self(x)
        rec = ((recon - x) ** 2).sum(-1).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)).mean()
        return rec, kl

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` decoder means for latents drawn from the prior."""
        ref = next(self.parameters())
        z = torch.randn(n, self.latent, generator=generator, dtype=ref.dtype).to(ref.device)
        return self.decoder(z)
