# SPDX-License-Identifier: GPL-3.0-or-later
import math

import numpy as np
import pytest
import torch

from semanticnn.ber_estimator import (MIN_SNR_BER, combined_ber_estimate, pilot_ber_estimate,
                                     simulate_combined_estimate, simulate_pilot_estimate, theory_ber)
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
    assert nz.min() >= 1e-4
    assert nz.max() <= 2e-1
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


def run_lengths(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in each row of a bool matrix."""
    lengths = []
    for row in mask:
        edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths.extend((ends - starts).tolist())
    return lengths


@pytest.mark.parametrize("ber,burst", [(0.01, 4.0), (0.05, 8.0), (0.1, 16.0)])
def test_gilbert_elliott_matches_parameters(ber, burst):
    from semanticnn.channels import GilbertElliott

    channel = GilbertElliott(mean_burst_length=burst)
    gen = torch.Generator().manual_seed(1)
    n, bits = 2000, 2000
    rates = torch.full((n,), ber)
    bad = channel.states(bits, rates, gen).numpy()
    lengths = run_lengths(bad)
    # Bad-state runs are geometric with mean ``burst``; runs cut by the payload
    # edges are a small share here (payloads much longer than the bursts).
    assert np.mean(lengths) == pytest.approx(burst, rel=0.1)
    flips = channel.sample(bits, rates, gen).numpy()
    p = flips.mean()
    # Bursts correlate the flips, so allow well beyond the binomial spread.
    assert p == pytest.approx(ber, rel=0.08)


def test_gilbert_elliott_flips_cluster():
    from semanticnn.channels import GilbertElliott, IndependentFlips

    gen = torch.Generator().manual_seed(2)
    rates = torch.full((500,), 0.02)
    burst = GilbertElliott(16.0).sample(1000, rates, gen).numpy()
    iid = IndependentFlips().sample(1000, rates, gen).numpy()
    # Given a flip, the next bit flips far more often in a burst channel.
    def next_flip_rate(m):
        return (m[:, 1:] & m[:, :-1]).sum() / m[:, :-1].sum()
    assert next_flip_rate(burst) > 0.3
    assert next_flip_rate(iid) < 0.05


def test_gilbert_elliott_rejects_high_ber():
    from semanticnn.channels import GilbertElliott

    with pytest.raises(ValueError, match="below bad_ber"):
        GilbertElliott(8.0).sample(10, torch.tensor([0.6]))


def test_symbol_replacement_matches_ber_and_hits_whole_symbols():
    from semanticnn.channels import SymbolReplacement

    gen = torch.Generator().manual_seed(4)
    flips = SymbolReplacement(3).sample(3000, torch.full((200,), 0.05), gen).numpy()
    assert flips.mean() == pytest.approx(0.05, rel=0.05)
    per_symbol = flips.reshape(200, 1000, 3).sum(-1)
    # Flips come in symbols: two or three wrong bits in one symbol are common.
    assert (per_symbol >= 2).sum() > 0.2 * (per_symbol >= 1).sum()


def test_gaussian_llrs_sign_and_ber():
    from semanticnn.channels import gaussian_llrs

    gen = torch.Generator().manual_seed(5)
    bits = torch.randint(0, 2, (3, 200_000), generator=gen)
    llrs = gaussian_llrs(bits, torch.tensor([0.0, 0.01, 0.1]), gen)
    hard = (llrs > 0).long()
    assert torch.equal(hard[0], bits[0])
    assert torch.isinf(llrs[0]).all()
    for row, ber in ((1, 0.01), (2, 0.1)):
        assert (hard[row] != bits[row]).float().mean().item() == pytest.approx(ber, rel=0.05)
    # Positive means bit 1: the mean LLR of ones is positive.
    assert llrs[2][bits[2] == 1].mean() > 0


@pytest.mark.parametrize("p", [1e-4, 1e-3, 1e-2, 1e-1])
def test_combined_estimate_mean_within_factor_two(p):
    gen = torch.Generator().manual_seed(1)
    est = simulate_combined_estimate(torch.full((50_000,), p), 64, generator=gen)
    assert p / 2 < est.mean().item() < 2 * p
    assert torch.all(est > 0)


def test_combined_estimate_follows_pilots_when_snr_disagrees():
    # 10 errors in 64 pilots against an SNR that claims 1e-6: the pilots pull the estimate up.
    est = combined_ber_estimate(10, 64, 1e-6)
    assert est == pytest.approx((10 + 256e-6) / 320)
    assert combined_ber_estimate(0, 64, 0.0) == pytest.approx(256 * MIN_SNR_BER / 320)


def test_theory_ber_values():
    # BPSK at Es/N0 = 0 dB and Gray QPSK at 3 dB higher Es/N0 have the same bit error rate.
    assert theory_ber(1.0, "bpsk") == pytest.approx(0.0786496, rel=1e-5)
    assert theory_ber(2.0, "qpsk") == pytest.approx(0.0786496, rel=1e-5)
    assert theory_ber(torch.tensor([1.0]), "bpsk").item() == pytest.approx(0.0786496, rel=1e-5)
    with pytest.raises(ValueError, match="modulation"):
        theory_ber(1.0, "8psk")
