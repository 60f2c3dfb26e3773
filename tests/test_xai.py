# SPDX-License-Identifier: GPL-3.0-or-later
"""Integrated Gradients on the split features: shape, completeness and class maps."""

import torch

from semanticnn import data
from semanticnn.xai import class_attribution_maps, integrated_gradients, reconstruction_weights


def test_attributions_are_complete(model):
    x, y = data.load_tensors("test")
    tail = model.backbone.tail
    with torch.no_grad():
        features = model.backbone.head(x[:8])
    attr, delta = integrated_gradients(tail, features, y[:8], n_steps=64, return_delta=True)
    assert attr.shape == features.shape
    with torch.no_grad():
        gain = (tail(features) - tail(torch.zeros_like(features)))[torch.arange(8), y[:8]]
    # Completeness: the attributions add up to f(x) - f(baseline).
    sums = attr.flatten(1).sum(1)
    assert torch.allclose(sums, gain, atol=0.05 * gain.abs().max().item())
    assert delta.abs().max() < 0.05 * gain.abs().max()


def test_class_maps_and_weights(model):
    x, y = data.load_tensors("train")
    maps = class_attribution_maps(model.backbone.head, model.backbone.tail, x[:300], y[:300],
                                  10, n_steps=8)
    assert maps.shape == (10, 32, 28, 28)
    assert torch.all(maps >= 0)
    weights = reconstruction_weights(maps, floor=0.5)
    assert torch.allclose(weights.flatten(1).mean(1), torch.ones(10), atol=1e-4)
    assert weights.min() >= 0.5
    # The maps differ between classes: the decision depends on different features.
    assert (maps[0] - maps[1]).abs().sum() > 0.1 * maps[0].sum()
