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

    codec = train_codec(path, path, tc=CodecTrainingConfig(stage1_epochs=1, stage2_epochs=1, xai_images=200),
                        progress=False, limit=3000)
    after = held_out_loss(codec, backbone)
    assert after < 0.7 * before, (before, after)
    assert (codec.quantizer.centres() - untrained.quantizer.centres()).abs().max() > 1e-3

    model = SplitInference(path)
    images, _ = test_split
    assert len(model.encode(images[:3])[0]) == model.payload_bytes
    meta = checkpoint.load_raw(path)["meta"]
    assert meta["codec_stage2_epochs"] == 1
    assert meta["backbone_epochs"] == 1


def test_interrupted_codec_training_resumes_exactly(tmp_path):
    backbone_path = tmp_path / "bb.pt"
    train_backbone(backbone_path, tc=BackboneTrainingConfig(epochs=1, batch_size=128),
                   progress=False, limit=600)
    tc = CodecTrainingConfig(stage1_epochs=1, stage2_epochs=2, xai_images=100, batch_size=64)
    straight = train_codec(backbone_path, tmp_path / "a.pt", tc=tc, progress=False, limit=600)

    out = tmp_path / "b.pt"
    assert train_codec(backbone_path, out, tc=tc, progress=False, limit=600, epoch_budget=2) is None
    assert not out.exists()
    assert (tmp_path / "b.pt.train-state").exists()
    resumed = train_codec(backbone_path, out, tc=tc, progress=False, limit=600, resume=True)
    assert not (tmp_path / "b.pt.train-state").exists()
    for key, value in straight.state_dict().items():
        assert torch.allclose(resumed.state_dict()[key], value, atol=1e-6), key
