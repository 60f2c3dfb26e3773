# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the over-the-air frame from a payload PDU, with the header coded by gr-fec."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from semanticnn import frame

from .header_fec import make_header_encoder
from .pdu_utils import (KEY_BURST_ID, KEY_CODEC_ID, PORT_IN, PORT_OUT, DropCounter, make_pdu,
                        meta_get, meta_seq, u8_payload)

PORT_HEADER = pmt.intern("header")
PORT_CODED_HEADER = pmt.intern("coded_header")


class framer(gr.hier_block2):
    """Prepend access code, coded header (seq, codec id, length, CRC-16) and pilot block.

    The 72-bit header is coded with gr-fec's convolutional encoder (K = 7,
    rate 1/2, terminated) into 156 bits plus 4 zero bits. The output PDU has
    empty metadata, because nothing but the frame crosses the air. A PDU
    without ``codec_id`` in its metadata is framed with the ``codec_id``
    parameter.

    Inside, a Python block sends each header to a ``fec.async_encoder`` and
    builds the frame when the code bits come back, matched by ``burst_id``.

    Args:
        codec_id: codec id written into headers of PDUs that carry none.
    """

    def __init__(self, codec_id: int = 1) -> None:
        gr.hier_block2.__init__(self, "semanticnn_framer",
                                gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        if not 0 <= codec_id <= 255:
            raise ValueError(f"codec_id must fit in 8 bits (0..255), got {codec_id}")
        self.codec_id = codec_id
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("out")

        self.assembler = frame_assembler(codec_id)
        self.header_encoder = make_header_encoder()

        self.msg_connect(self, "in", self.assembler, "in")
        self.msg_connect(self.assembler, "header", self.header_encoder, "in")
        self.msg_connect(self.header_encoder, "out", self.assembler, "coded_header")
        self.msg_connect(self.assembler, "out", self, "out")

    def drop_counts(self) -> dict[str, int]:
        return self.assembler.drops.counts()


class frame_assembler(gr.basic_block):
    """The framer's Python half: check the payload PDU, send its header out, assemble the frame.

    ``in`` takes payload PDUs. ``header`` publishes the 72 header bits,
    unpacked, with metadata ``burst_id``, and ``coded_header`` takes them back
    coded. The payload waits under its ``burst_id`` until then, so frames leave
    ``out`` in the order of their payloads.
    """

    def __init__(self, codec_id: int = 1) -> None:
        gr.basic_block.__init__(self, name="semanticnn_frame_assembler", in_sig=None, out_sig=None)
        self.codec_id = codec_id
        self.drops = DropCounter(self.logger)
        self._next_burst_id = 0
        self._pending: dict[int, bytes] = {}
        self.message_port_register_in(PORT_IN)
        self.message_port_register_in(PORT_CODED_HEADER)
        self.message_port_register_out(PORT_HEADER)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle_payload)
        self.set_msg_handler(PORT_CODED_HEADER, self._handle_coded_header)

    def _handle_payload(self, msg: pmt.pmt_base) -> None:
        parsed = u8_payload(msg)
        if parsed is None:
            self.drops.drop("wrong PMT type", None, "expected a PDU with a u8vector payload")
            return
        meta, payload = parsed
        seq = meta_seq(meta)
        if seq is None or not 0 <= seq <= frame.MAX_SEQ:
            self.drops.drop("missing seq", seq, "payload metadata needs an integer 'seq' "
                            f"in 0..{frame.MAX_SEQ}")
            return
        if not payload:
            self.drops.drop("empty payload", seq, "a frame needs at least one payload byte")
            return
        if len(payload) > frame.MAX_PAYLOAD_BYTES:
            self.drops.drop("payload too long", seq, f"{len(payload)} bytes, the header's "
                            f"length field holds at most {frame.MAX_PAYLOAD_BYTES}")
            return
        codec_id = meta_get(meta, KEY_CODEC_ID)
        codec_id = int(codec_id) if isinstance(codec_id, int) and 0 <= codec_id <= 255 else self.codec_id

        header = frame.build_header(seq, codec_id, len(payload))
        burst_id = self._next_burst_id
        self._next_burst_id += 1
        self._pending[burst_id] = payload
        header_bits = np.unpackbits(np.frombuffer(header, np.uint8))
        self.message_port_pub(PORT_HEADER, make_pdu({"burst_id": burst_id}, header_bits))

    def _handle_coded_header(self, msg: pmt.pmt_base) -> None:
        # Only the header encoder publishes here, so these drops would point to a bug.
        burst_id = meta_get(pmt.car(msg), KEY_BURST_ID)
        payload = self._pending.pop(burst_id, None)
        if payload is None:
            self.drops.drop("unknown burst_id", None, f"coded header for burst_id {burst_id}, "
                            "which has no payload waiting")
            return
        coded_bits = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        if coded_bits.size != frame.CODED_HEADER_BITS:
            self.drops.drop("wrong coded header length", None, f"{coded_bits.size} code bits "
                            f"for burst_id {burst_id}, expected {frame.CODED_HEADER_BITS}")
            return
        coded_header = frame.pad_coded_header(coded_bits)
        self.message_port_pub(PORT_OUT, make_pdu({}, frame.assemble_frame(coded_header, payload)))
