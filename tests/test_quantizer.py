# SPDX-License-Identifier: GPL-3.0-or-later
import pytest
import torch

from semanticnn.codec import SemanticCodec, power_normalize
from semanticnn.config import CodecConfig
from semanticnn.quantizer import SoftQuantizer


def test_centres_sorted_at_start():
    c = SoftQuantizer(8).centres()
    assert torch.all(c[1:] > c[:-1])
    assert torch.allclose(c[[0, -1]], torch.tensor([-1.75, 1.75]))


def test_forward_value_is_nearest_centre():
    q = SoftQuantizer(4)
    z = torch.linspace(-3, 3, 101)
    out, idx = q(z)
    c = q.centres().detach()
    nearest = (z[:, None] - c).abs().argmin(1)
    assert torch.equal(idx, nearest)
    assert torch.allclose(out.detach(), c[nearest])


def test_centres_move_and_keep_order_in_training():
    torch.manual_seed(0)
    q = SoftQuantizer(8)
    start = q.centres().detach().clone()
    opt = torch.optim.Adam(q.parameters(), lr=0.05)
    # Data concentrated near +-0.5: the optimal centres cluster there.
    data = torch.cat([torch.randn(4000) * 0.1 - 0.5, torch.randn(4000) * 0.1 + 0.5])
    ref_idx = q.indices(data)
    for _ in range(200):
        out, _ = q(data)
        loss = (out - data).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        c = q.centres().detach()
        assert torch.all(c[1:] > c[:-1]), "centres lost their order"
    end = q.centres().detach()
    assert (end - start).abs().max() > 0.2, "centres did not move"
    # The same value still maps to a centre of the same rank: index order is kept.
    moved_idx = q.indices(data)
    assert torch.all((moved_idx[:-1] <= moved_idx[1:]) | (data[:-1] > data[1:]))
    assert ref_idx.shape == moved_idx.shape


def test_centres_get_gradient_through_codec():
    codec = SemanticCodec(CodecConfig())
    f = torch.rand(4, 32, 28, 28)
    out, _ = codec(f, torch.zeros(4), torch.full((4,), 0.01))
    out.mean().backward()
    assert codec.quantizer.first.grad is not None and codec.quantizer.first.grad.abs() > 0
    assert codec.quantizer.raw_gaps.grad.abs().sum() > 0


def test_power_normalization_scales_with_latent_size():
    for shape in [(3, 2, 7, 7), (3, 8, 4, 4)]:
        z = power_normalize(torch.randn(shape) * 5)
        per_element = z.pow(2).flatten(1).mean(1)
        assert torch.allclose(per_element, torch.ones(shape[0]), atol=1e-5)


def test_fixed_random_centres_never_move():
    q = SoftQuantizer(8)
    q.freeze_random(torch.Generator().manual_seed(0))
    before = q.centres().detach().clone()
    assert torch.all(before[1:] > before[:-1])
    assert list(q.parameters()) and not any(p.requires_grad for p in q.parameters())
    out, _ = q(torch.randn(100, requires_grad=True))
    out.sum().backward()
    assert torch.equal(q.centres().detach(), before)


def test_soft_input_codec_trains_encoder_and_decodes():
    codec = SemanticCodec(CodecConfig(soft_input=True))
    f = torch.rand(3, 32, 28, 28)
    out, info = codec(f, torch.tensor([0.0, 0.05, 0.2]), torch.full((3,), 0.01))
    out.mean().backward()
    assert codec.encoder.net[0].weight.grad.abs().sum() > 0
    assert info["bit_flips"][0] == 0
    llrs = torch.randn(2, codec.config.payload_bits) * 4
    assert codec.decode_llr_batch(llrs, [0.01, 0.1]).shape == (2, 32, 28, 28)
    with pytest.raises(ValueError, match="hard bits"):
        SemanticCodec(CodecConfig()).decode_llr_batch(llrs, [0.01, 0.1])


@pytest.mark.parametrize("soft_input", [False, True])
def test_spatial_crop_sends_centre_and_refills(soft_input):
    config = CodecConfig(crop=5, soft_input=soft_input)
    assert config.sent_shape == (2, 5, 5)
    assert config.payload_bits == 2 * 5 * 5 * 3
    codec = SemanticCodec(config).eval()
    f = torch.rand(2, 32, 28, 28)
    payloads = codec.encode_batch(f)
    assert [len(p) for p in payloads] == [config.payload_bytes] * 2
    full_idx = codec.quantizer.indices(codec.encoder(f))
    assert torch.equal(codec.encode_indices(f), full_idx[:, :, 1:6, 1:6])
    assert codec.decode_batch(payloads, [0.01, 0.01]).shape == (2, 32, 28, 28)
    out, _ = codec.train()(f, torch.zeros(2), torch.full((2,), 0.01))
    assert out.shape == (2, 32, 28, 28)
    if not soft_input:
        latent = codec.payload_to_latent(payloads)
        assert torch.all(latent[:, :, 0, :] == 0)
        assert torch.all(latent[:, :, 1:6, 1:6] != 0)


def test_crop_larger_than_grid_rejected():
    with pytest.raises(ValueError, match="crop"):
        CodecConfig(crop=8)
