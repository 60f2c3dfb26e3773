# SPDX-License-Identifier: GPL-3.0-or-later
"""Score every image sent: accuracy, erasures and bit errors, written as they arrive."""

from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass

import numpy as np
import pmt
from gnuradio import gr

from .pdu_utils import (DONE_MSG, KEY_ACCOUNTED, KEY_BER_EST, KEY_DONE, KEY_ERASED, KEY_LABEL,
                        KEY_N_IMAGES, KEY_PRED, KEY_REASON, PORT_SYSTEM, DropCounter, meta_get,
                        meta_seq)

PORT_LABELS = pmt.intern("labels")
PORT_SENT = pmt.intern("sent")
PORT_PRED = pmt.intern("pred")
PORT_STATUS = pmt.intern("status")
CSV_FIELDS = ("seq", "label", "pred", "correct", "erased", "reason", "bit_errors", "bits",
              "ber_est")


@dataclass
class ImageResult:
    pred: int
    erased: bool
    reason: str = ""
    bit_errors: int = 0
    bits: int = 0
    ber_est: float = float("nan")
    # Received payload of a decoded image whose sent payload has not arrived yet.
    pending: bytes | None = None


class accuracy_sink(gr.basic_block):
    """Score every image sent, keyed by sequence number.

    Inputs: ``labels`` (from the image source: ``seq``, ``label``,
    ``n_images``), ``sent`` (the payload PDUs from the encoder) and ``pred``
    (the decoder's output). Ground truth never passes through the channel.

    An erasure event without a trusted ``seq`` (its header failed) accounts for
    one image whose burst never decoded; at the end each image without a
    result is scored with the decoder's prediction from no payload and counted as
    erased. The run is complete when results plus unkeyed erasures cover
    every image, or ``drain_timeout`` seconds after the last label when nothing
    more arrives. Then the sink publishes ``done`` on ``status`` (connect it to
    the image source, which ends the flowgraph) and stops. When nothing
    arrives for ``drain_timeout`` seconds before the last label, the images
    sent so far without a result are scored the same way, and the new count
    on ``status`` lets the image source send on.

    Args:
        filename: CSV file written one row per image as results arrive; empty for none.
        drain_timeout: seconds without new results before missing images are erased.
    """

    def __init__(self, filename: str = "", drain_timeout: float = 5.0) -> None:
        gr.basic_block.__init__(self, name="semanticnn_accuracy_sink", in_sig=None, out_sig=None)
        if drain_timeout <= 0:
            raise ValueError(f"drain_timeout must be positive seconds, got {drain_timeout}")
        self.filename = filename
        self.drain_timeout = drain_timeout
        self._file = None
        self._writer = None
        if filename:
            # Opened here, not in start(), so that a bad path fails when the
            # flowgraph is built instead of hanging it.
            try:
                self._file = open(filename, "w", newline="")
            except OSError as exc:
                raise ValueError(f"cannot write the accuracy sink's CSV file {filename!r}: "
                                 f"{exc.strerror}; create its folder or choose another path") from exc
            self._writer = csv.writer(self._file)
            self._writer.writerow(CSV_FIELDS)
            self._file.flush()
        self.drops = DropCounter(self.logger)
        self._lock = threading.RLock()
        self._labels: dict[int, int] = {}
        self._sent: dict[int, bytes] = {}
        self._results: dict[int, ImageResult] = {}
        self._n_images: int | None = None
        self._unkeyed_erasures = 0
        self._erasure_reasons: dict[str, int] = {}
        self._fallback_pred: int | None = None
        # Results scored before their label arrived; written once it does.
        self._unwritten: set[int] = set()
        # Decoded images whose sent payload has not arrived yet.
        self._awaiting_sent: set[int] = set()
        self._lost = 0
        self._last_activity = time.monotonic()
        self._finished = threading.Event()
        self._watchdog: threading.Thread | None = None
        for port in (PORT_LABELS, PORT_SENT, PORT_PRED):
            self.message_port_register_in(port)
        self.message_port_register_out(PORT_STATUS)
        self.set_msg_handler(PORT_LABELS, self._handle_label)
        self.set_msg_handler(PORT_SENT, self._handle_sent)
        self.set_msg_handler(PORT_PRED, self._handle_pred)

    # Flowgraph life cycle -----------------------------------------------------------

    def start(self) -> bool:
        self._watchdog = threading.Thread(target=self._watch, name="accuracy_sink", daemon=True)
        self._watchdog.start()
        return super().start()

    def stop(self) -> bool:
        self._finished.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2.0)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        return super().stop()

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until every image is accounted for; return False on timeout."""
        return self._finished.wait(timeout)

    def finished(self) -> bool:
        return self._finished.is_set()

    # Handlers -----------------------------------------------------------------------

    def _handle_label(self, msg: pmt.pmt_base) -> None:
        meta = pmt.car(msg) if pmt.is_pair(msg) else pmt.PMT_NIL
        seq, label = meta_seq(meta), meta_get(meta, KEY_LABEL)
        if seq is None or not isinstance(label, int):
            self.drops.drop("bad label", seq, "label metadata needs integer 'seq' and 'label'")
            return
        n_images = meta_get(meta, KEY_N_IMAGES)
        with self._lock:
            self._labels[seq] = label
            if seq in self._unwritten and self._results[seq].pending is None:
                self._write_row(seq, self._results[seq])
            if isinstance(n_images, int):
                self._n_images = n_images
            self._touch()
            self._check_complete()

    def _handle_sent(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
            self.drops.drop("wrong PMT type", None, "sent payload must be a u8vector PDU")
            return
        seq = meta_seq(pmt.car(msg))
        if seq is None:
            self.drops.drop("missing seq", None, "sent payload metadata has no 'seq'")
            return
        with self._lock:
            self._sent[seq] = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
            result = self._results.get(seq)
            if result is not None and result.pending is not None:
                self._awaiting_sent.discard(seq)
                self._count_bit_errors(result, self._sent[seq])
                self._write_row(seq, result)
                self._check_complete()

    def _handle_pred(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_dict(pmt.car(msg)) or not pmt.is_u8vector(pmt.cdr(msg)):
            self.drops.drop("wrong PMT type", None, "prediction must be a PDU with a metadata "
                            "dict and a u8vector payload")
            return
        meta = pmt.car(msg)
        seq, pred = meta_seq(meta), meta_get(meta, KEY_PRED)
        if not isinstance(pred, int):
            self.drops.drop("missing pred", seq, "prediction metadata has no integer 'pred'")
            return
        erased = bool(pmt.to_bool(pmt.dict_ref(meta, KEY_ERASED, pmt.PMT_F)))
        ber_est = meta_get(meta, KEY_BER_EST)
        ber_est = float(ber_est) if isinstance(ber_est, (int, float)) else float("nan")
        with self._lock:
            if self._finished.is_set():
                self.drops.drop("late result", seq, "arrived after the run was complete")
                return
            if erased:
                reason = str(meta_get(meta, KEY_REASON) or "erased")
                self._erasure_reasons[reason] = self._erasure_reasons.get(reason, 0) + 1
                self._fallback_pred = pred
            if seq is None or seq in self._results:
                if not erased:
                    self.drops.drop("duplicate or unkeyed result", seq, "a decoded image needs "
                                    "a 'seq' that has no result yet")
                    return
                self._unkeyed_erasures += 1
            elif erased:
                self._record(seq, ImageResult(pred, True, reason, ber_est=ber_est))
            else:
                result = ImageResult(pred, False, ber_est=ber_est,
                                     pending=bytes(pmt.u8vector_elements(pmt.cdr(msg))))
                self._results[seq] = result
                sent = self._sent.get(seq)
                if sent is None:
                    self._awaiting_sent.add(seq)
                else:
                    self._count_bit_errors(result, sent)
                    self._write_row(seq, result)
            self._touch()
            self._check_complete()
            if not self._finished.is_set():
                self.message_port_pub(PORT_STATUS, self._status(False))

    # Bookkeeping --------------------------------------------------------------------

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _record(self, seq: int, result: ImageResult) -> None:
        self._results[seq] = result
        self._write_row(seq, result)

    @staticmethod
    def _count_bit_errors(result: ImageResult, sent: bytes) -> None:
        received, result.pending = result.pending, None
        if len(sent) == len(received):
            diff = np.frombuffer(sent, np.uint8) ^ np.frombuffer(received, np.uint8)
            result.bit_errors = int(np.unpackbits(diff).sum())
            result.bits = 8 * len(sent)

    def _write_row(self, seq: int, result: ImageResult, final: bool = False) -> None:
        if self._writer is None:
            return
        if seq not in self._labels and not final:
            self._unwritten.add(seq)
            return
        self._unwritten.discard(seq)
        label = self._labels.get(seq, -1)
        self._writer.writerow((seq, label, result.pred, int(result.pred == label),
                               int(result.erased), result.reason, result.bit_errors,
                               result.bits, f"{result.ber_est:.6g}"))
        self._file.flush()

    def _status(self, done: bool) -> pmt.pmt_base:
        d = pmt.make_dict()
        d = pmt.dict_add(d, KEY_ACCOUNTED, pmt.from_long(len(self._results) + self._unkeyed_erasures))
        return pmt.dict_add(d, KEY_DONE, pmt.from_bool(done))

    def _check_complete(self) -> None:
        if self._n_images is None or len(self._labels) < self._n_images:
            return
        if self._awaiting_sent:
            return  # a decoded image still waits for its sent payload
        if len(self._results) + self._unkeyed_erasures >= self._n_images:
            self._finish()

    def _watch(self) -> None:
        while not self._finished.wait(0.1):
            with self._lock:
                all_labels = (self._n_images is not None and len(self._labels) >= self._n_images)
                idle = time.monotonic() - self._last_activity
                if idle <= self.drain_timeout:
                    continue
                if all_labels:
                    self.logger.warn(f"drain timeout: {self._n_images - len(self._results)} "
                                     f"image(s) without a result after {self.drain_timeout} s")
                    self._finish()
                elif self._expire_missing():
                    # The source holds back images while too many are unaccounted
                    # for; when bursts were missed, nothing else would free it.
                    self._touch()
                    self.message_port_pub(PORT_STATUS, self._status(False))

    def _finish(self) -> None:
        if self._finished.is_set():
            return
        for seq in sorted(self._awaiting_sent):
            # The sent payload never arrived: score the image, count no bits.
            self._results[seq].pending = None
            self._write_row(seq, self._results[seq], final=True)
        self._awaiting_sent.clear()
        for seq in sorted(self._unwritten):
            self._write_row(seq, self._results[seq], final=True)
        self._expire_missing()
        if self._file is not None:
            self._file.flush()
        self._finished.set()
        s = self.summary()
        reasons = "".join(f", {n} {reason}" for reason, n in s["erasure_reasons"].items())
        self.logger.info(f"all {s['images']} images scored: accuracy {s['accuracy']:.4f} "
                         f"({s['correct']}/{s['scored']}), {s['erased']} erased{reasons}; "
                         f"payload bit errors {s['bit_errors']}/{s['bits']}")
        self.message_port_pub(PORT_STATUS, self._status(True))
        self._post(PORT_SYSTEM, DONE_MSG)

    def _expire_missing(self) -> int:
        """Score every labelled image without a result as erased; return how many.

        Images whose burst never decoded get the decoder's prediction from no
        payload (or -1, wrong, if the decoder never gave one). An erasure event
        without a trusted seq accounts for one of them ("header lost"); the
        rest were never detected ("lost").
        """
        missing = [s for s in sorted(self._labels) if s not in self._results]
        for seq in missing:
            pred = self._fallback_pred if self._fallback_pred is not None else -1
            unkeyed = self._unkeyed_erasures > 0
            if unkeyed:
                self._unkeyed_erasures -= 1
            else:
                self._lost += 1
            self._results[seq] = ImageResult(pred, True, "header lost" if unkeyed else "lost")
            if self._writer is not None:
                label = self._labels[seq]
                self._writer.writerow((seq, label, pred, int(pred == label), 1,
                                       self._results[seq].reason, 0, 0, "nan"))
        if missing and self._file is not None:
            self._file.flush()
        return len(missing)

    # Results ------------------------------------------------------------------------

    def summary(self) -> dict:
        """Return the counts of the run so far."""
        with self._lock:
            results = {s: r for s, r in self._results.items() if s in self._labels}
            correct = sum(int(r.pred == self._labels[s]) for s, r in results.items())
            decoded = [r for r in results.values() if not r.erased]
            return {
                "images": self._n_images if self._n_images is not None else len(self._labels),
                "scored": len(results),
                "correct": correct,
                "accuracy": correct / len(results) if results else float("nan"),
                "erased": sum(r.erased for r in results.values()),
                "lost": self._lost,
                "erasure_reasons": dict(self._erasure_reasons),
                "bit_errors": sum(r.bit_errors for r in decoded),
                "bits": sum(r.bits for r in decoded),
                "mean_ber_est": (float(np.mean([r.ber_est for r in decoded]))
                                 if decoded else float("nan")),
                "drops": self.drops.counts(),
            }
