# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio symbol mode: BPSK at one sample per symbol through AWGN, frame in, soft bits out."""

from __future__ import annotations

import math

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


class symbol_channel(gr.hier_block2):
    """Map frame bytes to BPSK (bit 0 to -1, bit 1 to +1), add AWGN, return soft bits.

    Message input ``in``: a frame as a u8vector PDU. Message output ``out``:
    one float per bit, Re(y), positive meaning bit 1. No pulse shaping,
    resampling or synchronization, so the receiver takes frame boundaries from
    the length tags (a simulation shortcut).

    Args:
        esn0_db: Es/N0 per complex symbol in dB; None for no noise.
        seed: seed of the noise source.
    """

    def __init__(self, esn0_db: float | None = 10.0, seed: int = 0) -> None:
        gr.hier_block2.__init__(self, "semanticnn_symbol_channel",
                                gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("out")

        self.to_stream = pdu.pdu_to_tagged_stream(gr.types.byte_t, LENGTH_TAG)
        self.unpack = blocks.repack_bits_bb(8, 1, LENGTH_TAG, False, gr.GR_MSB_FIRST)
        self.modulate = digital.chunks_to_symbols_bc([-1.0 + 0.0j, 1.0 + 0.0j])
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, esn0_to_noise_amplitude(esn0_db), seed)
        self.add = blocks.add_cc()
        self.real = blocks.complex_to_real()
        self.to_pdu = pdu.tagged_stream_to_pdu(gr.types.float_t, LENGTH_TAG)

        self.msg_connect(self, "in", self.to_stream, "pdus")
        self.connect(self.to_stream, self.unpack, self.modulate, (self.add, 0))
        self.connect(self.noise, (self.add, 1))
        self.connect(self.add, self.real, self.to_pdu)
        self.msg_connect(self.to_pdu, "pdus", self, "out")

    def set_esn0_db(self, esn0_db: float | None) -> None:
        self.noise.set_amplitude(esn0_to_noise_amplitude(esn0_db))
