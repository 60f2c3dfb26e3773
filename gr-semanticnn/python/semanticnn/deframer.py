# SPDX-License-Identifier: GPL-3.0-or-later
"""Split a received frame into header, pilots and payload, and check the header."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from semanticnn import frame

from .pdu_utils import PORT_IN, PORT_OUT, DropCounter, make_pdu

# Bytes of a frame before its payload: access code, header, pilot block.
OVERHEAD_BYTES = frame.frame_bytes(0)


class deframer(gr.basic_block):
    """Parse one whole received frame per PDU; never drop a corrupted payload.

    Input ``in``: the frame as soft values (f32vector, one per bit, positive
    means bit 1, as GNU Radio's soft decoders give) or as packed hard bytes
    (u8vector). Frame boundaries come from the PDU: the symbol mode takes them
    from length tags.

    Output ``out``: the payload bytes as received, with metadata ``seq``,
    ``codec_id``, ``access_code_errors`` and ``pilot_bits`` (the received hard
    pilot bits). A header that fails its CRC, a header length that disagrees
    with the received frame or with ``payload_bytes``, or an access code with
    more than ``max_access_code_errors`` bit errors becomes an erasure event:
    an empty PDU with ``erased`` set, a ``reason``, and ``seq`` when the header
    was intact.

    Args:
        payload_bytes: expected payload length; 0 accepts any length the frame carries.
        max_access_code_errors: access-code bit errors tolerated; 64 disables the check.
    """

    def __init__(self, payload_bytes: int = 0, max_access_code_errors: int = 64) -> None:
        gr.basic_block.__init__(self, name="semanticnn_deframer", in_sig=None, out_sig=None)
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be 0 (any) or positive, got {payload_bytes}")
        self.payload_bytes = payload_bytes
        self.max_access_code_errors = max_access_code_errors
        self.drops = DropCounter(self.logger)
        self.erasure_counts: dict[str, int] = {}
        self.frames = 0
        # Errors in the bits every frame carries at known values (access code and
        # pilots), over all frames whatever their header: the raw channel BER.
        self.known_bits = 0
        self.known_bit_errors = 0
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    def stats(self) -> dict[str, int]:
        """Return frame, erasure and known-bit error counts."""
        return {"frames": self.frames, "known_bits": self.known_bits,
                "known_bit_errors": self.known_bit_errors, **{
                    f"erased ({reason})": n for reason, n in self.erasure_counts.items()}}

    def _hard_bits(self, msg: pmt.pmt_base) -> np.ndarray | None:
        if not pmt.is_pair(msg):
            return None
        vec = pmt.cdr(msg)
        if pmt.is_f32vector(vec):
            soft = np.asarray(pmt.f32vector_elements(vec), dtype=np.float32)
            return (soft > 0).astype(np.uint8)
        if pmt.is_u8vector(vec):
            return np.unpackbits(np.asarray(pmt.u8vector_elements(vec), dtype=np.uint8))
        return None

    def _erase(self, reason: str, seq: int | None = None, **extra) -> None:
        self.erasure_counts[reason] = self.erasure_counts.get(reason, 0) + 1
        meta = {"erased": True, "reason": reason, **extra}
        if seq is not None:
            meta["seq"] = seq
        self.message_port_pub(PORT_OUT, make_pdu(meta, b""))

    def _handle(self, msg: pmt.pmt_base) -> None:
        bits = self._hard_bits(msg)
        if bits is None:
            self.drops.drop("wrong PMT type", None, "expected a PDU with an f32vector of soft "
                            "bits or a u8vector of packed bytes")
            return
        if bits.size < 8 * (OVERHEAD_BYTES + 1) or bits.size % 8:
            self.drops.drop("short frame", None, f"{bits.size} bits; a frame is a whole number "
                            f"of bytes, at least {OVERHEAD_BYTES + 1}")
            return
        self.frames += 1
        parsed = frame.parse_frame(bits)
        self.known_bits += frame.ACCESS_CODE_BITS.size + frame.N_PILOT_BITS
        self.known_bit_errors += parsed.access_code_errors + int(
            np.count_nonzero(parsed.pilot_bits != frame.PILOT_BITS))
        if parsed.access_code_errors > self.max_access_code_errors:
            self._erase("access code", access_code_errors=parsed.access_code_errors)
            return
        if not parsed.header_ok:
            self._erase("header CRC")
            return
        received_len = len(parsed.payload)
        if parsed.payload_len != received_len or (self.payload_bytes and
                                                  parsed.payload_len != self.payload_bytes):
            self._erase("length mismatch", parsed.seq, header_length=parsed.payload_len,
                        received_length=received_len)
            return
        meta = {"seq": parsed.seq, "codec_id": parsed.codec_id,
                "access_code_errors": parsed.access_code_errors,
                "pilot_bits": pmt.init_u8vector(parsed.pilot_bits.size, parsed.pilot_bits)}
        self.message_port_pub(PORT_OUT, make_pdu(meta, parsed.payload))
