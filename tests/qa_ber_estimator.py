# SPDX-License-Identifier: GPL-3.0-or-later
import numpy as np
import pmt
import pytest
from gnuradio.semanticnn import ber_estimator

from grutil import meta, pdu, run_block, u8
from semanticnn import frame


def pilots_with_errors(k):
    bits = frame.PILOT_BITS.copy()
    bits[:k] ^= 1
    return pmt.init_u8vector(bits.size, bits)


@pytest.mark.parametrize("k", [0, 1, 7, 64])
def test_estimate_from_pilot_errors(k):
    out = run_block(ber_estimator(), [("in", pdu({"seq": 4, "pilot_bits": pilots_with_errors(k)},
                                                 b"\x01\x02"))], ["out"])["out"]
    m = meta(out[0])
    assert m["ber_est"] == pytest.approx((k + 0.5) / 65)
    assert m["pilot_errors"] == k
    assert m["n_pilot_bits"] == 64
    assert "pilot_bits" not in m
    assert m["seq"] == 4
    assert u8(out[0]) == b"\x01\x02"


def test_erasure_passes_with_half():
    out = run_block(ber_estimator(), [("in", pdu({"erased": True, "reason": "header CRC"}, b""))],
                    ["out"])["out"]
    assert meta(out[0])["ber_est"] == 0.5


def test_bad_input_dropped_and_flowgraph_runs_on():
    blk = ber_estimator()
    short = pmt.init_u8vector(10, np.zeros(10, np.uint8))
    inputs = [("in", pmt.intern("junk")), ("in", pdu({"seq": 1}, b"\x00")),
              ("in", pdu({"seq": 2, "pilot_bits": short}, b"\x00")),
              ("in", pdu({"seq": 3, "pilot_bits": pilots_with_errors(2)}, b"\x00"))]
    out = run_block(blk, inputs, ["out"])["out"]
    assert [meta(m)["seq"] for m in out] == [3]
    assert blk.drop_counts() == {"wrong PMT type": 1, "missing pilot_bits": 1,
                                 "wrong pilot length": 1}
