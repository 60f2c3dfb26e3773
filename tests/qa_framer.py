# SPDX-License-Identifier: GPL-3.0-or-later
import pmt
from gnuradio.semanticnn import framer

from grutil import meta, pdu, run_block, u8
from semanticnn import frame


def test_frames_payload_and_strips_metadata():
    blk = framer(codec_id=1)
    out = run_block(blk, [("in", pdu({"seq": 9, "codec_id": 1, "secret": 5}, bytes(range(37))))],
                    ["out"])["out"]
    assert len(out) == 1
    assert u8(out[0]) == frame.build_frame(9, 1, bytes(range(37)))
    assert meta(out[0]) == {}


def test_default_codec_id_used_when_missing():
    blk = framer(codec_id=7)
    out = run_block(blk, [("in", pdu({"seq": 1}, b"\x01\x02"))], ["out"])["out"]
    assert frame.parse_frame(frame.np.unpackbits(frame.np.frombuffer(u8(out[0]), "u1"))).codec_id == 7


def test_bad_input_dropped_and_flowgraph_runs_on():
    blk = framer()
    bad = [
        ("in", pmt.intern("not a pdu")),
        ("in", pdu({"seq": 1}, frame.np.zeros(4, frame.np.float32))),
        ("in", pdu({}, b"\x01")),
        ("in", pdu({"seq": 2}, b"")),
    ]
    out = run_block(blk, bad + [("in", pdu({"seq": 3}, b"\xaa"))], ["out"])["out"]
    assert len(out) == 1
    assert u8(out[0]) == frame.build_frame(3, 1, b"\xaa")
    assert blk.drop_counts() == {"wrong PMT type": 2, "missing seq": 1, "empty payload": 1}
