# SPDX-License-Identifier: GPL-3.0-or-later
"""Message source of Fashion-MNIST test images as PDUs."""

from __future__ import annotations

import threading

import pmt
from gnuradio import gr

from semanticnn import data

from .pdu_utils import DONE_MSG, KEY_ACCOUNTED, KEY_DONE, PORT_SYSTEM, make_pdu

PORT_LABELS = pmt.intern("labels")
PORT_STATUS = pmt.intern("status")


class image_source(gr.basic_block):
    """Send dataset images as PDUs and their labels straight to the accuracy sink.

    Image ``start_index + seq`` goes out on ``out`` as a u8vector of H*W pixels
    with metadata ``seq``. Its label goes out on ``labels`` with metadata
    ``seq``, ``label`` and ``n_images``, for the accuracy sink only.

    The source never ends the flowgraph on its own, because GNU Radio would then
    stop before the last bursts reach the sink. Connect the sink's ``status``
    output to the ``status`` input: the source keeps at most ``window`` images
    unaccounted (0 for no limit) and sends ``done`` once the sink has scored
    every image.

    Args:
        n_images: number of images to send.
        start_index: index of the first image in the split.
        split: ``test`` or ``train``.
        window: maximum images sent but not yet scored; 0 disables the limit.
        data_dir: folder with the IDX files; empty for Debian's path.
    """

    def __init__(self, n_images: int = 1000, start_index: int = 0, split: str = "test",
                 window: int = 64, data_dir: str = "") -> None:
        gr.basic_block.__init__(self, name="semanticnn_image_source", in_sig=None, out_sig=None)
        images, labels = data.load_split(split, data_dir or None)
        if n_images < 1:
            raise ValueError(f"n_images must be at least 1, got {n_images}")
        if start_index < 0 or start_index + n_images > len(images):
            raise ValueError(f"images {start_index}..{start_index + n_images - 1} requested but "
                             f"the {split} split has {len(images)}; lower n_images or start_index")
        if window < 0:
            raise ValueError(f"window must be 0 (no limit) or positive, got {window}")
        self.images = images[start_index:start_index + n_images]
        self.labels = labels[start_index:start_index + n_images]
        self.n_images = n_images
        self.window = window
        self._accounted = 0
        self._sent = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(PORT_LABELS)
        self.message_port_register_in(PORT_STATUS)
        self.set_msg_handler(PORT_STATUS, self._handle_status)

    def start(self) -> bool:
        self._stopping = False
        self._thread = threading.Thread(target=self._send_all, name="image_source", daemon=True)
        self._thread.start()
        return super().start()

    def stop(self) -> bool:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        return super().stop()

    def images_sent(self) -> int:
        return self._sent

    def _send_all(self) -> None:
        for seq in range(self.n_images):
            with self._cond:
                while (self.window and seq - self._accounted >= self.window
                       and not self._stopping):
                    self._cond.wait(timeout=0.5)
                if self._stopping:
                    return
            label_meta = {"seq": seq, "label": int(self.labels[seq]), "n_images": self.n_images}
            self.message_port_pub(PORT_LABELS, make_pdu(label_meta, b""))
            self.message_port_pub(pmt.intern("out"), make_pdu({"seq": seq},
                                                               self.images[seq].reshape(-1)))
            self._sent = seq + 1

    def _handle_status(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_dict(msg):
            self.logger.warn(f"status message is not a dict, ignored: {msg}")
            return
        accounted = pmt.dict_ref(msg, KEY_ACCOUNTED, pmt.PMT_NIL)
        with self._cond:
            if pmt.is_integer(accounted):
                self._accounted = max(self._accounted, pmt.to_long(accounted))
            self._cond.notify_all()
        if pmt.to_bool(pmt.dict_ref(msg, KEY_DONE, pmt.PMT_F)):
            # Ending here lets the done message run down every message and stream
            # connection, so the whole flowgraph stops once all images are scored.
            self._post(PORT_SYSTEM, DONE_MSG)
