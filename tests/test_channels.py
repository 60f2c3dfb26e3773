# SPDX-License-Identifier: GPL-3.0-or-later
import math

import numpy as np
import pytest
import torch

from semanticnn.ber_estimator import pilot_ber_estimate, simulate_pilot_estimate
from semanticnn.channels import BitFlipChannel, sample_training_ber


@pytest.mark.parametrize("ber", [1e-3, 1e-2, 0.1, 0.3])
def test_flip_rate_within_binomial_bounds(ber):
    n = 2_000_000
    channel = BitFlipChannel(ber, seed=1)
    flips = int(channel.flip_bits(np.zeros(n, np.uint8)).sum())
    sigma = math.sqrt(n * ber * (1 - ber))
    assert abs(flips - n * ber) < 5 * sigma


def test_flip_channel_seeded_and_bytes():
    payload = bytes(range(37))
    a = BitFlipChannel(0.05, seed=3)(payload)
    b = BitFlipChannel(0.05, seed=3)(payload)
    assert a == b
    assert len(a) == 37
    assert BitFlipChannel(0.0, seed=3)(payload) == payload


def test_flip_channel_rejects_bad_ber():
    with pytest.raises(ValueError, match="ber"):
        BitFlipChannel(1.5)


def test_training_ber_distribution():
    gen = torch.Generator().manual_seed(0)
    ber = sample_training_ber(100_000, 1e-4, 2e-1, p_zero=0.1, generator=gen)
    zero = (ber == 0).float().mean().item()
    assert abs(zero - 0.1) < 0.01
    nz = ber[ber > 0]
    assert nz.min() >= 1e-4 and nz.max() <= 2e-1
    # Log-uniform: the median is the geometric mean of the bounds.
    assert abs(torch.log10(nz.median()).item() - (math.log10(1e-4) + math.log10(2e-1)) / 2) < 0.05


def test_pilot_estimate_never_zero():
    assert pilot_ber_estimate(0, 64) == pytest.approx(0.5 / 65)
    assert pilot_ber_estimate(64, 64) == pytest.approx(64.5 / 65)
    est = simulate_pilot_estimate(torch.zeros(1000), 64, torch.Generator().manual_seed(0))
    assert torch.all(est > 0)


def test_pilot_estimate_unbiased_at_moderate_ber():
    gen = torch.Generator().manual_seed(0)
    p = 0.05
    est = simulate_pilot_estimate(torch.full((200_000,), p), 64, gen)
    expected = (64 * p + 0.5) / 65
    assert est.mean().item() == pytest.approx(expected, rel=0.01)
