# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio symbol mode: BPSK or QPSK at one sample per symbol through AWGN, frame in, soft bits out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pmt
from gnuradio import analog, blocks, digital, gr, pdu

from semanticnn import frame
from semanticnn.ber_estimator import theory_ber

LENGTH_TAG = "packet_len"


def esn0_to_noise_amplitude(esn0_db: float | None) -> float:
    """Return the ``analog.noise_source_c`` amplitude for Es/N0 in dB at unit Es.

    Es/N0 is per complex symbol. ``noise_source_c`` with amplitude a gives
    complex noise of total power a^2 (a^2 / 2 per real dimension), so a =
    sqrt(N0) = 10^(-Es/N0 / 20) at one sample per symbol. None or +inf means
    no noise.
    """
    if esn0_db is None or math.isinf(esn0_db) and esn0_db > 0:
        return 0.0
    if math.isnan(esn0_db):
        raise ValueError("esn0_db is NaN; give a number in dB, or None for no noise")
    return 10.0 ** (-esn0_db / 20.0)


MODULATIONS = ("bpsk", "qpsk")


def constellation_points(modulation: str) -> np.ndarray:
    """Return GNU Radio's BPSK or QPSK constellation points scaled to unit mean energy.

    ``digital.constellation_qpsk()`` has mean power 4 (points +-sqrt(2) on each
    axis); dividing by the RMS gives Es = 1. Index i of a QPSK point carries
    bits (MSB, LSB) = (Q > 0, I > 0), a Gray mapping.
    """
    if modulation == "bpsk":
        points = np.array(digital.constellation_bpsk().points(), dtype=np.complex64)
    elif modulation == "qpsk":
        points = np.array(digital.constellation_qpsk().points(), dtype=np.complex64)
    else:
        raise ValueError(f"modulation must be one of {MODULATIONS}, got {modulation!r}")
    return points / np.sqrt(np.mean(np.abs(points) ** 2))


FADINGS = ("none", "rayleigh_block", "rician_block")


