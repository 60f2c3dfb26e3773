# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: the packaged model, the test split, and GRC's block path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VENV", REPO / ".venv"))
os.environ.setdefault("GRC_BLOCKS_PATH", str(VENV / "share" / "gnuradio" / "grc" / "blocks"))


@pytest.fixture(scope="session")
def model():
    from semanticnn.pipeline import SplitInference
    return SplitInference()


@pytest.fixture(scope="session")
def test_split() -> tuple[np.ndarray, np.ndarray]:
    from semanticnn import data
    images, labels = data.load_split("test")
    return images, labels.astype(int)
