# SPDX-License-Identifier: GPL-3.0-or-later
"""Device side: image PDU in, SemanticNN payload PDU out."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from semanticnn.pipeline import SplitInference

from .batching import BatchQueue
from .pdu_utils import PORT_IN, PORT_OUT, DropCounter, make_pdu, meta_seq, u8_payload

PORT_SENT = pmt.intern("sent")


class semantic_encoder(gr.basic_block):
    """Run the backbone's stem and the SQ encoder on one image per PDU.

    Input ``in``: u8vector of H*W pixels with metadata ``seq``. Output ``out``:
    the payload bytes with metadata ``seq`` and ``codec_id``; the same PDU also
    goes out on ``sent`` so the accuracy sink can count bit errors.

    Images are encoded in batches for simulation speed: a batch runs when
    ``max_batch`` images wait, or ``max_wait`` seconds after the first of them
    arrived. A batch can change a payload only where a latent value lies
    within float rounding of a quantization boundary.

    Args:
        checkpoint: checkpoint file; empty for the packaged Fashion-MNIST weights.
        num_threads: PyTorch intra-op threads, set for the whole process, because
            GNU Radio's threads share the same cores; 0 leaves PyTorch's default.
        max_batch: most images encoded together.
        max_wait: most seconds an image waits for its batch to fill.
    """

    def __init__(self, checkpoint: str = "", num_threads: int = 1, max_batch: int = 16,
                 max_wait: float = 0.005) -> None:
        gr.basic_block.__init__(self, name="semanticnn_semantic_encoder", in_sig=None, out_sig=None)
        self.model = SplitInference(checkpoint or None, num_threads=num_threads)
        self.codec_id = self.model.config.codec_id
        self.n_pixels = int(np.prod(self.model.image_shape))
        self.drops = DropCounter(self.logger)
        # Items: (seq, image).
        self.queue = BatchQueue(max_batch, max_wait, self._encode)
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.message_port_register_out(PORT_SENT)
        self.set_msg_handler(PORT_IN, self._handle)

    def stop(self) -> bool:
        self.queue.flush()
        return super().stop()

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    @property
    def encode_seconds(self) -> float:
        """Wall-clock seconds spent encoding in PyTorch."""
        return self.queue.seconds

    def _encode(self, batch: list) -> None:
        payloads = self.model.encode(np.stack([image for _, image in batch]))
        for (seq, _), payload in zip(batch, payloads):
            out = make_pdu({"seq": seq, "codec_id": self.codec_id}, payload)
            self.message_port_pub(PORT_OUT, out)
            self.message_port_pub(PORT_SENT, out)

    def _handle(self, msg: pmt.pmt_base) -> None:
        parsed = u8_payload(msg)
        if parsed is None:
            self.drops.drop("wrong PMT type", None, "expected a PDU with a u8vector of pixels")
            return
        meta, pixels = parsed
        seq = meta_seq(meta)
        if seq is None:
            self.drops.drop("missing seq", None, "image metadata has no integer 'seq'")
            return
        if len(pixels) != self.n_pixels:
            self.drops.drop("wrong image shape", seq, f"got {len(pixels)} pixels, expected "
                            f"{self.n_pixels} ({self.model.image_shape[0]}x{self.model.image_shape[1]})")
            return
        image = np.frombuffer(pixels, dtype=np.uint8).reshape(self.model.image_shape)
        self.queue.put((seq, image))
