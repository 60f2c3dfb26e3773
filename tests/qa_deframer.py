# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pmt
from gnuradio.semanticnn import deframer

from grutil import meta, pdu, run_block, u8
from semanticnn import frame

PAYLOAD = bytes(range(100, 137))


def frame_bits(seq=5, payload=PAYLOAD):
    return np.unpackbits(np.frombuffer(frame.build_frame(seq, 1, payload), np.uint8))


def test_packed_bytes_frame():
    out = run_block(deframer(37), [("in", pdu({}, frame.build_frame(5, 1, PAYLOAD)))], ["out"])["out"]
    m = meta(out[0])
    assert u8(out[0]) == PAYLOAD
    assert (m["seq"], m["codec_id"], m["access_code_errors"]) == (5, 1, 0)
    np.testing.assert_array_equal(m["pilot_bits"], frame.PILOT_BITS)
    assert "erased" not in m


def test_soft_values_frame_keeps_payload_errors():
    bits = frame_bits()
    soft = (2.0 * bits - 1.0).astype(np.float32) * 0.7
    last = soft.size - 1
    soft[last] = -soft[last]  # one payload bit error
    blk = deframer(37)
    out = run_block(blk, [("in", pdu({}, soft))], ["out"])["out"]
    received = u8(out[0])
    assert received[:-1] == PAYLOAD[:-1]
    assert received[-1] == PAYLOAD[-1] ^ 1
    assert blk.stats()["known_bit_errors"] == 0


def test_header_failure_is_erasure_without_seq():
    bits = frame_bits()
    bits[64 + 3] ^= 1
    blk = deframer(37)
    out = run_block(blk, [("in", pdu({}, np.packbits(bits).tobytes()))], ["out"])["out"]
    m = meta(out[0])
    assert m["erased"] is True
    assert m["reason"] == "header CRC"
    assert "seq" not in m
    assert u8(out[0]) == b""


def test_length_mismatch_is_erasure_with_seq():
    short = frame.build_frame(8, 1, PAYLOAD)[:-1]
    wrong_codec_len = frame.build_frame(9, 1, PAYLOAD[:20])
    out = run_block(deframer(37), [("in", pdu({}, short)), ("in", pdu({}, wrong_codec_len))],
                    ["out"])["out"]
    for msg, seq in zip(out, (8, 9)):
        m = meta(msg)
        assert m["erased"] is True
        assert m["reason"] == "length mismatch"
        assert m["seq"] == seq


def test_access_code_threshold():
    bits = frame_bits()
    bits[:10] ^= 1
    data = np.packbits(bits).tobytes()
    strict = run_block(deframer(37, max_access_code_errors=8), [("in", pdu({}, data))], ["out"])["out"]
    assert meta(strict[0])["reason"] == "access code"
    loose = run_block(deframer(37), [("in", pdu({}, data))], ["out"])["out"]
    assert meta(loose[0])["access_code_errors"] == 10


def test_bad_input_dropped_and_flowgraph_runs_on():
    blk = deframer(37)
    inputs = [("in", pmt.intern("junk")), ("in", pdu({}, b"\x00" * 10)),
              ("in", pdu({}, frame.build_frame(3, 1, PAYLOAD)))]
    out = run_block(blk, inputs, ["out"])["out"]
    assert len(out) == 1
    assert meta(out[0])["seq"] == 3
    assert blk.drop_counts() == {"wrong PMT type": 1, "short frame": 1}
