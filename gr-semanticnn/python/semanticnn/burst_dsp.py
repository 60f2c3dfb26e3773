# SPDX-License-Identifier: GPL-3.0-or-later
"""Burst-mode signal processing on whole bursts, in numpy.

The transmitter shapes each frame into one burst: BPSK or QPSK symbols at
unit average energy, root-raised-cosine pulses at ``sps`` samples per symbol
(taps of unit energy, so the matched filter output has Es = 1 and the burst
has a power of about 1/sps per sample), raised-cosine ramps at both ends and
zero padding.

The receiver works on the matched filter's output. ``BurstSync`` finds bursts
in the continuous stream and synchronizes each one with feedforward
estimators, which need no settling time at the start of a burst:

1. Detection: the access code is correlated in segments of 16 symbols whose
   magnitudes are added without their phases, so a carrier offset of up to
   about 1.5 % of the symbol rate costs little correlation. The metric is
   normalized by the window's energy and compared with a threshold set for
   a false-alarm probability per sample on noise alone.
2. Coarse carrier frequency: the Luise-Reggiannini estimator on the access
   code's symbols with their modulation removed, before any coherent step.
3. Symbol timing: the Oerder-Meyr estimator (the phase of the symbol-rate
   line of |y|^2) over the access code, header and pilots, then per block of
   the payload to follow a sample clock offset; symbols are taken by cubic
   interpolation.
4. Carrier frequency and phase: the access code and the pilot block are
   known, so the phase difference between them refines the frequency and
   gives the phase. Over the payload a blockwise M-th power estimator follows
   what is left.
5. Gain and noise: least squares over the known symbols gives the complex
   gain h and the noise power N0, hence ``snr_est_db`` = |h|^2 / N0.

Soft values are those of the symbol mode: Re(y) at unit symbol amplitude
for BPSK, sqrt(2) Im(y) and sqrt(2) Re(y) for QPSK, positive meaning bit 1.
The LLR of a bit is ``llr_scale`` times its soft value: 4 / sigma^2 for BPSK
and 2 / sigma^2 for QPSK, with sigma^2 = N0 / |h|^2 the complex noise
variance at unit symbol energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from semanticnn import frame
from semanticnn.ber_estimator import theory_ber

from .symbol_channel import (GainNoise, constellation_points, estimate_gain_noise, llr_scale,
                             map_bits, soft_values)

DEFAULT_SPS = 4
DEFAULT_ROLLOFF = 0.35
DEFAULT_SPAN = 11  # RRC length in symbols
DEFAULT_FALSE_ALARM = 1e-7  # per sample, on noise alone
SEGMENT_SYMBOLS = 16
TIMING_BLOCK_SYMBOLS = 512
PHASE_BLOCK_SYMBOLS = 64
# A detection whose 64 access-code bits show more errors than this is dropped:
# noise or a burst's payload gives 32 on average, a burst at Es/N0 -4 dB
# (BPSK BER 0.19) gives 12 with a standard deviation of 3.
MAX_ACCESS_ERRORS = 20

BITS_PER_SYMBOL = {"bpsk": 1, "qpsk": 2}


def rrc_taps(sps: int, rolloff: float, span: int) -> np.ndarray:
    """Return root-raised-cosine taps over ``span`` symbols, scaled to unit energy."""
    from gnuradio import filter as grfilter

    if sps < 2 or span < 2 or not 0.0 < rolloff <= 1.0:
        raise ValueError(f"need sps >= 2, span >= 2 and rolloff in (0, 1]; got sps={sps}, "
                         f"span={span}, rolloff={rolloff}")
    taps = np.array(grfilter.firdes.root_raised_cosine(1.0, float(sps), 1.0, rolloff,
                                                       span * sps + 1), dtype=np.float64)
    return (taps / np.sqrt(np.sum(taps ** 2))).astype(np.float32)


def modulate(frame_bytes: bytes, points: np.ndarray, taps: np.ndarray, sps: int,
             ramp_samples: int = 0, amplitude: float = 1.0) -> np.ndarray:
    """Return the pulse-shaped burst of one frame, with raised-cosine ramps at both ends.

    The burst is the full convolution of the symbols (at ``sps``) with the
    taps: len(symbols) * sps + len(taps) - 1 samples, symbol i peaking at the
    matched filter's output at sample i * sps + len(taps) - 1 after the burst start.
    """
    bits = np.unpackbits(np.frombuffer(bytes(frame_bytes), np.uint8))
    symbols = map_bits(bits, points)
    up = np.zeros(symbols.size * sps, dtype=np.complex64)
    up[::sps] = symbols
    burst = np.convolve(up, taps.astype(np.float32)).astype(np.complex64)
    if ramp_samples > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_samples) + 0.5) / ramp_samples))
        burst[:ramp_samples] *= ramp.astype(np.float32)
        burst[-ramp_samples:] *= ramp[::-1].astype(np.float32)
    return (amplitude * burst).astype(np.complex64)


def burst_power(modulation: str, sps: int, rolloff: float, span: int, seed: int = 0) -> float:
    """Return the mean power per sample of a long random burst, first to last symbol.

    Es/N0 is set from this measured power: Es = power * sps.
    """
    rng = np.random.default_rng(seed)
    taps = rrc_taps(sps, rolloff, span)
    burst = modulate(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                     constellation_points(modulation), taps, sps)
    delay = (taps.size - 1) // 2
    core = burst[delay:burst.size - delay]
    return float(np.mean(np.abs(core) ** 2))


def gamma_tail_inverse(shape: int, probability: float) -> float:
    """Return x with P(Gamma(shape, 1) > x) = probability, for an integer shape."""
    if shape < 1 or not 0.0 < probability < 1.0:
        raise ValueError(f"need an integer shape >= 1 and a probability in (0, 1), got {shape}, "
                         f"{probability}")

    def tail(x: float) -> float:
        term, total = 1.0, 1.0
        for k in range(1, shape):
            term *= x / k
            total += term
        return math.exp(-x) * total

    lo, hi = 0.0, 1.0
    while tail(hi) > probability:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if tail(mid) > probability else (lo, mid)
    return hi


def interpolate(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return y at fractional sample times t by 4-point cubic Lagrange interpolation."""
    i = np.floor(t).astype(np.int64)
    mu = (t - i).astype(np.float32)
    ym1, y0, y1, y2 = y[i - 1], y[i], y[i + 1], y[i + 2]
    return (ym1 * (-mu * (mu - 1) * (mu - 2) / 6) + y0 * ((mu + 1) * (mu - 1) * (mu - 2) / 2)
            + y1 * (-(mu + 1) * mu * (mu - 2) / 2) + y2 * ((mu + 1) * mu * (mu - 1) / 6))


