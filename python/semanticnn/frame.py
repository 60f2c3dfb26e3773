# SPDX-License-Identifier: GPL-3.0-or-later
"""The over-the-air frame: access code, checked header, pilot block, payload.

``docs/FRAME.md`` is the specification; the constants here implement it. All
multi-byte fields are big-endian and every byte is sent most significant bit first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

# GNU Radio's default 64-bit access code (digital.packet_utils.default_access_code).
ACCESS_CODE = "1010110011011101101001001110001011110010100011000010000011111100"
ACCESS_CODE_BITS = np.array([int(b) for b in ACCESS_CODE], dtype=np.uint8)
ACCESS_CODE_BYTES = np.packbits(ACCESS_CODE_BITS).tobytes()

HEADER_FIELDS = struct.Struct(">IBH")  # seq, codec_id, payload length in bytes
HEADER_BYTES = HEADER_FIELDS.size + 2  # fields + CRC-16
N_PILOT_BITS = 64
MAX_SEQ = 2**32 - 1
MAX_PAYLOAD_BYTES = 2**16 - 1


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def prbs7(n: int, state: int = 0x7F) -> np.ndarray:
    """Return ``n`` bits of the PRBS-7 sequence x^7 + x^6 + 1 from a 7-bit seed."""
    out = np.empty(n, dtype=np.uint8)
    for i in range(n):
        bit = ((state >> 6) ^ (state >> 5)) & 1
        out[i] = bit
        state = ((state << 1) | bit) & 0x7F
    return out


PILOT_BITS = prbs7(N_PILOT_BITS)
PILOT_BYTES = np.packbits(PILOT_BITS).tobytes()


def frame_bytes(payload_bytes: int) -> int:
    """Return the size of a whole frame carrying ``payload_bytes`` of payload."""
    return len(ACCESS_CODE_BYTES) + HEADER_BYTES + len(PILOT_BYTES) + payload_bytes


def build_header(seq: int, codec_id: int, payload_len: int) -> bytes:
    """Return the 9-byte header: seq (32 bits), codec id (8), length (16), CRC-16."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must fit in 32 bits, got {seq}")
    if not 0 <= codec_id <= 255:
        raise ValueError(f"codec_id must fit in 8 bits, got {codec_id}")
    if not 1 <= payload_len <= MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload length must be 1..{MAX_PAYLOAD_BYTES} bytes, got {payload_len}")
    fields = HEADER_FIELDS.pack(seq, codec_id, payload_len)
    return fields + struct.pack(">H", crc16_ccitt(fields))


def build_frame(seq: int, codec_id: int, payload: bytes) -> bytes:
    """Return the frame bytes for one payload."""
    return ACCESS_CODE_BYTES + build_header(seq, codec_id, len(payload)) + PILOT_BYTES + bytes(payload)


@dataclass
class ParsedFrame:
    """What the receiver recovers from the hard bits of one frame.

    ``header_ok`` is False when the CRC fails; the other header fields are then
    untrustworthy and set to None. ``payload`` holds the bytes after the pilots
    as received, errors included.
    """

    access_code_errors: int
    header_ok: bool
    seq: int | None
    codec_id: int | None
    payload_len: int | None
    pilot_bits: np.ndarray
    payload: bytes


def parse_frame(bits: np.ndarray) -> ParsedFrame:
    """Split the hard bits (0/1) of one whole frame into its fields and check the header."""
    bits = np.asarray(bits, dtype=np.uint8)
    n_ac = len(ACCESS_CODE_BITS)
    n_hdr = 8 * HEADER_BYTES
    start_payload = n_ac + n_hdr + N_PILOT_BITS
    if bits.size < start_payload or bits.size % 8:
        raise ValueError(f"a frame needs a whole number of bytes and at least {start_payload} "
                         f"bits, got {bits.size}")
    ac_errors = int(np.count_nonzero(bits[:n_ac] != ACCESS_CODE_BITS))
    header = np.packbits(bits[n_ac:n_ac + n_hdr]).tobytes()
    pilots = bits[n_ac + n_hdr:start_payload].copy()
    payload = np.packbits(bits[start_payload:]).tobytes()
    fields, (crc,) = header[:-2], struct.unpack(">H", header[-2:])
    if crc16_ccitt(fields) != crc:
        return ParsedFrame(ac_errors, False, None, None, None, pilots, payload)
    seq, codec_id, length = HEADER_FIELDS.unpack(fields)
    return ParsedFrame(ac_errors, True, seq, codec_id, length, pilots, payload)
