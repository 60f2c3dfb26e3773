# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-burst BER estimate from the received pilot bits and the receiver's SNR estimate."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from semanticnn import ber_estimator as est
from semanticnn import frame

from .pdu_utils import (KEY_BER_EST, KEY_BER_SNR, KEY_ERASED, KEY_N_PILOT_BITS, KEY_PILOT_BITS,
                        KEY_PILOT_ERRORS, PORT_IN, PORT_OUT, DropCounter, meta_get, meta_seq)

# The decoder's BER input for a burst with no usable pilots.
ERASED_BER_EST = 0.5


class ber_estimator(gr.basic_block):
    """Add ``ber_est`` to each deframed PDU from its pilot bits and SNR estimate.

    With k of n pilot bits wrong and ``ber_snr`` in the metadata (the AWGN
    theory BER at the receiver's SNR estimate) the estimate is
    (k + w ber_snr) / (n + w) with w = 256; without ``ber_snr`` (hard bits
    from elsewhere) it is the pilots' (k + 0.5) / (n + 1). Neither is ever
    exactly zero. The PDU keeps its payload and metadata; ``pilot_bits`` is
    replaced by ``pilot_errors`` and ``n_pilot_bits``. Erasure events pass
    through with ``ber_est`` 0.5.
    """

    def __init__(self) -> None:
        gr.basic_block.__init__(self, name="semanticnn_ber_estimator", in_sig=None, out_sig=None)
        self.drops = DropCounter(self.logger)
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    def _handle(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_dict(pmt.car(msg)):
            self.drops.drop("wrong PMT type", None, "expected a PDU with a metadata dict")
            return
        meta = pmt.car(msg)
        if pmt.to_bool(pmt.dict_ref(meta, KEY_ERASED, pmt.PMT_F)):
            meta = pmt.dict_add(meta, KEY_BER_EST, pmt.from_double(ERASED_BER_EST))
            self.message_port_pub(PORT_OUT, pmt.cons(meta, pmt.cdr(msg)))
            return
        pilots = pmt.dict_ref(meta, KEY_PILOT_BITS, pmt.PMT_NIL)
        if not pmt.is_u8vector(pilots):
            self.drops.drop("missing pilot_bits", meta_seq(meta),
                            "metadata needs 'pilot_bits' as a u8vector of hard bits")
            return
        received = np.asarray(pmt.u8vector_elements(pilots), dtype=np.uint8)
        if received.size != frame.N_PILOT_BITS:
            self.drops.drop("wrong pilot length", meta_seq(meta),
                            f"{received.size} pilot bits, the frame has {frame.N_PILOT_BITS}")
            return
        errors = est.count_pilot_errors(received, frame.PILOT_BITS)
        meta = pmt.dict_delete(meta, KEY_PILOT_BITS)
        meta = pmt.dict_add(meta, KEY_PILOT_ERRORS, pmt.from_long(errors))
        meta = pmt.dict_add(meta, KEY_N_PILOT_BITS, pmt.from_long(frame.N_PILOT_BITS))
        ber_snr = meta_get(meta, KEY_BER_SNR)
        if isinstance(ber_snr, float) and 0.0 <= ber_snr <= 1.0:
            ber_est = est.combined_ber_estimate(errors, frame.N_PILOT_BITS, ber_snr)
        else:
            ber_est = est.pilot_ber_estimate(errors, frame.N_PILOT_BITS)
        meta = pmt.dict_add(meta, KEY_BER_EST, pmt.from_double(float(ber_est)))
        self.message_port_pub(PORT_OUT, pmt.cons(meta, pmt.cdr(msg)))
