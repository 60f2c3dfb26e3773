# SPDX-License-Identifier: GPL-3.0-or-later
import pmt
import pytest
from gnuradio.semanticnn import semantic_decoder

from grutil import meta, pdu, run_block, u8

from semanticnn.pipeline import SplitInference


@pytest.fixture(scope="module")
def payloads(model, test_split):
    images, _ = test_split
    return model.encode(images[:6])


def test_prediction_matches_library(model, payloads):
    blk = semantic_decoder(max_batch=1)
    bers = [0.5 / 65, 0.01, 0.05, 0.1, 0.2, 0.3]
    inputs = [("in", pdu({"seq": i, "ber_est": b, "codec_id": 1}, p))
              for i, (p, b) in enumerate(zip(payloads, bers))]
    out = run_block(blk, inputs, ["out"])["out"]
    assert len(out) == 6
    for i, msg in enumerate(out):
        m = meta(msg)
        assert m["seq"] == i
        assert m["pred"] == int(model.predict([payloads[i]], [bers[i]])[0])
        assert u8(msg) == payloads[i]


def test_erasure_decoded_from_no_payload(model):
    out = run_block(semantic_decoder(max_batch=1), [("in", pdu({"erased": True, "ber_est": 0.5,
                                                     "reason": "header CRC"}, b""))], ["out"])["out"]
    assert meta(out[0])["pred"] == int(model.predict([None], [0.5])[0])
    assert meta(out[0])["erased"] is True


def test_codec_mismatch_is_erasure(model, payloads):
    out = run_block(semantic_decoder(max_batch=1), [("in", pdu({"seq": 1, "ber_est": 0.01, "codec_id": 99},
                                                    payloads[0]))], ["out"])["out"]
    m = meta(out[0])
    assert m["erased"] is True
    assert m["reason"] == "codec mismatch"
    assert m["seq"] == 1


def test_bad_input_dropped_and_flowgraph_runs_on(model, payloads):
    blk = semantic_decoder(max_batch=1)
    inputs = [("in", pmt.intern("junk")),
              ("in", pdu({"seq": 1}, payloads[1])),
              ("in", pdu({"seq": 2, "ber_est": 0.01}, b"")),
              ("in", pdu({"seq": 3, "ber_est": 0.01}, payloads[3][:-1])),
              ("in", pdu({"seq": 4, "ber_est": float("nan")}, payloads[4])),
              ("in", pdu({"seq": 5, "ber_est": 0.01}, payloads[5]))]
    out = run_block(blk, inputs, ["out"])["out"]
    assert [meta(m)["seq"] for m in out] == [5]
    assert meta(out[0])["pred"] == int(model.predict([payloads[5]], [0.01])[0])
    assert blk.drop_counts() == {"wrong PMT type": 1, "missing ber_est": 2, "empty payload": 1,
                                 "wrong payload length": 1}


def test_batches_fill_or_time_out(model, payloads):
    from grutil import run_hier

    blk = semantic_decoder(max_batch=4, max_wait=1.0)
    inputs = [pdu({"seq": i, "ber_est": 0.01}, p) for i, p in enumerate(payloads)]
    out = run_hier(blk, inputs, 6)
    # Six bursts with batches of at most four: one full batch, then one flushed by the timer.
    assert [meta(m)["seq"] for m in out] == list(range(6))
    assert blk.batches == 2
    expected = model.predict(payloads, [0.01] * 6)
    assert [meta(m)["pred"] for m in out] == expected.tolist()


def test_invalid_batch_settings():
    with pytest.raises(ValueError, match="max_batch"):
        semantic_decoder(max_batch=0)
    with pytest.raises(ValueError, match="max_wait"):
        semantic_decoder(max_wait=-1.0)


@pytest.fixture(scope="module")
def soft_checkpoint(tmp_path_factory):
    """The packaged backbone with a codec built for soft input (untrained weights, seed 0)."""
    import torch
    from semanticnn import checkpoint
    from semanticnn.codec import SemanticCodec

    backbone, bconfig, _ = checkpoint.load_backbone(checkpoint.DEFAULT_CHECKPOINT)
    config = SplitInference().config
    soft_config = type(config).from_dict({**config.to_dict(), "soft_input": True})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("soft") / "soft.pt"
    checkpoint.save(path, backbone, bconfig, SemanticCodec(soft_config).eval(), soft_config)
    return path


def test_soft_codec_decodes_llrs_from_the_metadata(soft_checkpoint, payloads):
    import numpy as np

    soft = SplitInference(soft_checkpoint)
    n = soft.config.payload_bits
    rng = np.random.default_rng(0)
    llrs = [rng.normal(0, 3, 8 * len(p)).astype(np.float32) for p in payloads[:4]]
    blk = semantic_decoder(str(soft_checkpoint), max_batch=1)
    inputs = [("in", pdu({"seq": i, "ber_est": 0.01, "codec_id": 1, "llr": pmt.init_f32vector(
        llr.size, llr)}, p)) for i, (p, llr) in enumerate(zip(payloads[:4], llrs))]
    # A PDU without LLRs is decoded from its hard bits, taken as certain.
    inputs.append(("in", pdu({"seq": 4, "ber_est": 0.01, "codec_id": 1}, payloads[4])))
    out = run_block(blk, inputs, ["out"])["out"]
    assert len(out) == 5
    assert blk.soft_decoded == 4
    for i in range(4):
        assert meta(out[i])["pred"] == int(soft.predict_llr([llrs[i][:n]], [0.01])[0])
    assert meta(out[4])["pred"] == int(soft.predict([payloads[4]], [0.01])[0])
    # The LLRs decide: flipping their signs changes the decoder's input.
    flipped = soft.logits_llr([-llrs[0]], [0.01])
    assert not np.allclose(flipped.numpy(), soft.logits_llr([llrs[0]], [0.01]).numpy())


def test_bad_llrs_are_dropped(soft_checkpoint, payloads):
    blk = semantic_decoder(str(soft_checkpoint), max_batch=1)
    short = pmt.init_f32vector(3, [1.0, 2.0, 3.0])
    out = run_block(blk, [("in", pdu({"seq": 0, "ber_est": 0.01, "llr": short}, payloads[0]))],
                    ["out"])["out"]
    assert out == []
    assert blk.drop_counts() == {"bad llr": 1}
