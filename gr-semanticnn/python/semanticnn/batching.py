# SPDX-License-Identifier: GPL-3.0-or-later
"""Collect PDUs into batches for one PyTorch call, with a size and a time limit."""

from __future__ import annotations

import threading
import time
from typing import Callable


class BatchQueue:
    """Hand items to ``process`` in batches, in arrival order.

    A batch is processed when ``max_batch`` items wait, or ``max_wait``
    seconds after the first of them arrived, whichever comes first. Batches
    are processed one at a time under a lock, so outputs keep the input order.

    Args:
        max_batch: maximum items per batch. With 1, each item is processed as it arrives.
        max_wait: maximum seconds an item waits for its batch to fill.
        process: called with the list of items of one batch.
    """

    def __init__(self, max_batch: int, max_wait: float, process: Callable[[list], None]) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be non-negative seconds, got {max_wait}")
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._process = process
        self._pending: list = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.batches = 0
        # Wall-clock seconds spent in ``process``, for throughput profiles.
        self.seconds = 0.0

    def put(self, item) -> None:
        """Queue one item; process the batch now if it is full."""
        with self._lock:
            self._pending.append(item)
            full = len(self._pending) >= self.max_batch
            if not full and self._timer is None:
                self._timer = threading.Timer(self.max_wait, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Process every waiting item as one batch."""
        with self._lock:
            batch, self._pending = self._pending, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not batch:
                return
            start = time.perf_counter()
            self._process(batch)
            self.seconds += time.perf_counter() - start
            self.batches += 1
