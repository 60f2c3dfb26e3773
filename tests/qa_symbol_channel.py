# SPDX-License-Identifier: GPL-3.0-or-later
import math

import numpy as np
import pytest
from gnuradio.semanticnn import constellation_points, esn0_to_noise_amplitude, symbol_channel

from grutil import f32, pdu, run_hier

from semanticnn.ber_estimator import theory_ber


def random_frames(n, nbytes=62, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes() for _ in range(n)]


def test_noiseless_maps_bits_to_plus_minus_one():
    frames = random_frames(20)
    out = run_hier(symbol_channel(None), [pdu({}, f) for f in frames], 20)
    for f, msg in zip(frames, out):
        soft = f32(msg)
        bits = np.unpackbits(np.frombuffer(f, np.uint8))
        np.testing.assert_array_equal(soft, 2.0 * bits - 1.0)


def test_noise_amplitude_convention():
    assert esn0_to_noise_amplitude(None) == 0.0
    assert esn0_to_noise_amplitude(float("inf")) == 0.0
    assert esn0_to_noise_amplitude(0.0) == 1.0
    assert esn0_to_noise_amplitude(20.0) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        esn0_to_noise_amplitude(float("nan"))


def test_constellations_have_unit_energy():
    for modulation, size in (("bpsk", 2), ("qpsk", 4)):
        points = constellation_points(modulation)
        assert points.size == size
        assert np.mean(np.abs(points) ** 2) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="modulation"):
        constellation_points("8psk")


def test_qpsk_noiseless_soft_bits_and_symbol_energy():
    frames = random_frames(10, seed=3)
    out = run_hier(symbol_channel(None, modulation="qpsk"), [pdu({}, f) for f in frames], 10)
    for f, msg in zip(frames, out):
        soft = f32(msg)
        bits = np.unpackbits(np.frombuffer(f, np.uint8))
        np.testing.assert_allclose(soft, 2.0 * bits - 1.0, atol=1e-6)
        # Soft values are sqrt(2) times each axis, so each symbol's energy is
        # (soft_I^2 + soft_Q^2) / 2 = 1.
        energy = (soft[0::2] ** 2 + soft[1::2] ** 2) / 2
        assert energy.mean() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("modulation,esn0_db", [("bpsk", 0.0), ("bpsk", 4.0), ("qpsk", 4.0),
                                                ("qpsk", 8.0)])
def test_measured_ber_matches_theory(modulation, esn0_db):
    frames = random_frames(400, seed=int(esn0_db) + 1)
    out = run_hier(symbol_channel(esn0_db, seed=7, modulation=modulation),
                   [pdu({}, f) for f in frames], 400)
    errors = bits = 0
    noise_power = []
    for f, msg in zip(frames, out):
        soft = f32(msg)
        sent = np.unpackbits(np.frombuffer(f, np.uint8))
        errors += int(np.count_nonzero((soft > 0).astype(np.uint8) != sent))
        bits += sent.size
        noise_power.append(np.mean((soft - (2.0 * sent - 1.0)) ** 2))
    # Es/N0 per complex symbol: BPSK 0.5 erfc(sqrt(Es/N0)), Gray QPSK 0.5 erfc(sqrt(Es/(2 N0))).
    snr = 10 ** (esn0_db / 10) / (1 if modulation == "bpsk" else 2)
    theory = 0.5 * math.erfc(math.sqrt(snr))
    measured = errors / bits
    assert abs(measured - theory) / theory < 0.10, (measured, theory, errors, bits)
    # Each soft value carries the noise of one real dimension, N0 / 2, scaled
    # by sqrt(2) for QPSK.
    expected_var = 10 ** (-esn0_db / 10) / 2 * (1 if modulation == "bpsk" else 2)
    assert np.mean(noise_power) == pytest.approx(expected_var, rel=0.03)


def rayleigh_ber(esn0_db: float, modulation: str) -> float:
    """Mean BER over Rayleigh block fading with E|h|^2 = 1, Es/N0 per complex symbol."""
    gamma = 10 ** (esn0_db / 10) / (1 if modulation == "bpsk" else 2)
    return 0.5 * (1 - math.sqrt(gamma / (1 + gamma)))


