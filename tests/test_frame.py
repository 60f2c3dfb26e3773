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
    assert len(built) == frame.frame_bytes(37) == 62


def test_crc_check_value():
    assert frame.crc16_ccitt(b"123456789") == 0x29B1


def test_pilots_are_prbs7():
    # An m-sequence of period 127 has 64 ones and 63 zeros per period.
    period = frame.prbs7(254)
    np.testing.assert_array_equal(period[:127], period[127:])
    assert int(period[:127].sum()) == 64
    np.testing.assert_array_equal(frame.PILOT_BITS, period[:64])


def test_parse_round_trip():
    payload = bytes(range(37))
    bits = np.unpackbits(np.frombuffer(frame.build_frame(42, 3, payload), np.uint8))
    parsed = frame.parse_frame(bits)
    assert parsed.header_ok
    assert (parsed.seq, parsed.codec_id, parsed.payload_len) == (42, 3, 37)
    assert parsed.payload == payload
    assert parsed.access_code_errors == 0
    np.testing.assert_array_equal(parsed.pilot_bits, frame.PILOT_BITS)


@pytest.mark.parametrize("bit", range(64, 64 + 72))
def test_any_header_bit_error_fails_crc(bit):
    bits = np.unpackbits(np.frombuffer(frame.build_frame(42, 3, bytes(37)), np.uint8))
    bits[bit] ^= 1
    parsed = frame.parse_frame(bits)
    assert not parsed.header_ok
    assert parsed.seq is None


def test_payload_errors_kept():
    bits = np.unpackbits(np.frombuffer(frame.build_frame(1, 1, bytes(37)), np.uint8))
    bits[-1] ^= 1
    bits[0] ^= 1
    parsed = frame.parse_frame(bits)
    assert parsed.header_ok
    assert parsed.access_code_errors == 1
    assert parsed.payload == bytes(36) + b"\x01"


@pytest.mark.parametrize("seq,codec,length", [(-1, 1, 1), (2**32, 1, 1), (0, 256, 1), (0, 1, 0)])
def test_header_rejects_out_of_range(seq, codec, length):
    with pytest.raises(ValueError):
        frame.build_header(seq, codec, length)


def test_short_frame_rejected():
    with pytest.raises(ValueError, match="at least"):
        frame.parse_frame(np.zeros(64, np.uint8))
