# SPDX-License-Identifier: GPL-3.0-or-later
"""The committed weights: accuracy, rate and the exact-bits path."""

import pytest
import torch

from semanticnn.evaluate import evaluate_bit_channel


def test_backbone_reaches_92_percent(model, test_split):
    images, labels = test_split
    correct = int((model.predict_clean(images) == labels).sum())
    assert correct / len(labels) >= 0.92


def test_split_features_and_payload_size(model, test_split):
    images, _ = test_split
    f = model.features(images[:2])
    assert tuple(f.shape) == (2, 32, 28, 28)
    assert f[0].numel() * 4 == 100_352
    assert model.payload_bytes <= 48
    assert all(len(p) == model.payload_bytes for p in model.encode(images[:5]))


def test_batched_and_single_paths_agree(model, test_split):
    images, _ = test_split
    payloads = model.encode(images[:16])
    singles = [model.encode(images[i])[0] for i in range(16)]
    assert payloads == singles
    batched = model.logits(payloads, [0.01] * 16)
    single = torch.cat([model.logits([p], [0.01]) for p in payloads])
    assert torch.allclose(batched, single, atol=1e-4)


def test_codec_accuracy_degrades_gracefully(model, test_split):
    images, labels = test_split
    images, labels = images[:2000], labels[:2000]
    clean = evaluate_bit_channel(model, images, labels, 0.0, seed=0)
    noisy = evaluate_bit_channel(model, images, labels, 0.05, seed=0)
    assert clean.bit_errors == 0
    assert clean.accuracy > 0.84
    assert noisy.accuracy > 0.74
    assert abs(noisy.measured_ber - 0.05) < 0.005


def test_erasure_prediction_is_one_class(model):
    preds = model.predict([None] * 4, [0.5] * 4)
    assert len(set(preds.tolist())) == 1
    assert 0 <= preds[0] < 10


def test_ber_awareness_changes_the_output(model, test_split):
    images, _ = test_split
    payload = model.encode(images[0])
    low = model.logits(payload, [1e-4])
    high = model.logits(payload, [0.2])
    assert not torch.allclose(low, high)


def test_monte_carlo_repeats_until_enough_wrong(model, test_split):
    from semanticnn.evaluate import evaluate_monte_carlo

    images, labels = test_split
    r = evaluate_monte_carlo(model, images[:200], labels[:200], 0.05, target_wrong=120,
                             max_images=2000, seed=0)
    assert r.wrong >= 120 or r.images + 200 > 2000
    assert r.images % 200 == 0
    assert r.images > 200
    low, high = r.confidence_interval()
    assert low < r.accuracy < high


def test_wilson_interval_known_values():
    from semanticnn.evaluate import wilson_interval

    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4)
    assert high == pytest.approx(0.5962, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
