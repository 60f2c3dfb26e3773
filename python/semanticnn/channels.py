# SPDX-License-Identifier: GPL-3.0-or-later
"""The bit channel: independent bit flips on packed payloads, and the training BER draw."""

from __future__ import annotations

import numpy as np
import torch


class BitFlipChannel:
    """Flip each bit of a payload independently with probability ``ber``.

    Flips are drawn per bit from a seeded numpy generator, so a run is
    reproducible from its seed.
    """

    def __init__(self, ber: float, seed: int | None = None) -> None:
        if not 0.0 <= ber <= 1.0:
            raise ValueError(f"ber must be in [0, 1], got {ber}")
        self.ber = ber
        self.rng = np.random.default_rng(seed)

    def flip_bits(self, bits: np.ndarray) -> np.ndarray:
        """Return a copy of a 0/1 array with each bit flipped with probability ``ber``."""
        bits = np.asarray(bits, dtype=np.uint8)
        flips = self.rng.random(bits.shape) < self.ber
        return bits ^ flips.astype(np.uint8)

    def __call__(self, payload: bytes) -> bytes:
        """Return the payload bytes after the channel."""
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
        return np.packbits(self.flip_bits(bits)).tobytes()


def sample_training_ber(n: int, ber_min: float = 1e-4, ber_max: float = 2e-1,
                        p_zero: float = 0.1, generator: torch.Generator | None = None
                        ) -> torch.Tensor:
    """Draw ``n`` channel BERs: 0 with probability ``p_zero``, else log-uniform in [min, max]."""
    if not 0.0 < ber_min < ber_max <= 0.5:
        raise ValueError(f"need 0 < ber_min < ber_max <= 0.5, got {ber_min}, {ber_max}")
    u = torch.rand(n, generator=generator)
    log_ber = np.log10(ber_min) + u * (np.log10(ber_max) - np.log10(ber_min))
    ber = torch.pow(10.0, log_ber)
    zero = torch.rand(n, generator=generator) < p_zero
    return torch.where(zero, torch.zeros_like(ber), ber)
