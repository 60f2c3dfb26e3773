# SPDX-License-Identifier: GPL-3.0-or-later
"""The over-the-air frame: access code, convolutionally coded header, pilot block, payload.

``docs/FRAME.md`` is the specification; the constants here implement it. All
multi-byte fields are big-endian and every byte is sent most significant bit first.

The library holds the layout and a reference convolutional encoder for the
test vector. Decoding the header needs a Viterbi decoder: the GNU Radio
module uses gr-fec's ``cc_decoder`` for that.
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
HEADER_BYTES = HEADER_FIELDS.size + 2  # fields + CRC-16, before coding
HEADER_BITS = 8 * HEADER_BYTES

# The header's convolutional code, in gr-fec's cc_encoder notation: bit i of a
# polynomial taps the input bit delayed by i steps. 109 and 79 are 133 and 171
# octal in the usual notation, the K = 7 rate 1/2 code that gr-fec's cc_decoder
# decodes. The encoder starts in state 0 and is flushed back to 0 with
# K - 1 zero bits (gr-fec's CC_TERMINATED).
CC_K = 7
CC_POLYS = (109, 79)
CC_START_STATE = 0
CODED_HEADER_BITS = len(CC_POLYS) * (HEADER_BITS + CC_K - 1)  # 156
# Zero bits after the code bits that fill the last byte of the coded header.
CODED_HEADER_PAD_BITS = -CODED_HEADER_BITS % 8  # 4
CODED_HEADER_BYTES = (CODED_HEADER_BITS + CODED_HEADER_PAD_BITS) // 8  # 20

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

# Offsets in bits of the fields of a frame.
CODED_HEADER_START = len(ACCESS_CODE_BITS)
PILOT_START = CODED_HEADER_START + 8 * CODED_HEADER_BYTES
PAYLOAD_START = PILOT_START + N_PILOT_BITS


def frame_bytes(payload_bytes: int) -> int:
    """Return the size of a whole frame carrying ``payload_bytes`` of payload."""
    return PAYLOAD_START // 8 + payload_bytes


def build_header(seq: int, codec_id: int, payload_len: int) -> bytes:
    """Return the 9-byte header before coding: seq (32 bits), codec id (8), length (16), CRC-16."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must fit in 32 bits, got {seq}")
    if not 0 <= codec_id <= 255:
        raise ValueError(f"codec_id must fit in 8 bits, got {codec_id}")
    if not 1 <= payload_len <= MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload length must be 1..{MAX_PAYLOAD_BYTES} bytes, got {payload_len}")
    fields = HEADER_FIELDS.pack(seq, codec_id, payload_len)
    return fields + struct.pack(">H", crc16_ccitt(fields))


@dataclass(frozen=True)
class Header:
    """The fields of a header whose CRC passed."""

    seq: int
    codec_id: int
    payload_len: int


def parse_header(header: bytes) -> Header | None:
    """Return the fields of a decoded 9-byte header, or None when its CRC fails."""
    if len(header) != HEADER_BYTES:
        raise ValueError(f"a header has {HEADER_BYTES} bytes, got {len(header)}")
    fields, (crc,) = header[:-2], struct.unpack(">H", header[-2:])
    if crc16_ccitt(fields) != crc:
        return None
    return Header(*HEADER_FIELDS.unpack(fields))


def convolutional_encode(bits: np.ndarray) -> np.ndarray:
    """Encode bits with the header's code: K = 7, rate 1/2, start state 0, terminated.

    This is a reference implementation of gr-fec's ``cc_encoder`` in
    CC_TERMINATED mode with the polynomials ``CC_POLYS``. Each input bit enters
    the least significant end of a 7-bit shift register. Then each polynomial,
    in the order of ``CC_POLYS``, gives one output bit: the parity of the
    register ANDed with it. K - 1 zero bits after the input flush the register.
    Returns 2 * (len(bits) + 6) bits, without byte padding.
    """
    bits = np.asarray(bits, dtype=np.uint8)
    if np.any(bits > 1):
        raise ValueError("convolutional_encode takes unpacked bits (0 or 1)")
    register = CC_START_STATE
    mask = (1 << CC_K) - 1
    out = []
    for bit in np.concatenate([bits, np.zeros(CC_K - 1, np.uint8)]):
        register = ((register << 1) | int(bit)) & mask
        out.extend(bin(register & poly).count("1") & 1 for poly in CC_POLYS)
    return np.array(out, dtype=np.uint8)


def pad_coded_header(coded_bits: np.ndarray) -> bytes:
    """Pack the 156 code bits of a header, adding the zero padding, into 20 bytes."""
    coded_bits = np.asarray(coded_bits, dtype=np.uint8)
    if coded_bits.size != CODED_HEADER_BITS:
        raise ValueError(f"a coded header has {CODED_HEADER_BITS} bits, got {coded_bits.size}")
    return np.packbits(np.concatenate([coded_bits, np.zeros(CODED_HEADER_PAD_BITS, np.uint8)])).tobytes()


def encode_header(header: bytes) -> bytes:
    """Return the 20-byte coded header of a 9-byte header, with the reference encoder."""
    if len(header) != HEADER_BYTES:
        raise ValueError(f"a header has {HEADER_BYTES} bytes, got {len(header)}")
    return pad_coded_header(convolutional_encode(np.unpackbits(np.frombuffer(header, np.uint8))))


def assemble_frame(coded_header: bytes, payload: bytes) -> bytes:
    """Return the frame bytes from a 20-byte coded header and the payload."""
    if len(coded_header) != CODED_HEADER_BYTES:
        raise ValueError(f"a coded header has {CODED_HEADER_BYTES} bytes, got {len(coded_header)}")
    return ACCESS_CODE_BYTES + bytes(coded_header) + PILOT_BYTES + bytes(payload)


def build_frame(seq: int, codec_id: int, payload: bytes) -> bytes:
    """Return the frame bytes for one payload, with the header coded by the reference encoder."""
    header = build_header(seq, codec_id, len(payload))
    return assemble_frame(encode_header(header), payload)


@dataclass
class FrameFields:
    """One received frame cut into its fields, one value per bit.

    The values are hard bits (0/1) or soft values (positive means bit 1), as
    given to ``split_frame``. ``coded_header`` contains the 156 code bits of the
    header without the padding.
    """

    access_code: np.ndarray
    coded_header: np.ndarray
    pilots: np.ndarray
    payload: np.ndarray


def split_frame(values: np.ndarray) -> FrameFields:
    """Cut the per-bit values of one whole frame into access code, coded header, pilots, payload."""
    values = np.asarray(values)
    if values.size < PAYLOAD_START or values.size % 8:
        raise ValueError(f"a frame needs a whole number of bytes and at least {PAYLOAD_START} "
                         f"bits, got {values.size}")
    return FrameFields(
        access_code=values[:CODED_HEADER_START],
        coded_header=values[CODED_HEADER_START:CODED_HEADER_START + CODED_HEADER_BITS],
        pilots=values[PILOT_START:PAYLOAD_START],
        payload=values[PAYLOAD_START:],
    )
