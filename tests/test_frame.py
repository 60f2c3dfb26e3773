# SPDX-License-Identifier: GPL-3.0-or-later
import re
from pathlib import Path

import numpy as np
import pytest

from semanticnn import frame

DOC = Path(__file__).resolve().parent.parent / "docs" / "FRAME.md"


def documented_test_vector() -> bytes:
    text = DOC.read_text()
    block = text.split("## Test vector", 1)[1].split("```")[1]
    return bytes.fromhex(re.sub(r"\s+", "", block))


def test_frame_matches_documented_vector():
    built = frame.build_frame(0x01020304, 1, bytes(range(37)))
    assert built == documented_test_vector()
    assert len(built) == frame.frame_bytes(37) == 73


def test_layout_sizes():
    assert frame.HEADER_BITS == 72
    assert frame.CODED_HEADER_BITS == 156
    assert frame.CODED_HEADER_PAD_BITS == 4
    assert frame.CODED_HEADER_BYTES == 20
    assert (frame.CODED_HEADER_START, frame.PILOT_START, frame.PAYLOAD_START) == (64, 224, 288)


def test_crc_check_value():
    assert frame.crc16_ccitt(b"123456789") == 0x29B1


def test_pilots_are_prbs7():
    # An m-sequence of period 127 has 64 ones and 63 zeros per period.
    period = frame.prbs7(254)
    np.testing.assert_array_equal(period[:127], period[127:])
    assert int(period[:127].sum()) == 64
    np.testing.assert_array_equal(frame.PILOT_BITS, period[:64])


def test_encoder_impulse_response_is_the_polynomials():
    # A single 1 bit shifts through the register, so output pair j contains bit j
    # of each polynomial. The flush bits add nothing more.
    coded = frame.convolutional_encode(np.array([1], np.uint8))
    assert coded.size == 2 * 7
    np.testing.assert_array_equal(coded[0::2], [(109 >> j) & 1 for j in range(7)])
    np.testing.assert_array_equal(coded[1::2], [(79 >> j) & 1 for j in range(7)])


def test_encoder_is_linear_and_terminated():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, (2, 72), dtype=np.uint8)
    np.testing.assert_array_equal(frame.convolutional_encode(a ^ b),
                                  frame.convolutional_encode(a) ^ frame.convolutional_encode(b))
    np.testing.assert_array_equal(frame.convolutional_encode(np.zeros(72, np.uint8)),
                                  np.zeros(156, np.uint8))


def test_encoder_rejects_packed_bytes():
    with pytest.raises(ValueError, match="unpacked"):
        frame.convolutional_encode(np.array([0, 2], np.uint8))


def test_coded_header_padding_is_zero():
    coded = frame.encode_header(frame.build_header(0xFFFFFFFF, 255, 65535))
    assert len(coded) == 20
    assert coded[-1] & 0x0F == 0


def test_split_round_trip():
    payload = bytes(range(37))
    header = frame.build_header(42, 3, 37)
    bits = np.unpackbits(np.frombuffer(frame.build_frame(42, 3, payload), np.uint8))
    fields = frame.split_frame(bits)
    np.testing.assert_array_equal(fields.access_code, frame.ACCESS_CODE_BITS)
    np.testing.assert_array_equal(fields.coded_header, frame.convolutional_encode(
        np.unpackbits(np.frombuffer(header, np.uint8))))
    np.testing.assert_array_equal(fields.pilots, frame.PILOT_BITS)
    assert np.packbits(fields.payload).tobytes() == payload


def test_split_keeps_soft_values():
    soft = np.linspace(-1.0, 1.0, 8 * frame.frame_bytes(2), dtype=np.float32)
    fields = frame.split_frame(soft)
    assert fields.coded_header.dtype == np.float32
    assert fields.coded_header.size == 156
    np.testing.assert_array_equal(fields.payload, soft[-16:])


def test_parse_header_round_trip():
    header = frame.parse_header(frame.build_header(42, 3, 37))
    assert header == frame.Header(seq=42, codec_id=3, payload_len=37)


@pytest.mark.parametrize("bit", range(72))
def test_any_header_bit_error_fails_crc(bit):
    bits = np.unpackbits(np.frombuffer(frame.build_header(42, 3, 37), np.uint8))
    bits[bit] ^= 1
    assert frame.parse_header(np.packbits(bits).tobytes()) is None


def test_parse_header_rejects_wrong_size():
    with pytest.raises(ValueError, match="9 bytes"):
        frame.parse_header(bytes(8))


@pytest.mark.parametrize("seq,codec,length", [(-1, 1, 1), (2**32, 1, 1), (0, 256, 1), (0, 1, 0)])
def test_header_rejects_out_of_range(seq, codec, length):
    with pytest.raises(ValueError):
        frame.build_header(seq, codec, length)


def test_assemble_rejects_wrong_coded_header():
    with pytest.raises(ValueError, match="20 bytes"):
        frame.assemble_frame(bytes(9), b"\x01")


def test_short_frame_rejected():
    with pytest.raises(ValueError, match="at least"):
        frame.split_frame(np.zeros(64, np.uint8))
