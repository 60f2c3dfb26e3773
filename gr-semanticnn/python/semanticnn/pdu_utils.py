# SPDX-License-Identifier: GPL-3.0-or-later
"""PDU helpers shared by the blocks: metadata access and bad-input accounting."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

PORT_IN = pmt.intern("in")
PORT_OUT = pmt.intern("out")
PORT_SYSTEM = pmt.intern("system")
DONE_MSG = pmt.cons(pmt.intern("done"), pmt.from_long(1))

KEY_SEQ = pmt.intern("seq")
KEY_CODEC_ID = pmt.intern("codec_id")
KEY_LABEL = pmt.intern("label")
KEY_N_IMAGES = pmt.intern("n_images")
KEY_BER_EST = pmt.intern("ber_est")
KEY_PILOT_BITS = pmt.intern("pilot_bits")
KEY_PILOT_ERRORS = pmt.intern("pilot_errors")
KEY_N_PILOT_BITS = pmt.intern("n_pilot_bits")
KEY_ERASED = pmt.intern("erased")
KEY_REASON = pmt.intern("reason")
KEY_PRED = pmt.intern("pred")
KEY_ACCESS_CODE_ERRORS = pmt.intern("access_code_errors")
KEY_LLR = pmt.intern("llr")
KEY_LLR_SCALE = pmt.intern("llr_scale")
KEY_BER_SNR = pmt.intern("ber_snr")
KEY_SNR_EST_DB = pmt.intern("snr_est_db")
KEY_ACCOUNTED = pmt.intern("accounted")
KEY_DONE = pmt.intern("done")
# Matches a header sent to a gr-fec block with the frame it belongs to.
KEY_BURST_ID = pmt.intern("burst_id")


def make_pdu(meta: dict, vector: np.ndarray | bytes) -> pmt.pmt_base:
    """Build a PDU from a Python metadata dict and a uint8, float32 or complex64 vector."""
    d = pmt.make_dict()
    for key, value in meta.items():
        d = pmt.dict_add(d, pmt.intern(key), value if isinstance(value, pmt.pmt_base) else pmt.to_pmt(value))
    arr = np.frombuffer(vector, dtype=np.uint8) if isinstance(vector, (bytes, bytearray)) else np.asarray(vector)
    # A one-element array would go through a deprecated array-to-scalar conversion
    # in the pybind11 overload resolution of numpy 1.25+, so it is passed as a list.
    if arr.dtype == np.float32:
        vec = pmt.init_f32vector(arr.size, arr.tolist() if arr.size == 1 else arr)
    elif arr.dtype == np.complex64:
        vec = pmt.init_c32vector(arr.size, arr.tolist() if arr.size == 1 else arr)
    else:
        arr = arr.astype(np.uint8, copy=False)
        vec = pmt.init_u8vector(arr.size, arr.tolist() if arr.size == 1 else arr)
    return pmt.cons(d, vec)


def meta_get(meta: pmt.pmt_base, key: pmt.pmt_base):
    """Return a metadata value as a Python object, or None when the key is missing."""
    if not pmt.is_dict(meta) or not pmt.dict_has_key(meta, key):
        return None
    return pmt.to_python(pmt.dict_ref(meta, key, pmt.PMT_NIL))


def meta_seq(meta: pmt.pmt_base) -> int | None:
    """Return the sequence number of a PDU's metadata, or None when it has none."""
    seq = meta_get(meta, KEY_SEQ)
    return int(seq) if isinstance(seq, (int, np.integer)) else None


def u8_payload(msg: pmt.pmt_base) -> tuple[pmt.pmt_base, bytes] | None:
    """Return ``(meta, bytes)`` of a PDU whose vector is a u8vector, or None."""
    if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
        return None
    meta = pmt.car(msg)
    if not (pmt.is_dict(meta) or meta == pmt.PMT_NIL):
        return None
    return meta, bytes(pmt.u8vector_elements(pmt.cdr(msg)))


class DropCounter:
    """Count dropped or malformed input per kind; log the first of each kind at WARNING.

    Thread-safe, because a block's handlers and a caller reading the counts run
    on different threads.
    """

    def __init__(self, logger) -> None:
        self._logger = logger
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def drop(self, kind: str, seq: int | None, detail: str) -> None:
        with self._lock:
            first = kind not in self._counts
            self._counts[kind] = self._counts.get(kind, 0) + 1
        if first:
            where = f"seq {seq}" if seq is not None else "unknown seq"
            self._logger.warn(f"dropped PDU ({kind}, {where}): {detail}; further PDUs of "
                              "this kind are only counted")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class pdu_list_source(gr.basic_block):
    """Publish a fixed list of PDUs on ``out`` once the flowgraph starts.

    A helper for scripts and tests that feed message blocks. It never ends the
    flowgraph by itself, so the caller stops it once the outputs are in.
    """

    def __init__(self, messages: list) -> None:
        gr.basic_block.__init__(self, name="semanticnn_pdu_list_source", in_sig=None, out_sig=None)
        self.messages = messages
        self.message_port_register_out(PORT_OUT)

    def start(self) -> bool:
        threading.Thread(target=self._publish_all, daemon=True).start()
        return super().start()

    def _publish_all(self) -> None:
        for msg in self.messages:
            self.message_port_pub(PORT_OUT, msg)