def oerder_meyr(power: np.ndarray, start: int, sps: int) -> float:
    """Return the timing offset in samples, in (-sps/2, sps/2], of |y|^2 samples from ``start``.

    The offset is where |y|^2 peaks within each symbol, from the phase of its
    symbol-rate component relative to the grid start + i * sps.
    """
    n = np.arange(power.size)
    line = np.sum(power * np.exp(-2j * np.pi * (n - start) / sps))
    return float(-np.angle(line) / (2 * np.pi) * sps)


def luise_reggiannini(w: np.ndarray) -> float:
    """Return the frequency, in cycles per symbol, of a tone w[k] = a exp(j 2 pi f k) + noise.

    Unambiguous for |f| < 1 / (N/2 + 1) with N = len(w): 5.9 % of the symbol
    rate over 32 symbols, 3 % over 64.
    """
    m = w.size // 2
    r = sum(np.vdot(w[:w.size - k], w[k:]) for k in range(1, m + 1))
    return float(np.angle(r) / (np.pi * (m + 1)))


@dataclass
class Detection:
    """A burst found in the stream, synchronized over its access code, header and pilots."""

    burst_id: int
    t0: float  # absolute sample time of the first access-code symbol at the matched filter output
    cfo: float  # cycles per sample
    phase: float  # carrier phase at t0, radians
    metric: float
    access_errors: int
    gain_noise: GainNoise
    header_soft: np.ndarray
    fixed_soft: np.ndarray  # soft values of access code, coded header with padding, pilots
    payload_bytes: int | None = None
    info: dict = field(default_factory=dict)