def map_bits(bits: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map 0/1 bits to constellation symbols, log2(len(points)) bits per symbol, MSB first."""
    k = int(np.log2(points.size))
    groups = bits.reshape(-1, k).astype(np.int64)
    return points[(groups * (1 << np.arange(k - 1, -1, -1))).sum(1)]


def draw_block_gain(rng: np.random.Generator, fading: str, rician_k: float) -> complex:
    """Draw one burst's complex gain with E|h|^2 = 1: Rayleigh CN(0, 1) or Rician with factor K."""
    scatter = (rng.standard_normal() + 1j * rng.standard_normal()) / np.sqrt(2)
    if fading == "rayleigh_block":
        return complex(scatter)
    if fading == "rician_block":
        los = np.exp(2j * np.pi * rng.random())
        return complex(np.sqrt(rician_k / (rician_k + 1)) * los + np.sqrt(1 / (rician_k + 1)) * scatter)
    return 1.0 + 0.0j


def soft_values(u: np.ndarray, modulation: str) -> np.ndarray:
    """Return one soft value per bit from symbols at unit amplitude, positive meaning bit 1."""
    if modulation == "bpsk":
        return u.real.astype(np.float32)
    soft = np.empty(2 * u.size, dtype=np.float32)
    soft[0::2] = np.sqrt(2) * u.imag
    soft[1::2] = np.sqrt(2) * u.real
    return soft


def llr_scale(noise_var: float, modulation: str) -> float:
    """Return the factor that turns soft values into LLRs at complex noise variance ``noise_var``."""
    return (4.0 if modulation == "bpsk" else 2.0) / max(noise_var, 1e-12)


@dataclass
class GainNoise:
    """Least-squares complex gain and noise power from known symbols."""

    gain: complex
    noise_power: float

    @property
    def snr(self) -> float:
        return abs(self.gain) ** 2 / max(self.noise_power, 1e-12)


def estimate_gain_noise(received: np.ndarray, known: np.ndarray) -> GainNoise:
    """Return h = <known, received> / <known, known> and N0 = mean |received - h known|^2.

    The noise power is divided by n - 1 rather than n, one complex degree of
    freedom going to the gain.
    """
    gain = complex(np.vdot(known, received) / np.vdot(known, known).real)
    residual = received - gain * known
    noise = float(np.sum(np.abs(residual) ** 2) / max(known.size - 1, 1))
    return GainNoise(gain, noise)


class burst_mapper(gr.basic_block):
    """Map a frame (u8vector PDU) to constellation symbols times one complex gain per burst.

    The gain is 1 without fading; block fading draws an independent Rayleigh
    or Rician gain for each burst from a seeded generator.
    """

    def __init__(self, modulation: str = "bpsk", fading: str = "none", rician_k: float = 4.0,
                 seed: int = 0) -> None:
        gr.basic_block.__init__(self, name="semanticnn_burst_mapper", in_sig=None, out_sig=None)
        if fading not in FADINGS:
            raise ValueError(f"fading must be one of {FADINGS}, got {fading!r}")
        if rician_k < 0:
            raise ValueError(f"rician_k must be non-negative, got {rician_k}")
        self.points = constellation_points(modulation)
        self.fading = fading
        self.rician_k = rician_k
        self.rng = np.random.default_rng(seed)
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def _handle(self, msg: pmt.pmt_base) -> None:
        frame = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        symbols = map_bits(np.unpackbits(frame), self.points)
        symbols = (symbols * draw_block_gain(self.rng, self.fading, self.rician_k)).astype(np.complex64)
        self.message_port_pub(pmt.intern("out"),
                              pmt.cons(pmt.car(msg), pmt.init_c32vector(symbols.size, symbols)))


class soft_bits(gr.basic_block):
    """Turn received symbols (c32vector PDU) into one soft value per bit (f32vector PDU).

    BPSK gives Re(y). QPSK gives sqrt(2) Im(y) for the first bit of each symbol
    and sqrt(2) Re(y) for the second, so both modulations deliver +-1 for a
    noiseless bit, positive meaning bit 1.

    The burst's complex gain h and noise power N0 are estimated by least
    squares from the symbols of the frame's access code and pilot block, whose
    bits are known, and reported in the metadata as the burst receiver does:
    ``snr_est_db`` (|h|^2 / N0), ``noise_var`` (N0 / |h|^2), ``llr_scale``
    (LLR = scale times soft value) and ``ber_snr`` (the AWGN theory BER at the
    SNR estimate). With ``estimate_gain`` y is also replaced by
    conj(h) y: the phase is corrected and each soft value keeps the burst's
    reliability |h|^2.
    """

    def __init__(self, modulation: str = "bpsk", estimate_gain: bool = False) -> None:
        gr.basic_block.__init__(self, name="semanticnn_soft_bits", in_sig=None, out_sig=None)
        self.points = constellation_points(modulation)
        self.modulation = modulation
        self.estimate_gain = estimate_gain
        self.gains: list[complex] = []
        self.known_index, self.known = self._known_symbols()
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def _known_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        """Return symbol indices and symbols of the access code and the pilot block."""
        k = int(np.log2(self.points.size))
        ac = frame.ACCESS_CODE_BITS
        pilots = frame.PILOT_BITS
        index = np.concatenate([np.arange(ac.size // k),
                                frame.PILOT_START // k + np.arange(pilots.size // k)])
        return index, np.concatenate([map_bits(ac, self.points), map_bits(pilots, self.points)])

    def _handle(self, msg: pmt.pmt_base) -> None:
        y = np.asarray(pmt.c32vector_elements(pmt.cdr(msg)), dtype=np.complex64)
        meta = pmt.car(msg) if pmt.is_dict(pmt.car(msg)) else pmt.make_dict()
        if self.known_index[-1] < y.size:
            gn = estimate_gain_noise(y[self.known_index], self.known)
            noise_var = gn.noise_power / max(abs(gn.gain) ** 2, 1e-12)
            # Soft values of conj(h) y have amplitude |h|^2 and noise |h|^2 N0; those
            # of y have amplitude about |h| and noise N0.
            soft_noise = gn.noise_power
            if not self.estimate_gain:
                soft_noise /= max(abs(gn.gain), 1e-6)
            for key, value in (("snr_est_db", 10 * math.log10(max(gn.snr, 1e-12))),
                               ("noise_var", noise_var),
                               ("llr_scale", llr_scale(soft_noise, self.modulation)),
                               ("ber_snr", float(theory_ber(gn.snr, self.modulation)))):
                meta = pmt.dict_add(meta, pmt.intern(key), pmt.from_double(value))
            if self.estimate_gain:
                self.gains.append(gn.gain)
                y = (np.conj(gn.gain) * y).astype(np.complex64)
        soft = soft_values(y, self.modulation)
        self.message_port_pub(pmt.intern("out"), pmt.cons(meta, pmt.init_f32vector(soft.size, soft)))


class symbol_channel(gr.hier_block2):
    """Map frame bytes to BPSK or QPSK at unit Es, optionally fade each burst, add AWGN.

    BPSK sends bit 0 as -1 and bit 1 as +1; QPSK uses GNU Radio's Gray-mapped
    QPSK constellation scaled to unit mean energy, two bits per symbol, most
    significant first. Block fading multiplies each burst by one Rayleigh or
    Rician gain with E|h|^2 = 1, so Es/N0 is the mean over bursts, and the
    receiver side estimates each burst's gain from its access code and pilots.
    Message input ``in``: a frame as a u8vector PDU. Message output ``out``:
    one float per bit (see :class:`soft_bits`), positive meaning bit 1. No
    pulse shaping, resampling or synchronization, so the receiver takes frame
    boundaries from the length tags (a simulation shortcut).

    Args:
        esn0_db: Es/N0 per complex symbol in dB; None or +inf for no noise.
        seed: seed of the noise source and of the fading gains.
        modulation: ``bpsk`` or ``qpsk``.
        fading: ``none``, ``rayleigh_block`` or ``rician_block``.
        rician_k: Rician K factor (linear) of ``rician_block``.
        max_payload_bytes: the largest payload the stream buffers are sized for.
    """

    def __init__(self, esn0_db: float | None = 10.0, seed: int = 0, modulation: str = "bpsk",
                 fading: str = "none", rician_k: float = 4.0,
                 max_payload_bytes: int = 16384) -> None:
        gr.hier_block2.__init__(self, "semanticnn_symbol_channel",
                                gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("out")

        self.mapper = burst_mapper(modulation, fading, rician_k, seed)
        self.to_stream = pdu.pdu_to_tagged_stream(gr.types.complex_t, LENGTH_TAG)
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, esn0_to_noise_amplitude(esn0_db), seed)
        self.add = blocks.add_cc()
        self.to_pdu = pdu.tagged_stream_to_pdu(gr.types.complex_t, LENGTH_TAG)
        # Tagged-stream blocks need a whole frame in one buffer and stall on a
        # longer one (gnuradio#3541); GNU Radio's default buffer holds 4,096
        # complex items, a frame with 476 bytes of payload at BPSK. Size the
        # buffers for the largest frame, with room for a second one.
        if max_payload_bytes < 1:
            raise ValueError(f"max_payload_bytes must be positive, got {max_payload_bytes}")
        items = 2 * 8 * frame.frame_bytes(max_payload_bytes)
        for blk in (self.to_stream, self.noise, self.add):
            blk.set_min_output_buffer(items)
        self.demap = soft_bits(modulation, estimate_gain=fading != "none")

        self.msg_connect(self, "in", self.mapper, "in")
        self.msg_connect(self.mapper, "out", self.to_stream, "pdus")
        self.connect(self.to_stream, (self.add, 0))
        self.connect(self.noise, (self.add, 1))
        self.connect(self.add, self.to_pdu)
        self.msg_connect(self.to_pdu, "pdus", self.demap, "in")
        self.msg_connect(self.demap, "out", self, "out")

    def set_esn0_db(self, esn0_db: float | None) -> None:
        self.noise.set_amplitude(esn0_to_noise_amplitude(esn0_db))
