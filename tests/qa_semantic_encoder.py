# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pmt
from gnuradio.semanticnn import semantic_encoder

from grutil import meta, pdu, run_block, u8


def test_payload_matches_library(model, test_split):
    images, _ = test_split
    blk = semantic_encoder(max_batch=1)
    inputs = [("in", pdu({"seq": i}, images[i].reshape(-1))) for i in range(5)]
    out = run_block(blk, inputs, ["out", "sent"])
    assert len(out["out"]) == len(out["sent"]) == 5
    for i, (msg, sent) in enumerate(zip(out["out"], out["sent"])):
        assert meta(msg) == {"seq": i, "codec_id": model.config.codec_id}
        assert u8(msg) == model.encode(images[i])[0]
        assert len(u8(msg)) == model.payload_bytes
        assert u8(sent) == u8(msg)


def test_bad_input_dropped_and_flowgraph_runs_on(test_split):
    images, _ = test_split
    blk = semantic_encoder(max_batch=1)
    inputs = [("in", pmt.intern("junk")),
              ("in", pdu({"seq": 1}, images[0].reshape(-1).astype(np.float32))),
              ("in", pdu({"seq": 2}, images[0].reshape(-1)[:700])),
              ("in", pdu({}, images[0].reshape(-1))),
              ("in", pdu({"seq": 3}, images[3].reshape(-1)))]
    out = run_block(blk, inputs, ["out"])["out"]
    assert [meta(m)["seq"] for m in out] == [3]
    assert blk.drop_counts() == {"wrong PMT type": 2, "wrong image shape": 1, "missing seq": 1}
