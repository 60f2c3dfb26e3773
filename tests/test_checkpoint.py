# SPDX-License-Identifier: GPL-3.0-or-later
import torch
import pytest

from semanticnn import checkpoint
from semanticnn.backbone import Backbone
from semanticnn.codec import SemanticCodec
from semanticnn.config import BackboneConfig, CodecConfig


def save_pair(path, bconfig=BackboneConfig(), cconfig=CodecConfig()):
    backbone = Backbone(bconfig.num_classes, bconfig.stem_channels, bconfig.widths)
    codec = SemanticCodec(cconfig)
    checkpoint.save(path, backbone, bconfig, codec, cconfig)
    return backbone, codec


def test_round_trip_keeps_weights_and_centres(tmp_path):
    path = tmp_path / "a.pt"
    with torch.no_grad():
        cconfig = CodecConfig()
        backbone, codec = save_pair(path, cconfig=cconfig)
    codec.quantizer.first.data.fill_(-2.0)
    checkpoint.save(path, backbone, BackboneConfig(), codec, cconfig)
    b2, c2 = checkpoint.load(path)
    assert torch.equal(c2.quantizer.centres(), codec.quantizer.centres())
    for k, v in backbone.state_dict().items():
        assert torch.equal(b2.state_dict()[k], v)
    assert c2.config == cconfig


class Payload:
    """An arbitrary class: unpickling it runs code, so weights_only must refuse it."""


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "a.pt"
    save_pair(path)
    raw = torch.load(path, weights_only=True)
    raw["meta"]["extra"] = Payload()
    torch.save(raw, path)
    with pytest.raises(checkpoint.CheckpointError, match="cannot be read"):
        checkpoint.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        checkpoint.load(tmp_path / "nope.pt")


def test_corrupt_file(tmp_path):
    path = tmp_path / "a.pt"
    save_pair(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated"):
        checkpoint.load(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "a.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(checkpoint.CheckpointError, match="not a semanticnn checkpoint"):
        checkpoint.load(path)


def test_config_mismatch_names_the_difference(tmp_path):
    path = tmp_path / "a.pt"
    save_pair(path)
    raw = torch.load(path, weights_only=True)
    raw["codec_config"]["latent_channels"] = 4
    torch.save(raw, path)
    with pytest.raises(checkpoint.CheckpointError, match="shape mismatch.*encoder"):
        checkpoint.load(path)


def test_unknown_config_field(tmp_path):
    path = tmp_path / "a.pt"
    save_pair(path)
    raw = torch.load(path, weights_only=True)
    raw["codec_config"]["entropy_model"] = "hyperprior"
    torch.save(raw, path)
    with pytest.raises(checkpoint.CheckpointError, match="entropy_model"):
        checkpoint.load(path)


def test_backbone_only_checkpoint(tmp_path):
    path = tmp_path / "b.pt"
    checkpoint.save(path, Backbone(), BackboneConfig())
    with pytest.raises(checkpoint.CheckpointError, match="no codec"):
        checkpoint.load(path)


def test_unordered_centres_rejected(tmp_path):
    path = tmp_path / "a.pt"
    save_pair(path)
    raw = torch.load(path, weights_only=True)
    raw["codec"]["quantizer.first"] = torch.tensor(float("nan"))
    torch.save(raw, path)
    with pytest.raises(ValueError, match="centres"):
        checkpoint.load(path)


def test_invalid_codec_config_rejected():
    with pytest.raises(ValueError, match="levels"):
        CodecConfig(levels=6)


def test_empty_file_and_folder(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(checkpoint.CheckpointError, match="is empty"):
        checkpoint.load(empty)
    with pytest.raises(checkpoint.CheckpointError, match="is a folder"):
        checkpoint.load(tmp_path)
