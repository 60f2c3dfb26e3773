# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pytest
import torch

from semanticnn import bits


@pytest.mark.parametrize("labelling", ["natural", "gray"])
@pytest.mark.parametrize("levels", [2, 4, 8, 16])
def test_pack_round_trip(labelling, levels):
    rng = np.random.default_rng(levels)
    k = int(np.log2(levels))
    table = bits.label_table(levels, labelling)
    inverse = bits.inverse_table(table)
    idx = rng.integers(0, levels, size=(5, 98))
    b = bits.indices_to_bits(idx, k, table)
    assert b.shape == (5, 98 * k)
    payloads = [bits.pack(row) for row in b]
    assert all(len(p) == (98 * k + 7) // 8 for p in payloads)
    back = np.stack([bits.unpack(p, 98 * k) for p in payloads])
    np.testing.assert_array_equal(bits.bits_to_indices(back, k, inverse), idx)


@pytest.mark.parametrize("levels", [2, 4, 8, 16])
def test_gray_neighbours_differ_in_one_bit(levels):
    table = bits.gray_table(levels)
    for i in range(levels - 1):
        assert bin(int(table[i] ^ table[i + 1])).count("1") == 1
    assert sorted(table.tolist()) == list(range(levels))


def test_natural_labels_msb_first():
    b = bits.indices_to_bits(np.array([[5, 2]]), 3, bits.label_table(8, "natural"))
    assert b.tolist() == [[1, 0, 1, 0, 1, 0]]
    assert bits.pack(b[0]) == bytes([0b10101000])


def test_unknown_labelling_rejected():
    with pytest.raises(ValueError, match="labelling"):
        bits.label_table(8, "johnson")


def test_apply_flips_follows_transmission_order():
    labels = torch.tensor([[0, 7]])
    flips = torch.tensor([[True, False, False, False, False, True]])
    assert bits.apply_flips(labels, flips, 3).tolist() == [[4, 6]]


def test_apply_flips_rejects_wrong_mask_shape():
    with pytest.raises(ValueError, match="flip mask"):
        bits.apply_flips(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 8, dtype=torch.bool), 3)
