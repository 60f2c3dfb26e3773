# SPDX-License-Identifier: GPL-3.0-or-later
"""Split inference: the device part (images to payloads) and the edge part (payloads to classes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import checkpoint, data
from .backbone import Backbone
from .codec import SemanticCodec


class SplitInference:
    """The device side and the edge side of one trained backbone and codec.

    Args:
        checkpoint_path: checkpoint with backbone and codec; None for the
            packaged Fashion-MNIST weights.
        num_threads: PyTorch intra-op threads; 0 leaves PyTorch's setting.
    """

    def __init__(self, checkpoint_path: str | Path | None = None, num_threads: int = 0) -> None:
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else checkpoint.DEFAULT_CHECKPOINT
        self.backbone: Backbone
        self.codec: SemanticCodec
        self.backbone, self.codec = checkpoint.load(self.checkpoint_path)
        self.config = self.codec.config
        self.image_shape = (self.config.height, self.config.width)

    @property
    def payload_bytes(self) -> int:
        return self.config.payload_bytes

    def check_images(self, images: np.ndarray) -> np.ndarray:
        """Return uint8 images as (B, H, W), or raise ValueError naming the shape."""
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.shape[1:] != self.image_shape:
            raise ValueError(f"images must be {self.image_shape[0]}x{self.image_shape[1]}, got "
                             f"shape {images.shape}")
        return images

    @torch.no_grad()
    def features(self, images: np.ndarray) -> torch.Tensor:
        """Run the device's stem on uint8 images (B, H, W)."""
        return self.backbone.head(data.to_tensor(self.check_images(images)))

    def encode(self, images: np.ndarray) -> list[bytes]:
        """Device side: uint8 images (B, H, W) to one payload each."""
        return self.codec.encode_batch(self.features(images))

    @torch.no_grad()
    def logits(self, payloads: list[bytes | None], ber_est) -> torch.Tensor:
        """Edge side: payloads (None for an erasure) and BER estimates to class logits."""
        return self.backbone.tail(self.codec.decode_batch(payloads, ber_est))

    @torch.no_grad()
    def logits_llr(self, llrs: list, ber_est) -> torch.Tensor:
        """Edge side for a codec trained on soft values: per-bit LLRs to class logits.

        Each item is an array of at least ``payload_bits`` LLRs (positive means
        bit 1; extra values, such as byte padding, are ignored) or None for an
        erasure.
        """
        n = self.config.payload_bits
        erased = torch.tensor([llr is None for llr in llrs], dtype=torch.bool)
        matrix = torch.zeros(len(llrs), n)
        for i, llr in enumerate(llrs):
            if llr is None:
                continue
            llr = np.asarray(llr, dtype=np.float32).ravel()
            if llr.size < n:
                raise ValueError(f"item {i} has {llr.size} LLRs, the codec needs {n}")
            matrix[i] = torch.from_numpy(llr[:n].copy())
        return self.backbone.tail(self.codec.decode_llr_batch(matrix, ber_est, erased))

    def predict_llr(self, llrs: list, ber_est) -> np.ndarray:
        """Edge side for a codec trained on soft values: return each item's predicted class."""
        return self.logits_llr(llrs, ber_est).argmax(1).numpy()

    def predict(self, payloads: list[bytes | None], ber_est) -> np.ndarray:
        """Edge side: return the predicted class of each payload."""
        return self.logits(payloads, ber_est).argmax(1).numpy()

    @torch.no_grad()
    def predict_clean(self, images: np.ndarray) -> np.ndarray:
        """Return the uncompressed backbone's prediction, the reference accuracy."""
        return self.backbone(data.to_tensor(self.check_images(images))).argmax(1).numpy()
