# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pmt
from gnuradio.semanticnn import deframer

from grutil import meta, pdu, run_hier, u8
from semanticnn import frame

PAYLOAD = bytes(range(100, 137))


def frame_bits(seq=5, payload=PAYLOAD):
    return np.unpackbits(np.frombuffer(frame.build_frame(seq, 1, payload), np.uint8))


def frame_with_bad_crc(seq=5):
    header = bytearray(frame.build_header(seq, 1, len(PAYLOAD)))
    header[-1] ^= 0x01
    return frame.assemble_frame(frame.encode_header(bytes(header)), PAYLOAD)


def test_packed_bytes_frame():
    out = run_hier(deframer(37), [pdu({}, frame.build_frame(5, 1, PAYLOAD))], 1)
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
    out = run_hier(blk, [pdu({}, soft)], 1)
    received = u8(out[0])
    assert meta(out[0])["seq"] == 5
    assert received[:-1] == PAYLOAD[:-1]
    assert received[-1] == PAYLOAD[-1] ^ 1
    assert blk.stats()["known_bit_errors"] == 0


def test_coded_header_corrects_bit_errors():
    bits = frame_bits(seq=77)
    start = frame.CODED_HEADER_START
    for offset in (3, 40, 90, 150):  # four hard errors spread over the code bits
        bits[start + offset] ^= 1
    out = run_hier(deframer(37), [pdu({}, np.packbits(bits).tobytes())], 1)
    assert meta(out[0])["seq"] == 77
    assert u8(out[0]) == PAYLOAD


def test_soft_decoding_uses_reliability():
    # Every fifth code bit is wrong but close to zero, while the rest are sure.
    # The same frame as hard bytes has 32 errors in 156 code bits and fails.
    bits = frame_bits(seq=78)
    soft = (2.0 * bits - 1.0).astype(np.float32)
    code = slice(frame.CODED_HEADER_START, frame.CODED_HEADER_START + frame.CODED_HEADER_BITS)
    header_soft = soft[code]
    header_soft[::5] *= -0.05
    soft[code] = header_soft
    hard = np.packbits(soft > 0).tobytes()
    out = run_hier(deframer(37), [pdu({}, soft), pdu({}, hard)], 2)
    assert meta(out[0])["seq"] == 78
    assert meta(out[1])["reason"] == "header CRC"


def test_header_failure_is_erasure_without_seq():
    blk = deframer(37)
    out = run_hier(blk, [pdu({}, frame_with_bad_crc())], 1)
    m = meta(out[0])
    assert m["erased"] is True
    assert m["reason"] == "header CRC"
    assert "seq" not in m
    assert u8(out[0]) == b""
    assert blk.stats()["erased (header CRC)"] == 1


def test_header_failure_from_noise_is_erasure():
    soft = (2.0 * frame_bits() - 1.0).astype(np.float32)
    rng = np.random.default_rng(0)
    code = slice(frame.CODED_HEADER_START, frame.CODED_HEADER_START + frame.CODED_HEADER_BITS)
    soft[code] = rng.choice([-1.0, 1.0], frame.CODED_HEADER_BITS).astype(np.float32)
    out = run_hier(deframer(37), [pdu({}, soft)], 1)
    m = meta(out[0])
    assert m["erased"] is True
    assert m["reason"] == "header CRC"


def test_length_mismatch_is_erasure_with_seq():
    short = frame.build_frame(8, 1, PAYLOAD)[:-1]
    wrong_codec_len = frame.build_frame(9, 1, PAYLOAD[:20])
    out = run_hier(deframer(37), [pdu({}, short), pdu({}, wrong_codec_len)], 2)
    for msg, seq in zip(out, (8, 9)):
        m = meta(msg)
        assert m["erased"] is True
        assert m["reason"] == "length mismatch"
        assert m["seq"] == seq


def test_access_code_threshold():
    bits = frame_bits()
    bits[:10] ^= 1
    data = np.packbits(bits).tobytes()
    strict = run_hier(deframer(37, max_access_code_errors=8), [pdu({}, data)], 1)
    assert meta(strict[0])["reason"] == "access code"
    assert meta(strict[0])["access_code_errors"] == 10
    loose = run_hier(deframer(37), [pdu({}, data)], 1)
    assert meta(loose[0])["access_code_errors"] == 10
    assert meta(loose[0])["seq"] == 5


def test_outputs_keep_frame_order():
    frames = [frame.build_frame(seq, 1, PAYLOAD) for seq in range(12)]
    bits = np.unpackbits(np.frombuffer(frames[4], np.uint8))
    bits[:10] ^= 1
    frames[4] = np.packbits(bits).tobytes()
    frames[7] = frame_with_bad_crc(seq=7)
    out = run_hier(deframer(37, max_access_code_errors=8), [pdu({}, f) for f in frames], 12)
    reasons = [meta(m).get("reason") for m in out]
    assert reasons == [None] * 4 + ["access code"] + [None] * 2 + ["header CRC"] + [None] * 4
    assert [meta(m).get("seq") for m in out] == [0, 1, 2, 3, None, 5, 6, None, 8, 9, 10, 11]


def test_known_bits_counted_over_all_frames():
    good = frame_bits(seq=1)
    good[frame.PILOT_START] ^= 1
    bad_crc = np.unpackbits(np.frombuffer(frame_with_bad_crc(), np.uint8))
    bad_crc[0] ^= 1
    blk = deframer(37)
    run_hier(blk, [pdu({}, np.packbits(good).tobytes()), pdu({}, np.packbits(bad_crc).tobytes())], 2)
    stats = blk.stats()
    assert stats["frames"] == 2
    assert stats["known_bits"] == 2 * (64 + 64)
    assert stats["known_bit_errors"] == 2


def test_bad_input_dropped_and_flowgraph_runs_on():
    blk = deframer(37)
    inputs = [pmt.intern("junk"), pdu({}, b"\x00" * 10), pdu({}, np.zeros(8 * 36 + 3, np.float32)),
              pdu({}, frame.build_frame(3, 1, PAYLOAD))]
    out = run_hier(blk, inputs, 1)
    assert meta(out[0])["seq"] == 3
    assert blk.drop_counts() == {"wrong PMT type": 1, "short frame": 2}
    assert blk.stats()["frames"] == 1
