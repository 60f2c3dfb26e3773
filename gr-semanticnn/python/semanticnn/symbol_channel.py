# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio symbol mode: BPSK or QPSK at one sample per symbol through AWGN, frame in, soft bits out."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import analog, blocks, digital, gr, pdu

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


class soft_bits(gr.basic_block):
    """Turn received symbols (c32vector PDU) into one soft value per bit (f32vector PDU).

    BPSK gives Re(y). QPSK gives sqrt(2) Im(y) for the first bit of each symbol
    and sqrt(2) Re(y) for the second, so both modulations deliver +-1 for a
    noiseless bit, positive meaning bit 1.
    """

    def __init__(self, modulation: str = "bpsk") -> None:
        gr.basic_block.__init__(self, name="semanticnn_soft_bits", in_sig=None, out_sig=None)
        constellation_points(modulation)
        self.modulation = modulation
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def _handle(self, msg: pmt.pmt_base) -> None:
        y = np.asarray(pmt.c32vector_elements(pmt.cdr(msg)), dtype=np.complex64)
        if self.modulation == "bpsk":
            soft = y.real.astype(np.float32)
        else:
            soft = np.empty(2 * y.size, dtype=np.float32)
            soft[0::2] = np.sqrt(2) * y.imag
            soft[1::2] = np.sqrt(2) * y.real
        self.message_port_pub(pmt.intern("out"), pmt.cons(pmt.car(msg),
                                                          pmt.init_f32vector(soft.size, soft)))


class symbol_channel(gr.hier_block2):
    """Map frame bytes to BPSK or QPSK at unit Es, add AWGN, return soft bits.

    BPSK sends bit 0 as -1 and bit 1 as +1; QPSK uses GNU Radio's Gray-mapped
    QPSK constellation scaled to unit mean energy, two bits per symbol, most
    significant first. Message input ``in``: a frame as a u8vector PDU.
    Message output ``out``: one float per bit (see :class:`soft_bits`),
    positive meaning bit 1. No pulse shaping, resampling or synchronization,
    so the receiver takes frame boundaries from the length tags (a
    simulation shortcut).

    Args:
        esn0_db: Es/N0 per complex symbol in dB; None or +inf for no noise.
        seed: seed of the noise source.
        modulation: ``bpsk`` or ``qpsk``.
    """

    def __init__(self, esn0_db: float | None = 10.0, seed: int = 0, modulation: str = "bpsk") -> None:
        gr.hier_block2.__init__(self, "semanticnn_symbol_channel",
                                gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("out")
        points = constellation_points(modulation)
        bits_per_symbol = int(np.log2(points.size))

        self.to_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LENGTH_TAG)
        self.unpack = blocks.repack_bits_bb(8, bits_per_symbol, LENGTH_TAG, False, gr.GR_MSB_FIRST)
        self.modulate = digital.chunks_to_symbols_bc(points.tolist())
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, esn0_to_noise_amplitude(esn0_db), seed)
        self.add = blocks.add_cc()
        self.to_pdu = pdu.tagged_stream_to_pdu(gr.types.complex_t, LENGTH_TAG)
        self.demap = soft_bits(modulation)

        self.msg_connect(self, "in", self.to_stream, "pdus")
        self.connect(self.to_stream, self.unpack, self.modulate, (self.add, 0))
        self.connect(self.noise, (self.add, 1))
        self.connect(self.add, self.to_pdu)
        self.msg_connect(self.to_pdu, "pdus", self.demap, "in")
        self.msg_connect(self.demap, "out", self, "out")

    def set_esn0_db(self, esn0_db: float | None) -> None:
        self.noise.set_amplitude(esn0_to_noise_amplitude(esn0_db))
