# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-burst BER estimation from the known pilot block of a frame."""

from __future__ import annotations

import numpy as np
import torch


def pilot_ber_estimate(errors: int | np.ndarray | torch.Tensor, n_pilot_bits: int):
    """Return the BER estimate ``(k + 0.5) / (n + 1)`` from k errors in n pilot bits.

    This is the posterior mean under a Jeffreys Beta(1/2, 1/2) prior, so it is
    never exactly zero: with no errors in 64 pilot bits it is 0.5 / 65, about 7.7e-3.
    """
    if n_pilot_bits < 1:
        raise ValueError(f"n_pilot_bits must be positive, got {n_pilot_bits}")
    return (errors + 0.5) / (n_pilot_bits + 1)


def count_pilot_errors(received: np.ndarray, expected: np.ndarray) -> int:
    """Return how many hard pilot bits differ from the known pilot sequence."""
    received = np.asarray(received, dtype=np.uint8)
    expected = np.asarray(expected, dtype=np.uint8)
    if received.shape != expected.shape:
        raise ValueError(f"received {received.shape[0]} pilot bits, expected {expected.shape[0]}")
    return int(np.count_nonzero(received != expected))


def simulate_pilot_estimate(ber: torch.Tensor, n_pilot_bits: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw what the pilot estimator reports for bursts whose true BER is ``ber``.

    Used in training and in the bit-channel evaluation so that the decoder gets
    the same estimator noise as behind the GNU Radio receiver.
    """
    errors = torch.binomial(torch.full_like(ber, float(n_pilot_bits)), ber.clamp(0, 1),
                            generator=generator)
    return pilot_ber_estimate(errors, n_pilot_bits)
