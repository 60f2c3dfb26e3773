# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-burst BER estimation from the known pilot block and the burst's own SNR estimate.

Two measurements of the same burst feed the estimate. The pilot block gives
k errors in n known bits, which is unbiased but coarse: with no errors in 64
pilot bits the best it can report is "below about 1e-2". The receiver's SNR
estimate, from the known symbols of the access code and pilot block, mapped
through the AWGN theory of the modulation, resolves low BERs but trusts the
channel to be Gaussian. The combined estimate treats the SNR-based BER as a
prior worth ``SNR_WEIGHT_BITS`` pilot bits:

    ber_est = (k + w * ber_snr) / (n + w)

so the pilots pull the estimate towards what the bits show when the two
disagree (interference, a wrong gain estimate), and the estimate is never
exactly zero as long as ``ber_snr`` is not.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Weight, in pilot bits, of the SNR-based BER in the combined estimate.
SNR_WEIGHT_BITS = 256
# Smallest SNR-based BER, so that the estimate stays positive at any SNR.
MIN_SNR_BER = 1e-7
# Known symbols behind the receiver's SNR estimate for BPSK: the 64-bit
# access code and the 64 pilot bits.
N_KNOWN_BPSK_SYMBOLS = 128

MODULATION_BITS = {"bpsk": 1, "qpsk": 2}


def pilot_ber_estimate(errors: int | np.ndarray | torch.Tensor, n_pilot_bits: int):
    """Return the pilot-only estimate ``(k + 0.5) / (n + 1)`` from k errors in n pilot bits.

    This is the posterior mean under a Jeffreys Beta(1/2, 1/2) prior, so it is
    never exactly zero: with no errors in 64 pilot bits it is 0.5 / 65, about
    7.7e-3. It is used where no SNR estimate exists (hard bits from elsewhere).
    """
    if n_pilot_bits < 1:
        raise ValueError(f"n_pilot_bits must be positive, got {n_pilot_bits}")
    return (errors + 0.5) / (n_pilot_bits + 1)


def theory_ber(esn0, modulation: str = "bpsk"):
    """Return the AWGN bit error rate at Es/N0 (linear, per complex symbol).

    BPSK: 0.5 erfc(sqrt(Es/N0)); Gray-coded QPSK: 0.5 erfc(sqrt(Es / (2 N0))).
    Works on floats, numpy arrays and torch tensors.
    """
    if modulation not in MODULATION_BITS:
        raise ValueError(f"modulation must be one of {tuple(MODULATION_BITS)}, got {modulation!r}")
    k = MODULATION_BITS[modulation]
    if isinstance(esn0, torch.Tensor):
        return 0.5 * torch.special.erfc(torch.sqrt(esn0.clamp(min=0) / k))
    if np.ndim(esn0):
        x = np.sqrt(np.clip(np.asarray(esn0, dtype=np.float64), 0, None) / k)
        return 0.5 * np.array([math.erfc(v) for v in x.ravel()]).reshape(x.shape)
    return 0.5 * math.erfc(math.sqrt(max(float(esn0), 0.0) / k))


def combined_ber_estimate(errors, n_pilot_bits: int, snr_ber, weight: float = SNR_WEIGHT_BITS):
    """Return ``(k + w * ber_snr) / (n + w)`` with ``ber_snr`` kept in [MIN_SNR_BER, 0.5]."""
    if n_pilot_bits < 0 or weight < 0 or n_pilot_bits + weight <= 0:
        raise ValueError(f"need n_pilot_bits >= 0 and weight >= 0, not both 0; got "
                         f"{n_pilot_bits} and {weight}")
    if isinstance(snr_ber, torch.Tensor):
        snr_ber = snr_ber.clamp(MIN_SNR_BER, 0.5)
    else:
        snr_ber = np.clip(snr_ber, MIN_SNR_BER, 0.5)
    return (errors + weight * snr_ber) / (n_pilot_bits + weight)


def count_pilot_errors(received: np.ndarray, expected: np.ndarray) -> int:
    """Return how many hard pilot bits differ from the known pilot sequence."""
    received = np.asarray(received, dtype=np.uint8)
    expected = np.asarray(expected, dtype=np.uint8)
    if received.shape != expected.shape:
        raise ValueError(f"received {received.shape[0]} pilot bits, expected {expected.shape[0]}")
    return int(np.count_nonzero(received != expected))


def simulate_pilot_estimate(ber: torch.Tensor, n_pilot_bits: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw what the pilot-only estimator reports for bursts whose true BER is ``ber``."""
    errors = torch.binomial(torch.full_like(ber, float(n_pilot_bits)), ber.clamp(0, 1),
                            generator=generator)
    return pilot_ber_estimate(errors, n_pilot_bits)


def simulate_combined_estimate(ber: torch.Tensor, n_pilot_bits: int,
                               n_known_symbols: int = N_KNOWN_BPSK_SYMBOLS,
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw what the receiver's combined estimator reports for bursts whose true BER is ``ber``.

    Each burst is taken as BPSK over AWGN at the Es/N0 that gives its BER.
    The receiver estimates the noise power from ``n_known_symbols`` known
    symbols, so the estimated Es/N0 is the true one times (2m / chi2 with 2m
    degrees of freedom), m = n_known_symbols - 1; the pilots show a binomial
    number of errors. Used in training and in the bit-channel evaluation, so
    the decoder is trained on the same estimator noise as behind the GNU Radio receiver.
    """
    if n_known_symbols < 2:
        raise ValueError(f"n_known_symbols must be at least 2, got {n_known_symbols}")
    ber = ber.to(torch.float64).clamp(0, 0.5)
    # Es/N0 that gives this BER for BPSK; BER 0 stands for a noiseless burst.
    esn0 = torch.special.erfinv(1 - 2 * ber.clamp(min=1e-300)) ** 2
    esn0 = torch.where(ber > 0, esn0, torch.full_like(esn0, float("inf")))
    dof = 2 * (n_known_symbols - 1)
    chi2 = 2 * torch._standard_gamma(torch.full_like(ber, dof / 2), generator=generator)
    snr_ber = theory_ber(esn0 * dof / chi2, "bpsk")
    errors = torch.binomial(torch.full_like(ber, float(n_pilot_bits)), ber, generator=generator)
    return combined_ber_estimate(errors, n_pilot_bits, snr_ber).to(torch.float32)
