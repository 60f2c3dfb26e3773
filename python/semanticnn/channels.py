# SPDX-License-Identifier: GPL-3.0-or-later
"""The bit channel: independent flips, Gilbert-Elliott bursts and the training BER draw.

A channel draws a flip mask over a payload's bit stream, in the order the bits
are sent (symbols in raster order, each symbol's bits most significant first),
so that a burst hits consecutive bits as it would on the air.
"""

from __future__ import annotations

import math

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


class IndependentFlips:
    """Flip mask with independent flips at each sample's BER."""

    name = "iid"

    def sample(self, n_bits: int, ber: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Return a bool mask (B, n_bits) of flipped bits for per-sample BERs ``ber`` (B,)."""
        u = torch.rand((ber.numel(), n_bits), generator=generator)
        return u < ber.view(-1, 1)


class GilbertElliott:
    """Two-state burst channel: a good state without errors and a bad state at BER 1/2.

    The chain stays in the bad state for a geometric number of bits with mean
    ``mean_burst_length``. The good-to-bad probability is set per sample so
    that the stationary BER equals the requested ``ber``, which therefore must
    stay below ``bad_ber`` (1/2). Each payload starts in a state drawn from the
    stationary distribution.

    Args:
        mean_burst_length: mean length of a bad-state run, in bits (at least 1).
        bad_ber: flip probability in the bad state.
    """

    name = "burst"

    def __init__(self, mean_burst_length: float = 8.0, bad_ber: float = 0.5) -> None:
        if mean_burst_length < 1:
            raise ValueError(f"mean_burst_length must be at least 1 bit, got {mean_burst_length}")
        if not 0 < bad_ber <= 1:
            raise ValueError(f"bad_ber must be in (0, 1], got {bad_ber}")
        self.mean_burst_length = mean_burst_length
        self.bad_ber = bad_ber

    def transition_probabilities(self, ber: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return P(good to bad) and P(bad to good) per sample for stationary BER ``ber``."""
        pi_bad = (ber / self.bad_ber).clamp(0.0, 0.999)
        p_bg = torch.full_like(ber, 1.0 / self.mean_burst_length)
        p_gb = (pi_bad * p_bg / (1.0 - pi_bad)).clamp(0.0, 1.0)
        return p_gb, p_bg

    def states(self, n_bits: int, ber: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the bool bad-state sequence (B, n_bits) of the Markov chain."""
        if torch.any(ber >= self.bad_ber):
            raise ValueError(f"a Gilbert-Elliott BER must stay below bad_ber={self.bad_ber}, "
                             f"got max {ber.max().item():.3g}")
        p_gb, p_bg = self.transition_probabilities(ber)
        u = torch.rand((ber.numel(), n_bits), generator=generator)
        bad = torch.empty((ber.numel(), n_bits), dtype=torch.bool)
        state = u[:, 0] < ber / self.bad_ber
        bad[:, 0] = state
        for i in range(1, n_bits):
            state = torch.where(state, u[:, i] >= p_bg, u[:, i] < p_gb)
            bad[:, i] = state
        return bad

    def sample(self, n_bits: int, ber: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Return a bool mask (B, n_bits) of flipped bits for stationary BERs ``ber`` (B,)."""
        bad = self.states(n_bits, ber, generator)
        u = torch.rand((ber.numel(), n_bits), generator=generator)
        return bad & (u < self.bad_ber)


class SymbolReplacement:
    """Replace whole symbols by a uniformly random centre, as the published SemanticNN code does.

    A symbol is replaced with probability 2 * ``ber``; a random label differs
    from the sent one in each bit with probability 1/2, so the BER is ``ber``.
    Kept for ablations: a radio link flips bits, not symbols.

    Args:
        bits_per_symbol: bits of each symbol's label.
    """

    name = "symbol"

    def __init__(self, bits_per_symbol: int) -> None:
        self.bits_per_symbol = bits_per_symbol

    def sample(self, n_bits: int, ber: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Return a bool mask (B, n_bits) of flipped bits for per-sample BERs ``ber`` (B,)."""
        k = self.bits_per_symbol
        if n_bits % k:
            raise ValueError(f"{n_bits} bits is not a whole number of {k}-bit symbols")
        b = ber.numel()
        replaced = torch.rand((b, n_bits // k), generator=generator) < (2 * ber).clamp(max=1).view(-1, 1)
        random_bits = torch.rand((b, n_bits // k, k), generator=generator) < 0.5
        return (replaced.unsqueeze(-1) & random_bits).view(b, n_bits)


def gaussian_llrs(bits: torch.Tensor, ber: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Send 0/1 bits (B, n) as BPSK through AWGN whose hard-decision BER is ``ber`` (B,).

    Bit 0 is sent as -1 and bit 1 as +1. The noise standard deviation per real
    dimension is sigma = 1 / Q^-1(ber), so that Q(1 / sigma) = ber. Returns
    the LLRs 2 y / sigma^2, positive meaning bit 1 (GNU Radio's convention);
    a BER of 0 gives +-inf.
    """
    ber = ber.clamp(0.0, 0.4999).view(-1, 1)
    q_inv = torch.special.ndtri(1.0 - ber.clamp_min(1e-12))
    sigma = torch.where(ber > 0, 1.0 / q_inv, torch.zeros_like(ber))
    symbols = 2.0 * bits.float() - 1.0
    y = symbols + sigma * torch.randn(bits.shape, generator=generator)
    return torch.where(sigma > 0, 2.0 * y / sigma.clamp_min(1e-12) ** 2, symbols * float("inf"))


def make_channel(name: str, mean_burst_length: float = 8.0, bits_per_symbol: int = 3):
    """Return the training channel called ``iid``, ``burst`` or ``symbol``."""
    if name == "iid":
        return IndependentFlips()
    if name == "burst":
        return GilbertElliott(mean_burst_length)
    if name == "symbol":
        return SymbolReplacement(bits_per_symbol)
    raise ValueError(f"channel must be 'iid', 'burst' or 'symbol', got {name!r}")


def sample_training_ber(n: int, ber_min: float = 1e-4, ber_max: float = 2e-1,
                        p_zero: float = 0.1, generator: torch.Generator | None = None
                        ) -> torch.Tensor:
    """Draw ``n`` channel BERs: 0 with probability ``p_zero``, else log-uniform in [min, max]."""
    if not 0.0 < ber_min < ber_max <= 0.5:
        raise ValueError(f"need 0 < ber_min < ber_max <= 0.5, got {ber_min}, {ber_max}")
    u = torch.rand(n, generator=generator)
    log_ber = math.log10(ber_min) + u * (math.log10(ber_max) - math.log10(ber_min))
    ber = torch.pow(10.0, log_ber)
    zero = torch.rand(n, generator=generator) < p_zero
    return torch.where(zero, torch.zeros_like(ber), ber)
