# SPDX-License-Identifier: GPL-3.0-or-later
import csv
import threading

import pmt
from gnuradio import blocks, gr
from gnuradio.semanticnn import accuracy_sink

from grutil import pdu


def label(seq, lab, n):
    return pdu({"seq": seq, "label": lab, "n_images": n}, b"")


def pred(seq, p, payload=b"", erased=False, reason=None, ber_est=0.01):
    m = {"pred": p, "ber_est": ber_est}
    if seq is not None:
        m["seq"] = seq
    if erased:
        m["erased"] = True
        m["reason"] = reason
    return pdu(m, payload)


def run_sink(sink, inputs, timeout=20.0):
    tb = gr.top_block()
    status = blocks.message_debug()
    tb.msg_connect(sink, "status", status, "store")
    tb.start()
    for port, msg in inputs:
        sink._post(pmt.intern(port), msg)
    assert sink.wait_finished(timeout), f"sink did not finish: {sink.summary()}"
    done = threading.Event()
    threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True).start()
    assert done.wait(timeout), "flowgraph did not stop after the sink finished"
    return [pmt.to_python(status.get_message(i)) for i in range(status.num_messages())]


def test_scores_every_image_and_writes_csv(tmp_path):
    path = tmp_path / "images.csv"
    sink = accuracy_sink(str(path), drain_timeout=30.0)
    sent = bytes([0b1111_0000, 0x00])
    inputs = [("labels", label(s, lab, 4)) for s, lab in enumerate([3, 1, 4, 1])]
    inputs += [("sent", pdu({"seq": 0}, sent)), ("sent", pdu({"seq": 1}, sent))]
    inputs += [
        ("pred", pred(0, 3, sent)),                                      # right, no errors
        ("pred", pred(1, 2, bytes([0b1111_0011, 0x80]))),                 # wrong, 3 bit errors
        ("pred", pred(2, 4, erased=True, reason="length mismatch")),     # keyed erasure, right
        ("pred", pred(None, 1, erased=True, reason="header CRC", ber_est=0.5)),  # unkeyed
    ]
    statuses = run_sink(sink, inputs)
    s = sink.summary()
    assert (s["images"], s["scored"], s["correct"], s["erased"], s["lost"]) == (4, 4, 3, 2, 0)
    assert (s["bit_errors"], s["bits"]) == (3, 32)
    assert s["erasure_reasons"] == {"length mismatch": 1, "header CRC": 1}
    assert statuses[-1] == {"accounted": 4, "done": True}
    rows = list(csv.DictReader(path.open()))
    assert sorted(int(r["seq"]) for r in rows) == [0, 1, 2, 3]
    by_seq = {int(r["seq"]): r for r in rows}
    assert by_seq[1]["bit_errors"] == "3"
    # Seq 3's burst lost its header: scored with the prediction from no payload (class 1).
    assert by_seq[3]["erased"] == "1"
    assert by_seq[3]["pred"] == "1"
    assert by_seq[3]["correct"] == "1"


def test_waits_for_sent_payload_until_drain_timeout():
    sink = accuracy_sink("", drain_timeout=0.5)
    run_sink(sink, [("labels", label(0, 5, 1)), ("pred", pred(0, 5, b"\x01"))])
    s = sink.summary()
    assert (s["scored"], s["correct"], s["bits"]) == (1, 1, 0)


def test_drain_timeout_accounts_for_missing_images():
    sink = accuracy_sink("", drain_timeout=0.3)
    inputs = [("labels", label(0, 5, 2)), ("labels", label(1, 6, 2)), ("pred", pred(0, 5))]
    run_sink(sink, inputs)
    s = sink.summary()
    assert (s["scored"], s["correct"], s["erased"], s["lost"]) == (2, 1, 1, 1)


def test_bad_input_counted():
    sink = accuracy_sink("", drain_timeout=30.0)
    inputs = [("labels", label(0, 5, 1)), ("pred", pmt.intern("junk")),
              ("pred", pdu({"seq": 0}, b"")), ("labels", pdu({}, b"")),
              ("sent", pdu({"seq": 0}, b"\x0f")), ("pred", pred(0, 5, b"\x0f"))]
    run_sink(sink, inputs)
    assert sink.summary()["correct"] == 1
    assert sink.summary()["bits"] == 8
    assert sink.drop_counts() == {"wrong PMT type": 1, "missing pred": 1, "bad label": 1}


def test_unwritable_csv_path_fails_at_construction(tmp_path):
    import pytest

    missing = tmp_path / "no such folder" / "images.csv"
    with pytest.raises(ValueError, match="create its folder"):
        accuracy_sink(str(missing))
