# SPDX-License-Identifier: GPL-3.0-or-later
"""Bit labels of centre indices and packing of index streams into bytes.

Symbols are packed in C, H, W raster order; each symbol contributes
``bits_per_symbol`` bits, most significant bit first, and the bit stream fills
bytes most significant bit first. The last byte is padded with zero bits.
"""

from __future__ import annotations

import numpy as np
import torch


def gray_table(levels: int) -> np.ndarray:
    """Return the binary-reflected Gray label of each index: ``i ^ (i >> 1)``."""
    i = np.arange(levels, dtype=np.int64)
    return i ^ (i >> 1)


def label_table(levels: int, labelling: str) -> np.ndarray:
    """Return the bit label of each centre index for ``natural`` or ``gray`` labelling."""
    if labelling == "natural":
        return np.arange(levels, dtype=np.int64)
    if labelling == "gray":
        return gray_table(levels)
    raise ValueError(f"labelling must be 'natural' or 'gray', got {labelling!r}")


def inverse_table(table: np.ndarray) -> np.ndarray:
    """Return the index of each label, the inverse permutation of ``table``."""
    inv = np.empty_like(table)
    inv[table] = np.arange(len(table))
    return inv


def indices_to_bits(indices: np.ndarray, bits_per_symbol: int, table: np.ndarray) -> np.ndarray:
    """Map indices (..., N) to their labels' bits (..., N * bits_per_symbol), MSB first."""
    labels = table[np.asarray(indices, dtype=np.int64)]
    shifts = np.arange(bits_per_symbol - 1, -1, -1)
    bits = (labels[..., None] >> shifts) & 1
    return bits.reshape(*labels.shape[:-1], -1).astype(np.uint8)


def bits_to_indices(bits: np.ndarray, bits_per_symbol: int, inverse: np.ndarray) -> np.ndarray:
    """Map bits (..., N * bits_per_symbol) back to centre indices (..., N)."""
    bits = np.asarray(bits, dtype=np.int64)
    grouped = bits.reshape(*bits.shape[:-1], -1, bits_per_symbol)
    weights = 1 << np.arange(bits_per_symbol - 1, -1, -1)
    return inverse[(grouped * weights).sum(-1)]


def pack(bits: np.ndarray) -> bytes:
    """Pack a 1-D 0/1 array into bytes, MSB first, zero-padding the last byte."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def unpack(data: bytes | np.ndarray, nbits: int | None = None) -> np.ndarray:
    """Unpack bytes into a 0/1 uint8 array, MSB first, keeping the first ``nbits``."""
    bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
    return bits if nbits is None else bits[:nbits]


def apply_flips(labels: torch.Tensor, flips: torch.Tensor, bits_per_symbol: int) -> torch.Tensor:
    """Flip the bits of integer labels (B, N) where the bool mask (B, N * bits_per_symbol) is set.

    The mask is in transmission order: symbol by symbol, most significant bit first.
    """
    b, n = labels.shape
    if flips.shape != (b, n * bits_per_symbol):
        raise ValueError(f"flip mask must have shape ({b}, {n * bits_per_symbol}), "
                         f"got {tuple(flips.shape)}")
    weights = 1 << torch.arange(bits_per_symbol - 1, -1, -1, device=labels.device)
    mask = (flips.view(b, n, bits_per_symbol).long() * weights).sum(-1)
    return labels ^ mask