def frame_like(n, seed):
    """Random frames that carry the real access code and pilots, which the gain estimator uses."""
    from semanticnn import frame as fr

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        bits = rng.integers(0, 2, 8 * fr.frame_bytes(37), dtype=np.uint8)
        bits[:64] = fr.ACCESS_CODE_BITS
        bits[fr.PILOT_START:fr.PILOT_START + 64] = fr.PILOT_BITS
        frames.append(np.packbits(bits).tobytes())
    return frames


@pytest.mark.parametrize("modulation,esn0_db", [("bpsk", 0.0), ("bpsk", 10.0), ("bpsk", 20.0),
                                                ("qpsk", 10.0)])
def test_block_rayleigh_ber_within_1_db_of_theory(modulation, esn0_db):
    frames = frame_like(3000, seed=int(esn0_db) + 11)
    channel = symbol_channel(esn0_db, seed=5, modulation=modulation, fading="rayleigh_block")
    out = run_hier(channel, [pdu({}, f) for f in frames], len(frames))
    errors = bits = 0
    for f, msg in zip(frames, out):
        sent = np.unpackbits(np.frombuffer(f, np.uint8))
        errors += int(np.count_nonzero((f32(msg) > 0).astype(np.uint8) != sent))
        bits += sent.size
    measured = errors / bits
    assert rayleigh_ber(esn0_db + 1.0, modulation) < measured < rayleigh_ber(esn0_db - 1.0, modulation)


def test_block_gains_have_unit_mean_power():
    frames = frame_like(2000, seed=1)
    channel = symbol_channel(60.0, seed=9, fading="rayleigh_block")
    run_hier(channel, [pdu({}, f) for f in frames], len(frames))
    gains = np.array(channel.demap.gains)
    assert gains.size == 2000
    assert np.mean(np.abs(gains) ** 2) == pytest.approx(1.0, rel=0.08)
    # Independent per burst: neighbouring gains are uncorrelated.
    assert abs(np.corrcoef(np.abs(gains[:-1]), np.abs(gains[1:]))[0, 1]) < 0.1


def test_rician_gain_has_strong_line_of_sight():
    frames = frame_like(1000, seed=2)
    channel = symbol_channel(60.0, seed=3, fading="rician_block", rician_k=10.0)
    run_hier(channel, [pdu({}, f) for f in frames], len(frames))
    power = np.abs(np.array(channel.demap.gains)) ** 2
    assert power.mean() == pytest.approx(1.0, rel=0.05)
    # K = 10 leaves far fewer deep fades than Rayleigh's P(|h|^2 < 0.1) = 9.5 %.
    assert np.mean(power < 0.1) < 0.01


@pytest.mark.parametrize("modulation,esn0_db", [("bpsk", 7.97), ("qpsk", 10.98)])
def test_low_ber_matches_theory(modulation, esn0_db):
    # Theory BER 2e-4: 700 frames of 900 bytes give about 1,000 errors, so
    # the 10 % tolerance is about three standard deviations.
    frames = random_frames(700, nbytes=900, seed=11)
    out = run_hier(symbol_channel(esn0_db, seed=13, modulation=modulation),
                   [pdu({}, f) for f in frames], 700, timeout=120)
    errors = bits = 0
    for f, msg in zip(frames, out):
        sent = np.unpackbits(np.frombuffer(f, np.uint8))
        errors += int(np.count_nonzero((f32(msg) > 0).astype(np.uint8) != sent))
        bits += sent.size
    theory = theory_ber(10 ** (esn0_db / 10), modulation)
    assert theory == pytest.approx(2e-4, rel=0.01)
    assert abs(errors / bits - theory) / theory < 0.10, (errors, bits, theory)


@pytest.mark.parametrize("modulation", ["bpsk", "qpsk"])
def test_16_kb_payload_goes_through(modulation):
    frames = random_frames(3, nbytes=16384 + 36, seed=5)
    out = run_hier(symbol_channel(None, modulation=modulation), [pdu({}, f) for f in frames], 3,
                   timeout=30)
    for f, msg in zip(frames, out):
        sent = np.unpackbits(np.frombuffer(f, np.uint8))
        np.testing.assert_array_equal((f32(msg) > 0).astype(np.uint8), sent)
