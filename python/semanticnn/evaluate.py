# SPDX-License-Identifier: GPL-3.0-or-later
"""Accuracy of the split model on the bit channel, with counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .ber_estimator import simulate_combined_estimate
from .frame import N_PILOT_BITS
from .pipeline import SplitInference

DEFAULT_BERS = (0.0, 1e-3, 1e-2, 5e-2, 1e-1)


@dataclass
class BitChannelResult:
    """Counts of one bit-channel evaluation point."""

    ber: float
    images: int
    correct: int
    bits: int
    bit_errors: int
    mean_ber_est: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.images

    @property
    def wrong(self) -> int:
        return self.images - self.correct

    def confidence_interval(self, z: float = 1.96) -> tuple[float, float]:
        """Return the Wilson score interval of the accuracy (95 % for z = 1.96)."""
        return wilson_interval(self.correct, self.images, z)

    @property
    def measured_ber(self) -> float:
        return self.bit_errors / self.bits if self.bits else 0.0


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Return the Wilson score interval for a binomial proportion."""
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate_monte_carlo(model: SplitInference, images: np.ndarray, labels: np.ndarray,
                         ber: float, target_wrong: int = 500, max_images: int = 100_000,
                         seed: int = 0, channel: str = "iid",
                         burst_length: float = 8.0) -> BitChannelResult:
    """Repeat passes over the images with fresh channel draws until enough are wrong.

    Stops after the pass in which ``target_wrong`` wrong images are reached, or
    before a pass would exceed ``max_images``; at least one pass always runs.
    At BER 0 every pass would give the same predictions, so only one runs.
    """
    if target_wrong < 0 or max_images < 1:
        raise ValueError(f"need target_wrong >= 0 and max_images >= 1, got {target_wrong}, "
                         f"{max_images}")
    total = evaluate_bit_channel(model, images, labels, ber, seed=seed, channel=channel,
                                 burst_length=burst_length)
    passes = 1
    while (ber > 0 and total.wrong < target_wrong
           and total.images + len(images) <= max_images):
        r = evaluate_bit_channel(model, images, labels, ber, seed=seed + passes,
                                 channel=channel, burst_length=burst_length)
        est_sum = total.mean_ber_est * total.images + r.mean_ber_est * r.images
        total = BitChannelResult(ber, total.images + r.images, total.correct + r.correct,
                                 total.bits + r.bits, total.bit_errors + r.bit_errors,
                                 est_sum / (total.images + r.images))
        passes += 1
    return total


def evaluate_bit_channel(model: SplitInference, images: np.ndarray, labels: np.ndarray,
                         ber: float, seed: int = 0, batch_size: int = 500,
                         channel: str = "iid", burst_length: float = 8.0) -> BitChannelResult:
    """Send every image's payload through the bit channel at ``ber`` and score it.

    ``channel`` is ``iid`` (independent flips) or ``burst`` (Gilbert-Elliott
    with ``burst_length``). A codec trained on soft values gets LLRs from BPSK
    through AWGN with the same hard-decision BER instead. The decoder is given
    what the receiver's estimator would report for the same channel: 64 pilot
    bits at ``ber`` combined with an SNR estimate from 128 known BPSK symbols.
    """
    from .channels import gaussian_llrs, make_channel

    gen = torch.Generator().manual_seed(seed)
    bit_channel = make_channel(channel, burst_length, model.config.bits_per_symbol)
    nbits = model.config.payload_bits
    correct = bit_errors = bits = 0
    ber_ests: list[float] = []
    for i in range(0, len(images), batch_size):
        payloads = model.encode(images[i:i + batch_size])
        n = len(payloads)
        raw = np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(n, -1)
        sent = np.unpackbits(raw, axis=1)[:, :nbits]
        rates = torch.full((n,), float(ber))
        est = simulate_combined_estimate(rates, N_PILOT_BITS, generator=gen)
        if model.config.soft_input:
            llrs = gaussian_llrs(torch.from_numpy(sent), rates, gen)
            flips = ((llrs > 0).numpy().astype(np.uint8) != sent)
            with torch.no_grad():
                logits = model.backbone.tail(model.codec.decode_llr_batch(llrs, est))
            preds = logits.argmax(1).numpy()
        else:
            flips = bit_channel.sample(nbits, rates, gen).numpy()
            # Padding bits of the last byte carry nothing and stay as sent.
            received = np.packbits(sent ^ flips, axis=1)
            preds = model.predict([r.tobytes() for r in received], est)
        correct += int((preds == labels[i:i + batch_size]).sum())
        bit_errors += int(flips.sum())
        bits += n * nbits
        ber_ests.extend(est.tolist())
    return BitChannelResult(ber, len(images), correct, bits, bit_errors, float(np.mean(ber_ests)))
