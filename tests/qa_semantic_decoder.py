# SPDX-License-Identifier: GPL-3.0-or-later
import pmt
import pytest
from gnuradio.semanticnn import semantic_decoder

from grutil import meta, pdu, run_block, u8


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
