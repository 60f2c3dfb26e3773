# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the over-the-air frame from a payload PDU."""

from __future__ import annotations

import pmt
from gnuradio import gr

from semanticnn import frame

from .pdu_utils import (KEY_CODEC_ID, PORT_IN, PORT_OUT, DropCounter, make_pdu, meta_get,
                        meta_seq, u8_payload)


class framer(gr.basic_block):
    """Prepend access code, header (seq, codec id, length, CRC-16) and pilot block.

    The output PDU has empty metadata, because nothing but the frame crosses the
    air. A PDU without ``codec_id`` in its metadata is framed with the
    ``codec_id`` parameter.

    Args:
        codec_id: codec id written into headers of PDUs that carry none.
    """

    def __init__(self, codec_id: int = 1) -> None:
        gr.basic_block.__init__(self, name="semanticnn_framer", in_sig=None, out_sig=None)
        if not 0 <= codec_id <= 255:
            raise ValueError(f"codec_id must fit in 8 bits (0..255), got {codec_id}")
        self.codec_id = codec_id
        self.drops = DropCounter(self.logger)
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    def _handle(self, msg: pmt.pmt_base) -> None:
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
        self.message_port_pub(PORT_OUT, make_pdu({}, frame.build_frame(seq, codec_id, payload)))
