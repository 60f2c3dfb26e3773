# SPDX-License-Identifier: GPL-3.0-or-later
"""A short training run from scratch writes a loadable checkpoint and learns."""

import torch

from semanticnn import checkpoint, data
from semanticnn.codec import SemanticCodec
from semanticnn.config import CodecConfig
from semanticnn.pipeline import SplitInference
from semanticnn.train import (BackboneTrainingConfig, CodecTrainingConfig, codec_loss,
                              train_backbone, train_codec)


@torch.no_grad()
def held_out_loss(codec, backbone):
    x, y = data.load_tensors("test")
    clean = backbone.head(x[:512])
    zeros = torch.zeros(512)
    return codec_loss(codec.eval(), backbone.eval(), clean, y[:512], zeros, zeros + 0.01)[0].item()


def test_short_training_run(tmp_path, test_split):
    path = tmp_path / "small.pt"
    acc = train_backbone(path, tc=BackboneTrainingConfig(epochs=1, batch_size=128),
                         progress=False, limit=3000)
    assert acc > 0.5  # 10 % at random; one epoch on 3,000 images gets well past it
    backbone, _, _ = checkpoint.load_backbone(path)
    torch.manual_seed(0)
    untrained = SemanticCodec(CodecConfig())
    before = held_out_loss(untrained, backbone)

    codec = train_codec(path, path, tc=CodecTrainingConfig(epochs=2), progress=False, limit=3000)
    after = held_out_loss(codec, backbone)
    assert after < 0.7 * before, (before, after)
    assert (codec.quantizer.centres() - untrained.quantizer.centres()).abs().max() > 1e-3

    model = SplitInference(path)
    images, _ = test_split
    assert len(model.encode(images[:3])[0]) == model.payload_bytes
    meta = checkpoint.load_raw(path)["meta"]
    assert meta["codec_epochs"] == 2
    assert meta["backbone_epochs"] == 1
