# SPDX-License-Identifier: GPL-3.0-or-later
"""Configurations of the backbone and the codec, stored inside every checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

LABELLINGS = ("natural", "gray")


@dataclass(frozen=True)
class BackboneConfig:
    """Shape of the split backbone.

    Args:
        num_classes: number of classes.
        stem_channels: channels of the split features, each 28 x 28.
        widths: output channels of the two residual stages of the tail.
    """

    num_classes: int = 10
    stem_channels: int = 32
    widths: tuple[int, int] = (64, 128)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")
        if self.stem_channels < 1 or len(self.widths) != 2 or min(self.widths) < 1:
            raise ValueError(f"invalid backbone shape: stem_channels={self.stem_channels}, "
                             f"widths={self.widths}")

    def to_dict(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "stem_channels": self.stem_channels,
                "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BackboneConfig":
        return _from_dict(cls, d)


@dataclass(frozen=True)
class CodecConfig:
    """Rate and structure of the soft-quantization codec.

    Args:
        codec_id: 8-bit identifier sent in every frame header.
        in_channels: channels of the split features (the backbone's stem).
        height, width: spatial size of the split features.
        latent_channels: channels of the quantized latent (the bottleneck).
        stride: total downsampling of each side (product of two stride-2 or
            one stride-4 stage; 4 means two stride-2 convolutions).
        levels: number L of quantization centres, a power of two from 2 to 16.
        labelling: bit labels of the centre indices, ``natural`` or ``gray``.
            Gray is the default because it scored 2 points higher than natural
            binary at BER 0.1 in experiments/ablations.py (docs/RESULTS.md).
        hidden_channels: channels of the encoder's hidden layer.
        decoder_channels: channels of the BER-aware decoder's hidden layers.
        ber_floor: smallest BER given to the decoder, so that log10 is finite.
        soft_input: the decoder takes per-bit soft values (LLRs) instead of
            hard bits mapped to centres.
        crop: side of the central square of the latent grid that is sent, a
            rate knob; the decoder refills the rest from zeros. 0 sends the
            whole grid.
    """

    codec_id: int = 1
    in_channels: int = 32
    height: int = 28
    width: int = 28
    latent_channels: int = 2
    stride: int = 4
    levels: int = 8
    labelling: str = "gray"
    hidden_channels: int = 16
    decoder_channels: int = 64
    ber_floor: float = 1e-5
    soft_input: bool = False
    crop: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.codec_id <= 255:
            raise ValueError(f"codec_id must fit in 8 bits (0..255), got {self.codec_id}")
        if self.levels not in (2, 4, 8, 16):
            raise ValueError(f"levels must be 2, 4, 8 or 16, got {self.levels}")
        if self.labelling not in LABELLINGS:
            raise ValueError(f"labelling must be one of {LABELLINGS}, got {self.labelling!r}")
        if self.stride not in (2, 4):
            raise ValueError(f"stride must be 2 or 4, got {self.stride}")
        if self.height % self.stride or self.width % self.stride:
            raise ValueError(f"feature size {self.height}x{self.width} is not divisible by "
                             f"stride {self.stride}")
        side = min(self.height, self.width) // self.stride
        if not 0 <= self.crop <= side:
            raise ValueError(f"crop must be 0 (whole grid) to {side}, got {self.crop}")
        if not 0.0 < self.ber_floor < 0.5:
            raise ValueError(f"ber_floor must be in (0, 0.5), got {self.ber_floor}")

    @property
    def bits_per_symbol(self) -> int:
        return int(math.log2(self.levels))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.height // self.stride, self.width // self.stride)

    @property
    def sent_shape(self) -> tuple[int, int, int]:
        """Shape of the part of the latent that is sent: the crop, or the whole grid."""
        c, h, w = self.latent_shape
        return (c, self.crop, self.crop) if self.crop else (c, h, w)

    @property
    def num_symbols(self) -> int:
        c, h, w = self.sent_shape
        return c * h * w

    @property
    def payload_bits(self) -> int:
        return self.num_symbols * self.bits_per_symbol

    @property
    def payload_bytes(self) -> int:
        return (self.payload_bits + 7) // 8

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CodecConfig":
        return _from_dict(cls, d)


def _from_dict(cls, d: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; this checkpoint was "
                         "written by a newer or different version of semanticnn")
    return cls(**d)
