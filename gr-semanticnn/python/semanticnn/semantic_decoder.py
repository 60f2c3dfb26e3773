# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge side: received payload plus BER estimate in, predicted class out."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr

from semanticnn.pipeline import SplitInference

from .batching import BatchQueue
from .ber_estimator import ERASED_BER_EST
from .pdu_utils import (KEY_BER_EST, KEY_CODEC_ID, KEY_ERASED, KEY_LLR, KEY_PRED, PORT_IN, PORT_OUT,
                        DropCounter, meta_get, meta_seq)


class semantic_decoder(gr.basic_block):
    """Decode each payload with the BER-aware decoder and the backbone's tail.

    Input ``in``: the received payload (u8vector, errors included) with
    metadata ``seq`` and ``ber_est``, or an erasure event (``erased`` set,
    empty payload), which is decoded from no payload. A codec trained on soft
    values (``soft_input``) decodes the LLRs in the metadata's ``llr``
    (f32vector, positive means bit 1) when the receiver gave them, and the
    hard payload bits as certain otherwise; a codec trained on hard bits
    decodes the payload bytes. A payload framed for a
    different codec id is decoded as an erasure too. Output ``out``: the
    input PDU with ``pred`` (the class) added to its metadata.

    Bursts are decoded in batches: a batch runs when ``max_batch`` PDUs wait,
    or ``max_wait`` seconds after the first of them arrived, whichever comes
    first. Batches of one decode each burst as it arrives.

    Args:
        checkpoint: checkpoint file; empty for the packaged Fashion-MNIST weights.
        num_threads: PyTorch intra-op threads, set for the whole process (PyTorch
            has one setting), because GNU Radio's threads share the same cores;
            0 leaves PyTorch's default.
        max_batch: most bursts decoded together.
        max_wait: most seconds a burst waits for its batch to fill.
    """

    def __init__(self, checkpoint: str = "", num_threads: int = 1, max_batch: int = 16,
                 max_wait: float = 0.005) -> None:
        gr.basic_block.__init__(self, name="semanticnn_semantic_decoder", in_sig=None, out_sig=None)
        self.model = SplitInference(checkpoint or None, num_threads=num_threads)
        self.codec_id = self.model.config.codec_id
        self.payload_bytes = self.model.payload_bytes
        self.drops = DropCounter(self.logger)
        self.decoded = 0
        self.erasures = 0
        self.soft_input = self.model.config.soft_input
        self.soft_decoded = 0
        # Items: (metadata, vector, payload or None for an erasure, ber_est, LLRs or None).
        self.queue = BatchQueue(max_batch, max_wait, self._decode)
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def stop(self) -> bool:
        self.queue.flush()
        return super().stop()

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    @property
    def batches(self) -> int:
        return self.queue.batches

    @property
    def decode_seconds(self) -> float:
        """Wall-clock seconds spent decoding in PyTorch."""
        return self.queue.seconds

    def _decode(self, batch: list) -> None:
        ber_est = [b for _, _, _, b, _ in batch]
        if self.soft_input:
            preds = self.model.predict_llr([self._llrs(p, llr) for _, _, p, _, llr in batch], ber_est)
        else:
            preds = self.model.predict([p for _, _, p, _, _ in batch], ber_est)
        for (meta, vector, _, _, _), pred in zip(batch, preds):
            self.message_port_pub(PORT_OUT, pmt.cons(
                pmt.dict_add(meta, KEY_PRED, pmt.from_long(int(pred))), vector))

    @staticmethod
    def _llrs(payload: bytes | None, llr: np.ndarray | None) -> np.ndarray | None:
        """Return the item's LLRs: the receiver's, or +-inf from hard bits; None for an erasure."""
        if payload is None:
            return None
        if llr is not None:
            return llr
        bits = np.unpackbits(np.frombuffer(payload, np.uint8)).astype(np.float32)
        return np.where(bits > 0, np.inf, -np.inf).astype(np.float32)

    def _handle(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_dict(pmt.car(msg)) or not pmt.is_u8vector(pmt.cdr(msg)):
            self.drops.drop("wrong PMT type", None, "expected a PDU with a metadata dict and "
                            "a u8vector payload")
            return
        meta, vector = pmt.car(msg), pmt.cdr(msg)
        seq = meta_seq(meta)
        if pmt.to_bool(pmt.dict_ref(meta, KEY_ERASED, pmt.PMT_F)):
            self.erasures += 1
            self.queue.put((meta, vector, None, ERASED_BER_EST, None))
            return
        ber_est = meta_get(meta, KEY_BER_EST)
        if not isinstance(ber_est, (int, float)) or math.isnan(ber_est) or ber_est < 0:
            self.drops.drop("missing ber_est", seq, f"metadata needs a non-negative 'ber_est', "
                            f"got {ber_est!r}")
            return
        payload = bytes(pmt.u8vector_elements(vector))
        if not payload:
            self.drops.drop("empty payload", seq, "a payload PDU that is not an erasure is empty")
            return
        if len(payload) != self.payload_bytes:
            self.drops.drop("wrong payload length", seq, f"{len(payload)} bytes, the codec "
                            f"expects {self.payload_bytes}")
            return
        codec_id = meta_get(meta, KEY_CODEC_ID)
        if codec_id is not None and codec_id != self.codec_id:
            self.erasures += 1
            meta = pmt.dict_add(meta, KEY_ERASED, pmt.PMT_T)
            meta = pmt.dict_add(meta, pmt.intern("reason"), pmt.intern("codec mismatch"))
            self.queue.put((meta, pmt.init_u8vector(0, []), None, ERASED_BER_EST, None))
            return
        llr = None
        if self.soft_input and pmt.dict_has_key(meta, KEY_LLR):
            value = pmt.dict_ref(meta, KEY_LLR, pmt.PMT_NIL)
            llr = np.asarray(pmt.f32vector_elements(value), np.float32) if pmt.is_f32vector(value) else None
            if llr is None or llr.size < self.model.config.payload_bits or not np.all(np.isfinite(llr)):
                self.drops.drop("bad llr", seq, f"metadata 'llr' must be an f32vector of at least "
                                f"{self.model.config.payload_bits} finite values")
                return
            self.soft_decoded += 1
        self.decoded += 1
        self.queue.put((meta, vector, payload, float(ber_est), llr))
