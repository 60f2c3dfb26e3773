# SPDX-License-Identifier: GPL-3.0-or-later
"""XAI-based asymmetry compensation: where the task decision depends on the split features.

Integrated Gradients (Sundararajan et al., 2017, through captum) attribute the
frozen tail's decision for the true class to each element of the split
features, on the clean path with an all-zero baseline. The granularity is a
per-class map: the mean absolute attribution over training images of each
class, computed once before codec training. The maps weight the
feature-reconstruction term element by element, so the small encoder spends
its bits where the decision depends on them; the task loss stays unweighted.
"""

from __future__ import annotations

import logging

import torch
from captum.attr import IntegratedGradients

log = logging.getLogger(__name__)


def integrated_gradients(tail: torch.nn.Module, features: torch.Tensor, targets: torch.Tensor,
                         n_steps: int = 16, return_delta: bool = False):
    """Return IG attributions of ``tail``'s logit for ``targets`` w.r.t. ``features``.

    With ``return_delta`` also return captum's convergence delta per sample:
    the attributions' sum minus (f(x) - f(baseline)), the completeness gap.
    """
    ig = IntegratedGradients(tail)
    return ig.attribute(features, baselines=torch.zeros_like(features), target=targets,
                        n_steps=n_steps, internal_batch_size=features.shape[0] * n_steps,
                        return_convergence_delta=return_delta)


def class_attribution_maps(head: torch.nn.Module, tail: torch.nn.Module, images: torch.Tensor,
                           labels: torch.Tensor, num_classes: int, n_steps: int = 16,
                           batch_size: int = 64) -> torch.Tensor:
    """Return the mean |IG| map of each class, shape (num_classes, C, H, W)."""
    maps = None
    counts = torch.zeros(num_classes)
    for i in range(0, len(images), batch_size):
        x, y = images[i:i + batch_size], labels[i:i + batch_size]
        with torch.no_grad():
            features = head(x)
        attr = integrated_gradients(tail, features, y, n_steps).abs().detach()
        if maps is None:
            maps = torch.zeros(num_classes, *attr.shape[1:])
        maps.index_add_(0, y, attr)
        counts += torch.bincount(y, minlength=num_classes).float()
    if maps is None or torch.any(counts == 0):
        raise ValueError(f"every class needs at least one image for its map, got counts "
                         f"{counts.int().tolist()}")
    return maps / counts.view(-1, 1, 1, 1)


def reconstruction_weights(maps: torch.Tensor, floor: float = 0.5, cap: float = 10.0) -> torch.Tensor:
    """Turn attribution maps into element weights with mean 1 per class.

    ``floor`` of the weight is spread evenly, so every element keeps some
    reconstruction pressure; the rest follows the attribution, capped at
    ``cap`` times the mean.
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}")
    mean = maps.flatten(1).mean(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    relative = (maps / mean).clamp_max(cap)
    relative = relative / relative.flatten(1).mean(1).view(-1, 1, 1, 1)
    return floor + (1.0 - floor) * relative
