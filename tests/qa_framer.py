# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pmt
import pytest
from gnuradio.semanticnn import framer

from grutil import meta, pdu, run_hier, u8
from semanticnn import frame


def test_frames_payload_and_strips_metadata():
    blk = framer(codec_id=1)
    out = run_hier(blk, [pdu({"seq": 9, "codec_id": 1, "secret": 5}, bytes(range(37)))], 1)
    assert u8(out[0]) == frame.build_frame(9, 1, bytes(range(37)))
    assert meta(out[0]) == {}


def test_frame_matches_test_vector():
    out = run_hier(framer(), [pdu({"seq": 0x01020304}, bytes(range(37)))], 1)
    assert len(u8(out[0])) == 73
    assert u8(out[0]) == frame.build_frame(0x01020304, 1, bytes(range(37)))


def test_frames_keep_payload_order():
    payloads = [bytes([seq]) * (1 + seq % 5) for seq in range(30)]
    out = run_hier(framer(), [pdu({"seq": seq}, p) for seq, p in enumerate(payloads)], 30)
    for seq, (payload, msg) in enumerate(zip(payloads, out)):
        assert u8(msg) == frame.build_frame(seq, 1, payload), f"seq {seq}"


def test_default_codec_id_used_when_missing():
    out = run_hier(framer(codec_id=7), [pdu({"seq": 1}, b"\x01\x02")], 1)
    assert u8(out[0]) == frame.build_frame(1, 7, b"\x01\x02")


def test_bad_input_dropped_and_flowgraph_runs_on():
    blk = framer()
    bad = [
        pmt.intern("not a pdu"),
        pdu({"seq": 1}, np.zeros(4, np.float32)),
        pdu({}, b"\x01"),
        pdu({"seq": 2}, b""),
    ]
    out = run_hier(blk, bad + [pdu({"seq": 3}, b"\xaa")], 1)
    assert u8(out[0]) == frame.build_frame(3, 1, b"\xaa")
    assert blk.drop_counts() == {"wrong PMT type": 2, "missing seq": 1, "empty payload": 1}


def test_invalid_codec_id_rejected():
    with pytest.raises(ValueError, match="codec_id"):
        framer(codec_id=256)