class BurstSync:
    """Find and synchronize bursts in a stream of matched-filter output samples.

    ``feed`` takes the next samples and returns new detections, each with the
    soft values of its coded header to decode. Once the header is decoded,
    the caller sets the detection's ``payload_bytes``. When the buffered
    stream reaches ``frame_end``, ``finish`` returns the frame's soft values.
    """

    def __init__(self, modulation: str = "bpsk", sps: int = DEFAULT_SPS,
                 false_alarm: float = DEFAULT_FALSE_ALARM,
                 max_access_errors: int = MAX_ACCESS_ERRORS) -> None:
        if modulation not in BITS_PER_SYMBOL:
            raise ValueError(f"modulation must be one of {tuple(BITS_PER_SYMBOL)}, got {modulation!r}")
        if sps < 3:
            raise ValueError(f"the burst receiver needs at least 3 samples per symbol, got {sps}")
        self.modulation = modulation
        self.sps = sps
        self.bits = BITS_PER_SYMBOL[modulation]
        self.points = constellation_points(modulation)
        self.access = map_bits(frame.ACCESS_CODE_BITS, self.points)
        self.pilots = map_bits(frame.PILOT_BITS, self.points)
        self.n_access = self.access.size
        self.pilot_start = frame.PILOT_START // self.bits
        self.n_fixed = frame.PAYLOAD_START // self.bits
        self.known_index = np.concatenate([np.arange(self.n_access),
                                           self.pilot_start + np.arange(self.pilots.size)])
        self.known = np.concatenate([self.access, self.pilots])
        self.seg = min(SEGMENT_SYMBOLS, self.n_access)
        self.n_seg = self.n_access // self.seg
        self.threshold = gamma_tail_inverse(self.n_seg, false_alarm) / self.n_access
        self.span = (self.n_access - 1) * sps + 1
        self._seg_ref = np.conj(self.access[:self.n_seg * self.seg]).reshape(self.n_seg, self.seg)

        self.buf = np.zeros(0, dtype=np.complex64)
        self.buf_start = 0  # absolute index of buf[0]
        self.scan = 2  # next absolute index to test as the first access-code sample
        self.max_access_errors = max_access_errors
        self.next_id = 0
        self.detections = 0
        self.rejected = 0

    # -- stream handling -------------------------------------------------

    @property
    def buf_end(self) -> int:
        return self.buf_start + self.buf.size

    def _at(self, start: int, stop: int) -> np.ndarray:
        return self.buf[start - self.buf_start:stop - self.buf_start]

    def trim(self, keep_from: int) -> None:
        """Drop buffered samples before absolute index ``keep_from`` (less a margin)."""
        keep_from = min(keep_from, self.scan) - 4 * self.sps
        if keep_from > self.buf_start:
            self.buf = self.buf[keep_from - self.buf_start:]
            self.buf_start = keep_from

    def feed(self, samples: np.ndarray, busy_until: float = 0.0) -> list[Detection]:
        """Append samples; return the bursts detected in what can now be scanned.

        No burst is reported starting before ``busy_until`` (inside a burst
        whose header passed).
        """
        self.buf = np.concatenate([self.buf, np.asarray(samples, dtype=np.complex64)])
        found = []
        # A detection needs its fixed part plus interpolation margin in the buffer.
        need = self.n_fixed * self.sps + 4 * self.sps
        last = self.buf_end - need  # last candidate that can be finished now
        if last <= self.scan:
            return found
        y = self._at(self.scan, last + self.span)
        metric = self._metric(y)
        above = np.flatnonzero(metric > self.threshold)
        pos = 0
        while pos < above.size:
            # A window that only partly overlaps the access code can cross the
            # threshold at high SNR, so the peak is sought over one access-code
            # length after the first crossing.
            first = above[pos]
            window = metric[first:first + self.span]
            if first + self.span > metric.size:
                # The peak may lie beyond what was scanned: look again with more samples.
                last = self.scan + first - 1
                break
            peak = first + int(np.argmax(window))
            n0 = self.scan + peak
            if n0 < busy_until:
                # Inside a frame whose header passed: look again after its end.
                det = None
                skip_to = max(peak + 1, int(math.ceil(busy_until)) - self.scan)
            else:
                det = self._synchronize(n0, float(metric[peak]))
                if det.access_errors > self.max_access_errors:
                    # A window that partly covers a burst's edge or payload can pass
                    # the metric at high SNR; its access code bits show it is no burst.
                    self.rejected += 1
                    det = None
                    skip_to = peak + 1
                else:
                    # Only the access code is skipped, so a burst right after a false
                    # detection (whose header will fail) is still found. Detections
                    # inside a frame whose header passes are dropped when it passes.
                    skip_to = peak + self.span
            if det is not None:
                self.next_id += 1
                self.detections += 1
                found.append(det)
            pos = int(np.searchsorted(above, skip_to))
            if skip_to >= metric.size:
                last = self.scan + skip_to - 1
                break
        self.scan = max(self.scan, last + 1)
        return found

    def _metric(self, y: np.ndarray) -> np.ndarray:
        """Return the detection metric for each start in y."""
        windows = sliding_window_view(y, self.span)[:, ::self.sps]
        windows = windows[:, :self.n_seg * self.seg]
        corr = np.einsum("nsl,sl->ns", windows.reshape(-1, self.n_seg, self.seg), self._seg_ref)
        power = (np.abs(y) ** 2).astype(np.float32)
        energy = sliding_window_view(power, self.span)[:, ::self.sps].sum(axis=1)
        metric = np.sum(np.abs(corr) ** 2, axis=1) / (self.seg * energy + 1e-30)
        return metric

    # -- per-burst synchronization --------------------------------------

    def _symbol_times(self, t0: float, first: int, count: int, timing: np.ndarray | None = None):
        times = t0 + (first + np.arange(count)) * self.sps
        if timing is not None:
            times = times + timing
        return times

    def _synchronize(self, n0: int, metric: float) -> Detection:
        sps = self.sps
        # Fine timing (Oerder-Meyr) over access code, header and pilots.
        lo = n0 - sps // 2
        hi = n0 + self.n_fixed * sps - sps // 2
        power = np.abs(self._at(lo, hi)) ** 2
        t0 = n0 + oerder_meyr(power, n0 - lo, sps)
        times = self._symbol_times(t0, 0, self.n_fixed)
        z = interpolate(self.buf, times - self.buf_start)
        # Coarse frequency from the access code with its modulation removed
        # (Luise-Reggiannini), before any coherent processing.
        cfo = luise_reggiannini(z[:self.n_access] * np.conj(self.access)) / sps
        z = z * np.exp(-2j * np.pi * cfo * (times - t0))
        # Carrier: the phase step from access code to pilots refines the frequency.
        p_access = np.vdot(self.access, z[:self.n_access])
        p_pilots = np.vdot(self.pilots, z[self.pilot_start:self.pilot_start + self.pilots.size])
        distance = (self.pilot_start + self.pilots.size / 2 - self.n_access / 2) * sps
        cfo_fine = float(np.angle(p_pilots * np.conj(p_access)) / (2 * np.pi * distance))
        centre = (self.n_access / 2 - 0.5) * sps
        z = z * np.exp(-2j * np.pi * cfo_fine * ((times - t0) - centre))
        cfo += cfo_fine
        gn = estimate_gain_noise(z[self.known_index], self.known)
        # Carrier phase at t0: the received symbols are |h| s exp(j(2 pi cfo (t - t0) + phase)).
        phase = float(np.angle(gn.gain) - 2 * np.pi * cfo_fine * centre)
        u = z * np.conj(gn.gain) / abs(gn.gain) ** 2 if abs(gn.gain) > 0 else z
        soft = soft_values(u, self.modulation)
        start = frame.CODED_HEADER_START
        access_errors = int(np.count_nonzero((soft[:frame.CODED_HEADER_START] > 0)
                                             != frame.ACCESS_CODE_BITS))
        return Detection(self.next_id, t0, cfo, phase, metric, access_errors, gn,
                         soft[start:start + frame.CODED_HEADER_BITS], soft)

    def frame_end(self, det: Detection) -> float:
        """Return the absolute sample index the stream must reach to finish ``det``."""
        n_symbols = self.n_fixed + 8 * det.payload_bytes // self.bits
        return det.t0 + n_symbols * self.sps + 4 * self.sps + 8

    def finish(self, det: Detection) -> tuple[np.ndarray, dict]:
        """Return the frame's soft values and the burst's measurements.

        The stream must hold samples up to ``frame_end(det)``.
        """
        sps = self.sps
        n_payload = 8 * det.payload_bytes // self.bits
        first = self.n_fixed
        # Sample clock: Oerder-Meyr per block against the grid from t0, unwrapped.
        n_blocks = max(1, int(round(n_payload / TIMING_BLOCK_SYMBOLS)))
        edges = np.linspace(0, n_payload, n_blocks + 1).astype(int)
        centres, offsets, prev = [first - 0.5], [0.0], 0.0
        for a, b in zip(edges[:-1], edges[1:]):
            if b - a < 8:
                continue
            lo = int(math.floor(det.t0 + (first + a) * sps + prev - sps / 2))
            hi = int(math.floor(det.t0 + (first + b) * sps + prev - sps / 2))
            power = np.abs(self._at(lo, hi)) ** 2
            est = oerder_meyr(power, det.t0 - lo, sps)
            est = prev + ((est - prev + sps / 2) % sps - sps / 2)
            centres.append(first + (a + b) / 2)
            offsets.append(est)
            prev = est
        index = first + np.arange(n_payload)
        timing = np.interp(index, centres, offsets) if len(centres) > 1 else np.zeros(n_payload)
        times = self._symbol_times(det.t0, first, n_payload, timing)
        z = interpolate(self.buf, times - self.buf_start)
        z = z * np.exp(-1j * (2 * np.pi * det.cfo * (times - det.t0) + det.phase))
        z = self._track_phase(z)
        gain = det.gain_noise.gain
        u = z * abs(gain) / abs(gain) ** 2 if abs(gain) > 0 else z
        soft = np.concatenate([det.fixed_soft, soft_values(u.astype(np.complex64), self.modulation)])
        noise_var = det.gain_noise.noise_power / max(abs(gain) ** 2, 1e-12)
        snr = det.gain_noise.snr
        info = {"snr_est_db": 10 * math.log10(max(snr, 1e-12)), "noise_var": noise_var,
                "llr_scale": llr_scale(noise_var, self.modulation),
                "ber_snr": float(theory_ber(snr, self.modulation)),
                "cfo_est": det.cfo * sps, "timing_drift": float(timing[-1]) if n_payload else 0.0,
                "sample_index": det.t0, "sync_metric": det.metric}
        return soft, info

    def _track_phase(self, z: np.ndarray) -> np.ndarray:
        """Remove the phase left after the frequency estimate, block by block (M-th power)."""
        m = 2 if self.modulation == "bpsk" else 4
        reference = np.conj(self.points[0] ** m)
        out = np.empty_like(z)
        phase, slope = 0.0, 0.0
        for a in range(0, z.size, PHASE_BLOCK_SYMBOLS):
            block = z[a:a + PHASE_BLOCK_SYMBOLS]
            predicted = phase + slope
            rotated = block * np.exp(-1j * predicted)
            err = float(np.angle(np.sum(rotated ** m) * reference)) / m
            phase = predicted + 0.5 * err
            slope += 0.05 * err
            out[a:a + PHASE_BLOCK_SYMBOLS] = block * np.exp(-1j * phase)
        return out
