# SPDX-License-Identifier: GPL-3.0-or-later
"""Split a received frame into header, pilots and payload; decode and check the header."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pmt
from gnuradio import gr

from semanticnn import frame

from .header_fec import make_header_decoder, viterbi_input
from .pdu_utils import (KEY_BURST_ID, KEY_ERASED, KEY_LLR_SCALE, KEY_REASON, PORT_IN, PORT_OUT,
                        DropCounter, make_pdu, meta_get)

PORT_CODED_HEADER = pmt.intern("coded_header")
PORT_HEADER = pmt.intern("header")

# Bytes of a frame before its payload: access code, coded header, pilot block.
OVERHEAD_BYTES = frame.frame_bytes(0)


class deframer(gr.hier_block2):
    """Parse one whole received frame per PDU; never drop a corrupted payload.

    Input ``in``: the frame as soft values (f32vector, one per bit, Re(y) at
    unit symbol amplitude, positive means bit 1, as GNU Radio's soft decoders
    give) or as packed hard bytes (u8vector). Frame boundaries come from the
    PDU: the symbol mode takes them from length tags. The coded header is
    decoded by gr-fec's Viterbi decoder from the soft values, or from +-1 for
    hard bytes.

    Output ``out``: the payload bytes as received, with metadata ``seq``,
    ``codec_id``, ``access_code_errors`` and ``pilot_bits`` (the received hard
    pilot bits), plus the input's metadata (the receiver's measurements). When
    the input metadata has ``llr_scale``, ``llr`` contains the payload's LLRs
    (scale times soft value) as an f32vector. Three cases become an erasure
    event instead: a decoded header that fails its CRC, a header length that
    disagrees with the received frame or with ``payload_bytes``, and an
    access code with more than
    ``max_access_code_errors`` bit errors. An erasure event is an empty PDU
    with ``erased`` set, a ``reason``, and ``seq`` when the header was intact.
    An erasure event at the input (from a burst receiver) passes through.
    Outputs leave in the order of the frames.

    Args:
        payload_bytes: expected payload length; 0 accepts any length the frame carries.
        max_access_code_errors: access-code bit errors tolerated; 64 disables the check.
    """

    def __init__(self, payload_bytes: int = 0, max_access_code_errors: int = 64) -> None:
        gr.hier_block2.__init__(self, "semanticnn_deframer",
                                gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be 0 (any) or positive, got {payload_bytes}")
        self.payload_bytes = payload_bytes
        self.max_access_code_errors = max_access_code_errors
        self.message_port_register_hier_in("in")
        self.message_port_register_hier_out("out")

        self.splitter = frame_splitter(payload_bytes, max_access_code_errors)
        self.header_decoder = make_header_decoder()

        self.msg_connect(self, "in", self.splitter, "in")
        self.msg_connect(self.splitter, "coded_header", self.header_decoder, "in")
        self.msg_connect(self.header_decoder, "out", self.splitter, "header")
        self.msg_connect(self.splitter, "out", self, "out")

    def drop_counts(self) -> dict[str, int]:
        return self.splitter.drops.counts()

    def stats(self) -> dict[str, int]:
        """Return frame, erasure and known-bit error counts."""
        return self.splitter.stats()


@dataclass
class _WaitingFrame:
    """The parts of a received frame kept while its header is being decoded."""

    access_code_errors: int
    pilot_bits: np.ndarray
    payload: bytes
    meta: pmt.pmt_base
    llr: np.ndarray | None


class frame_splitter(gr.basic_block):
    """The deframer's Python half: split the frame, send the coded header out, check it decoded.

    ``in`` takes received frames. ``coded_header`` publishes the 156 soft
    values of the coded header, scaled for gr-fec's decoder, with metadata
    ``burst_id``, and ``header`` takes the 72 decoded bits back, unpacked.
    """

    def __init__(self, payload_bytes: int = 0, max_access_code_errors: int = 64) -> None:
        gr.basic_block.__init__(self, name="semanticnn_frame_splitter", in_sig=None, out_sig=None)
        self.payload_bytes = payload_bytes
        self.max_access_code_errors = max_access_code_errors
        self.drops = DropCounter(self.logger)
        self._lock = threading.Lock()
        self.erasure_counts: dict[str, int] = {}
        self.frames = 0
        # Errors in the bits every frame carries at known values (access code and
        # pilots), over all frames whatever their header: the raw channel BER.
        self.known_bits = 0
        self.known_bit_errors = 0
        self._next_burst_id = 0
        self._waiting: dict[int, _WaitingFrame] = {}
        self.message_port_register_in(PORT_IN)
        self.message_port_register_in(PORT_HEADER)
        self.message_port_register_out(PORT_CODED_HEADER)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle_frame)
        self.set_msg_handler(PORT_HEADER, self._handle_header)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"frames": self.frames, "known_bits": self.known_bits,
                    "known_bit_errors": self.known_bit_errors, **{
                        f"erased ({reason})": n for reason, n in self.erasure_counts.items()}}

    @staticmethod
    def _soft_values(msg: pmt.pmt_base) -> np.ndarray | None:
        """Return one float per bit, positive meaning 1; hard bytes become +-1."""
        if not pmt.is_pair(msg):
            return None
        vec = pmt.cdr(msg)
        if pmt.is_f32vector(vec):
            return np.asarray(pmt.f32vector_elements(vec), dtype=np.float32)
        if pmt.is_u8vector(vec):
            bits = np.unpackbits(np.asarray(pmt.u8vector_elements(vec), dtype=np.uint8))
            return 2.0 * bits.astype(np.float32) - 1.0
        return None

    def _erase(self, reason: str, seq: int | None = None, **extra) -> None:
        with self._lock:
            self.erasure_counts[reason] = self.erasure_counts.get(reason, 0) + 1
        meta = {"erased": True, "reason": reason, **extra}
        if seq is not None:
            meta["seq"] = seq
        self.message_port_pub(PORT_OUT, make_pdu(meta, b""))

    def _handle_frame(self, msg: pmt.pmt_base) -> None:
        in_meta = pmt.car(msg) if pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)) else pmt.make_dict()
        if pmt.to_bool(pmt.dict_ref(in_meta, KEY_ERASED, pmt.PMT_F)):
            # The receiver already found this burst broken (a header that failed there).
            reason = meta_get(in_meta, KEY_REASON) or "receiver"
            with self._lock:
                self.erasure_counts[reason] = self.erasure_counts.get(reason, 0) + 1
            self.message_port_pub(PORT_OUT, pmt.cons(in_meta, pmt.init_u8vector(0, [])))
            return
        soft = self._soft_values(msg)
        if soft is None:
            self.drops.drop("wrong PMT type", None, "expected a PDU with an f32vector of soft "
                            "bits or a u8vector of packed bytes")
            return
        if soft.size < 8 * (OVERHEAD_BYTES + 1) or soft.size % 8:
            self.drops.drop("short frame", None, f"{soft.size} bits; a frame is a whole number "
                            f"of bytes, at least {OVERHEAD_BYTES + 1}")
            return
        fields = frame.split_frame(soft)
        access_code_errors = int(np.count_nonzero((fields.access_code > 0) != frame.ACCESS_CODE_BITS))
        pilot_bits = (fields.pilots > 0).astype(np.uint8)
        with self._lock:
            self.frames += 1
            self.known_bits += frame.ACCESS_CODE_BITS.size + frame.N_PILOT_BITS
            self.known_bit_errors += access_code_errors + int(
                np.count_nonzero(pilot_bits != frame.PILOT_BITS))

        # Every frame goes through the decoder, even one that fails its access code,
        # so that the outputs keep the order of the frames.
        burst_id = self._next_burst_id
        self._next_burst_id += 1
        payload = np.packbits(fields.payload > 0).tobytes()
        scale = meta_get(in_meta, KEY_LLR_SCALE)
        llr = (np.asarray(fields.payload, dtype=np.float32) * np.float32(scale)
               if isinstance(scale, float) and pmt.is_f32vector(pmt.cdr(msg)) else None)
        self._waiting[burst_id] = _WaitingFrame(access_code_errors, pilot_bits, payload, in_meta, llr)
        self.message_port_pub(PORT_CODED_HEADER, make_pdu({"burst_id": burst_id},
                                                          viterbi_input(fields.coded_header)))

    def _handle_header(self, msg: pmt.pmt_base) -> None:
        # Only the header decoder publishes here, so these drops would point to a bug.
        burst_id = meta_get(pmt.car(msg), KEY_BURST_ID)
        waiting = self._waiting.pop(burst_id, None)
        if waiting is None:
            self.drops.drop("unknown burst_id", None, f"decoded header for burst_id {burst_id}, "
                            "which has no frame waiting")
            return
        header_bits = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        if header_bits.size != frame.HEADER_BITS:
            self.drops.drop("wrong decoded header length", None, f"{header_bits.size} bits for "
                            f"burst_id {burst_id}, expected {frame.HEADER_BITS}")
            return

        if waiting.access_code_errors > self.max_access_code_errors:
            self._erase("access code", access_code_errors=waiting.access_code_errors)
            return
        header = frame.parse_header(np.packbits(header_bits).tobytes())
        if header is None:
            self._erase("header CRC")
            return
        received_len = len(waiting.payload)
        if header.payload_len != received_len or (self.payload_bytes and
                                                  header.payload_len != self.payload_bytes):
            self._erase("length mismatch", header.seq, header_length=header.payload_len,
                        received_length=received_len)
            return
        meta = {"seq": header.seq, "codec_id": header.codec_id,
                "access_code_errors": waiting.access_code_errors,
                "pilot_bits": pmt.init_u8vector(waiting.pilot_bits.size, waiting.pilot_bits)}
        if waiting.llr is not None:
            meta["llr"] = pmt.init_f32vector(waiting.llr.size, waiting.llr)
        out = make_pdu(meta, waiting.payload)
        # The receiver's measurements (SNR, noise, offsets) travel on with the payload.
        self.message_port_pub(PORT_OUT, pmt.cons(pmt.dict_update(waiting.meta, pmt.car(out)),
                                                 pmt.cdr(out)))
