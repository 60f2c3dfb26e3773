# SPDX-License-Identifier: GPL-3.0-or-later
"""The header's convolutional code through gr-fec, and its failure rate on the symbol mode."""

import math
import time

import numpy as np
import pmt
from gnuradio import blocks, gr
from gnuradio.semanticnn import deframer, framer, symbol_channel
from gnuradio.semanticnn.header_fec import (make_header_decoder, make_header_encoder,
                                            viterbi_input)

from grutil import meta, pdu, pdu_list_source, run_hier
from semanticnn import frame


def header_bit_vectors() -> np.ndarray:
    rng = np.random.default_rng(11)
    impulses = np.eye(72, dtype=np.uint8)[[0, 1, 35, 70, 71]]
    edge_cases = np.array([np.zeros(72), np.ones(72)], dtype=np.uint8)
    return np.concatenate([edge_cases, impulses, rng.integers(0, 2, (200, 72), dtype=np.uint8)])


def test_reference_encoder_matches_gr_fec():
    vectors = header_bit_vectors()
    out = run_hier(make_header_encoder(), [pdu({"burst_id": i}, v) for i, v in enumerate(vectors)],
                   len(vectors))
    for i, (bits, msg) in enumerate(zip(vectors, out)):
        assert meta(msg)["burst_id"] == i
        coded = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        np.testing.assert_array_equal(coded, frame.convolutional_encode(bits), err_msg=f"vector {i}")


def test_decoder_inverts_reference_encoder():
    vectors = header_bit_vectors()
    soft = [viterbi_input(2.0 * frame.convolutional_encode(v) - 1.0) for v in vectors]
    out = run_hier(make_header_decoder(), [pdu({"burst_id": i}, s) for i, s in enumerate(soft)],
                   len(vectors))
    for i, (bits, msg) in enumerate(zip(vectors, out)):
        assert meta(msg)["burst_id"] == i
        decoded = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        np.testing.assert_array_equal(decoded, bits, err_msg=f"vector {i}")


def test_large_soft_values_do_not_wrap():
    # async_decoder converts soft values to int8 without saturation, so values far
    # beyond +-1 would flip sign unless viterbi_input clips them.
    bits = header_bit_vectors()[10]
    soft = viterbi_input(40.0 * (2.0 * frame.convolutional_encode(bits) - 1.0))
    out = run_hier(make_header_decoder(), [pdu({"burst_id": 0}, soft)], 1)
    np.testing.assert_array_equal(np.asarray(pmt.u8vector_elements(pmt.cdr(out[0]))), bits)


def test_header_failures_below_one_percent_at_ber_5e2():
    n_bursts = 2000
    # BPSK has a BER of 5e-2 where 0.5 erfc(sqrt(Es/N0)) = 0.05: Es/N0 = 1.3122 dB.
    esn0_db = 1.3122
    rng = np.random.default_rng(21)
    payloads = [pdu({"seq": seq}, rng.integers(0, 256, 37, dtype=np.uint8))
                for seq in range(n_bursts)]
    tb = gr.top_block()
    feeder = pdu_list_source(payloads)
    framer_block, channel, deframer_block = framer(1), symbol_channel(esn0_db, seed=21), deframer(37)
    sink = blocks.message_debug()
    tb.msg_connect(feeder, "out", framer_block, "in")
    tb.msg_connect(framer_block, "out", channel, "in")
    tb.msg_connect(channel, "out", deframer_block, "in")
    tb.msg_connect(deframer_block, "out", sink, "store")
    tb.start()
    deadline = time.monotonic() + 60
    while sink.num_messages() < n_bursts and time.monotonic() < deadline:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    outputs = [meta(sink.get_message(i)) for i in range(sink.num_messages())]
    stats = deframer_block.stats()

    assert len(outputs) == n_bursts
    raw_ber = stats["known_bit_errors"] / stats["known_bits"]
    assert math.isclose(raw_ber, 0.05, rel_tol=0.1), raw_ber
    failures = sum(m.get("reason") == "header CRC" for m in outputs)
    assert failures < 0.01 * n_bursts, failures
    decoded = [m["seq"] for m in outputs if not m.get("erased")]
    assert len(decoded) + failures == n_bursts
    assert decoded == sorted(set(decoded))
    assert set(decoded) <= set(range(n_bursts))
