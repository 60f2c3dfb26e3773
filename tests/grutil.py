# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one message block in a real flowgraph and collect what it publishes."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import blocks, gr
from gnuradio.semanticnn.pdu_utils import pdu_list_source

DONE = pmt.cons(pmt.intern("done"), pmt.from_long(1))


def run_block(block, inputs: list[tuple[str, pmt.pmt_base]], outputs: list[str],
              timeout: float = 60.0) -> dict[str, list]:
    """Post ``inputs`` (port, message) to ``block``, then ``done``; return each output's messages."""
    tb = gr.top_block()
    sinks = {}
    for port in outputs:
        sinks[port] = blocks.message_debug()
        tb.msg_connect(block, port, sinks[port], "store")
    tb.start()
    for port, msg in inputs:
        block._post(pmt.intern(port), msg)
    block._post(pmt.intern("system"), DONE)
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: (tb.wait(), finished.set()), daemon=True)
    waiter.start()
    if not finished.wait(timeout):
        tb.stop()
        raise TimeoutError(f"flowgraph did not finish within {timeout} s")
    return {port: [s.get_message(i) for i in range(s.num_messages())] for port, s in sinks.items()}


def pdu(meta: dict, vector) -> pmt.pmt_base:
    """Build a PDU from a metadata dict and a bytes, uint8 or float32 vector."""
    from gnuradio.semanticnn.pdu_utils import make_pdu
    return make_pdu(meta, vector)


def meta(msg) -> dict:
    return pmt.to_python(pmt.car(msg)) or {}


def u8(msg) -> bytes:
    return bytes(pmt.u8vector_elements(pmt.cdr(msg)))


def f32(msg) -> np.ndarray:
    return np.asarray(pmt.f32vector_elements(pmt.cdr(msg)), dtype=np.float32)


def run_hier(block, messages: list, n_expected: int, timeout: float = 60.0) -> list:
    """Feed PDUs through a message-in, message-out hier block; return the first n outputs."""
    import time

    tb = gr.top_block()
    feeder = pdu_list_source(messages)
    sink = blocks.message_debug()
    tb.msg_connect(feeder, "out", block, "in")
    tb.msg_connect(block, "out", sink, "store")
    tb.start()
    deadline = time.monotonic() + timeout
    while sink.num_messages() < n_expected and time.monotonic() < deadline:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    if sink.num_messages() < n_expected:
        raise TimeoutError(f"{sink.num_messages()} of {n_expected} PDUs after {timeout} s")
    return [sink.get_message(i) for i in range(n_expected)]
