# SPDX-License-Identifier: GPL-3.0-or-later
"""Fashion-MNIST from the gzipped IDX files of Debian's ``dataset-fashion-mnist``."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
# Pixel statistics of the 60,000 training images (uint8 scaled to [0, 1]).
MEAN = 0.2860
STD = 0.3530

_FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}
_IDX_DTYPES = {0x08: np.uint8}


def data_dir() -> Path:
    """Return the dataset folder: ``$SEMANTICNN_DATA_DIR`` or Debian's path."""
    return Path(os.environ.get("SEMANTICNN_DATA_DIR", DEFAULT_DIR))


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unsupported IDX element type 0x{type_code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[type_code], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} elements for shape "
                         f"{dims}, found {data.size} (truncated file?)")
    return data.reshape(dims)


def load_split(split: str, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)`` of one split as uint8 arrays (N, 28, 28) and (N,)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else data_dir()
    paths = [root / _FILES[(split, kind)] for kind in ("images", "labels")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST file(s) not found: {', '.join(missing)}. Install the Debian "
            "package with 'apt-get install dataset-fashion-mnist', or point "
            "SEMANTICNN_DATA_DIR at a folder holding the four IDX files.")
    images, labels = (read_idx(p) for p in paths)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{root}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """Convert uint8 images (N, 28, 28) to normalized float32 tensors (N, 1, 28, 28)."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255.0)
    return x.sub_(MEAN).div_(STD).unsqueeze(1)


def load_tensors(split: str, root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return normalized images (N, 1, 28, 28) and int64 labels (N,) of one split."""
    images, labels = load_split(split, root)
    return to_tensor(images), torch.from_numpy(labels.astype(np.int64))
