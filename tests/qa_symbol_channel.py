# SPDX-License-Identifier: GPL-3.0-or-later
import math

import numpy as np
import pytest
from gnuradio.semanticnn import esn0_to_noise_amplitude, symbol_channel

from grutil import f32, pdu, run_hier


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


@pytest.mark.parametrize("esn0_db", [0.0, 4.0])
def test_measured_ber_matches_bpsk_theory(esn0_db):
    frames = random_frames(400, seed=int(esn0_db) + 1)
    out = run_hier(symbol_channel(esn0_db, seed=7), [pdu({}, f) for f in frames], 400)
    errors = bits = 0
    noise_power = []
    for f, msg in zip(frames, out):
        soft = f32(msg)
        sent = np.unpackbits(np.frombuffer(f, np.uint8))
        errors += int(np.count_nonzero((soft > 0).astype(np.uint8) != sent))
        bits += sent.size
        noise_power.append(np.mean((soft - (2.0 * sent - 1.0)) ** 2))
    theory = 0.5 * math.erfc(math.sqrt(10 ** (esn0_db / 10)))
    measured = errors / bits
    assert abs(measured - theory) / theory < 0.10, (measured, theory, errors, bits)
    # The real part carries N0 / 2 of the complex noise power N0.
    assert np.mean(noise_power) == pytest.approx(10 ** (-esn0_db / 10) / 2, rel=0.03)
