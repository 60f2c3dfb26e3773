# SPDX-License-Identifier: GPL-3.0-or-later
import gzip
import struct

import numpy as np
import pytest

from semanticnn import data


def test_fashion_mnist_splits():
    x, y = data.load_split("train")
    assert x.shape == (60000, 28, 28)
    assert x.dtype == np.uint8
    assert y.shape == (60000,)
    assert set(np.unique(y)) == set(range(10))
    xt, yt = data.load_split("test")
    assert xt.shape == (10000, 28, 28)
    assert np.bincount(yt).tolist() == [1000] * 10


def test_missing_files_name_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_split("test", tmp_path)


def test_bad_split_rejected():
    with pytest.raises(ValueError, match="split"):
        data.load_split("validation")


def test_truncated_idx_rejected(tmp_path):
    path = tmp_path / "t.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 10, 28, 28) + bytes(100))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(path)


def test_normalized_tensor():
    x = data.to_tensor(np.full((2, 28, 28), 255, np.uint8))
    assert tuple(x.shape) == (2, 1, 28, 28)
    assert float(x[0, 0, 0, 0]) == pytest.approx((1 - data.MEAN) / data.STD)
