# SPDX-License-Identifier: GPL-3.0-or-later
"""Scalar soft quantization with learned, ordered centres."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SoftQuantizer(nn.Module):
    """Snap every value to the nearest of ``levels`` learned scalar centres.

    The centres are a first centre plus the cumulative sum of positive gaps
    (softplus of free parameters), so they stay sorted during training and an
    index always names the same centre. The forward pass outputs the hard
    centre; the backward pass follows a straight-through estimator whose soft
    path (softmax of ``-sigma`` times the squared distance, as in SemanticNN,
    arXiv 2511.11038) gives both the input and the centres a gradient.

    Args:
        levels: number of centres L.
        sigma: sharpness of the soft assignment, in 1 / (latent unit)^2.
        span: initial centres are spread uniformly over [-span, span].
    """

    def __init__(self, levels: int, sigma: float = 4.0, span: float = 1.75) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.levels = levels
        self.sigma = sigma
        gap = 2.0 * span / (levels - 1)
        self.first = nn.Parameter(torch.tensor(-span))
        # softplus^-1(gap) so that the initial gaps are exactly ``gap``.
        self.raw_gaps = nn.Parameter(torch.full((levels - 1,), gap).expm1().log())

    def centres(self) -> torch.Tensor:
        """Return the L centres in increasing order."""
        gaps = F.softplus(self.raw_gaps)
        return torch.cat([self.first.view(1), self.first + torch.cumsum(gaps, 0)])

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Return the index of the nearest centre for every element of ``z``."""
        return torch.bucketize(z.contiguous(), self._midpoints())

    def _midpoints(self) -> torch.Tensor:
        c = self.centres().detach()
        return (c[1:] + c[:-1]) / 2

    def assignment(self, z: torch.Tensor) -> torch.Tensor:
        """Return the soft assignment (..., L) of every element to the centres."""
        dist = (z.unsqueeze(-1) - self.centres()) ** 2
        return torch.softmax(-self.sigma * dist, dim=-1)

    def freeze_random(self, generator: torch.Generator | None = None) -> None:
        """Redraw the centres at random and stop them from learning.

        This reproduces the published SemanticNN code's quantizer, whose random
        centres never receive a gradient, for ablations.
        """
        with torch.no_grad():
            draws = torch.sort(torch.randn(self.levels, generator=generator) * 1.5).values
            gaps = (draws[1:] - draws[:-1]).clamp_min(1e-3)
            self.first.copy_(draws[0])
            self.raw_gaps.copy_(gaps.expm1().log())
        self.first.requires_grad_(False)
        self.raw_gaps.requires_grad_(False)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize ``z``; return the straight-through values and the indices."""
        c = self.centres()
        idx = self.indices(z.detach())
        hard = c[idx]
        dist = (z.unsqueeze(-1) - c) ** 2
        soft = (torch.softmax(-self.sigma * dist, dim=-1) * c).sum(-1)
        # Value of ``hard``; gradient of ``soft`` with respect to z and the centres,
        # plus the direct gradient of the selected centre.
        return hard + soft - soft.detach(), idx
