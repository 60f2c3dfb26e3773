# SPDX-License-Identifier: GPL-3.0-or-later
"""Burst mode: pulse-shaped transmitter, simulated channel and synchronizing receiver."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np
import pmt
from gnuradio import analog, blocks, channels, filter as grfilter, gr, pdu

from semanticnn import frame

from . import burst_dsp as dsp
from .header_fec import make_header_decoder, viterbi_input
from .pdu_utils import KEY_BURST_ID, PORT_IN, PORT_OUT, DropCounter, make_pdu, meta_get
from .symbol_channel import FADINGS as BLOCK_FADINGS
from .symbol_channel import MODULATIONS, constellation_points, draw_block_gain

PORT_CODED_HEADER = pmt.intern("coded_header")
PORT_HEADER = pmt.intern("header")
KEY_TX_TIME = pmt.intern("tx_time")

CHANNEL_FADINGS = BLOCK_FADINGS + ("rayleigh", "rician", "selective")


def check_link(modulation: str, sps: int, rolloff: float, span: int) -> None:
    """Raise ValueError naming the first burst-link parameter out of range."""
    if modulation not in MODULATIONS:
        raise ValueError(f"modulation must be one of {MODULATIONS}, got {modulation!r}")
    if sps < 3:
        raise ValueError(f"burst mode needs at least 3 samples per symbol, got sps={sps}")
    if not 0.0 < rolloff <= 1.0:
        raise ValueError(f"rolloff must be in (0, 1], got {rolloff}")
    if span < 2:
        raise ValueError(f"the RRC span must be at least 2 symbols, got {span}")


def burst_noise_amplitude(esn0_db: float | None, sps: int, signal_power: float) -> float:
    """Return the ``noise_source_c`` amplitude for Es/N0 in dB per complex symbol.

    Es is the measured signal power per sample over the burst samples times
    the samples per symbol; the noise's complex power per sample is N0. None
    or +inf means no noise.
    """
    if esn0_db is None or (math.isinf(esn0_db) and esn0_db > 0):
        return 0.0
    if math.isnan(esn0_db):
        raise ValueError("esn0_db is NaN; give a number in dB, or None for no noise")
    return math.sqrt(signal_power * sps * 10.0 ** (-esn0_db / 10.0))


class burst_modulator(gr.basic_block):
    """Turn a frame (u8vector PDU) into one pulse-shaped burst (c32vector PDU).

    Symbols at unit average energy (GNU Radio's BPSK or Gray QPSK
    constellation, normalized), RRC pulses over ``span`` symbols with taps of
    unit energy, raised-cosine ramps of ``ramp_symbols`` at both ends, then
    ``pre_padding`` and ``post_padding`` zero symbols for the radio. The burst
    is scaled by ``amplitude``. The output metadata carries only ``tx_time``
    if the input had it: nothing else goes over the air.
    """

    def __init__(self, modulation: str = "bpsk", sps: int = dsp.DEFAULT_SPS,
                 rolloff: float = dsp.DEFAULT_ROLLOFF, span: int = dsp.DEFAULT_SPAN,
                 ramp_symbols: int = 1, pre_padding: int = 8, post_padding: int = 8,
                 amplitude: float = 1.0) -> None:
        gr.basic_block.__init__(self, name="semanticnn_burst_modulator", in_sig=None, out_sig=None)
        check_link(modulation, sps, rolloff, span)
        if ramp_symbols < 0 or pre_padding < 0 or post_padding < 0:
            raise ValueError(f"ramp and padding must be non-negative symbol counts, got "
                             f"{ramp_symbols}, {pre_padding}, {post_padding}")
        if not amplitude > 0:
            raise ValueError(f"amplitude must be positive, got {amplitude}")
        self.points = constellation_points(modulation)
        self.taps = dsp.rrc_taps(sps, rolloff, span)
        self.sps = sps
        self.ramp = ramp_symbols * sps
        self.pre = np.zeros(pre_padding * sps, dtype=np.complex64)
        self.post = np.zeros(post_padding * sps, dtype=np.complex64)
        self.amplitude = amplitude
        self.drops = DropCounter(self.logger)
        self.bursts = 0
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def drop_counts(self) -> dict[str, int]:
        return self.drops.counts()

    def _handle(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
            self.drops.drop("wrong PMT type", None, "expected a PDU with a u8vector frame")
            return
        data = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
        if not data:
            self.drops.drop("empty frame", None, "a burst needs at least one byte")
            return
        burst = dsp.modulate(data, self.points, self.taps, self.sps, self.ramp, self.amplitude)
        burst = np.concatenate([self.pre, burst, self.post])
        meta = {}
        in_meta = pmt.car(msg)
        if pmt.is_dict(in_meta) and pmt.dict_has_key(in_meta, KEY_TX_TIME):
            meta["tx_time"] = pmt.dict_ref(in_meta, KEY_TX_TIME, pmt.PMT_NIL)
        self.bursts += 1
        self.message_port_pub(PORT_OUT, make_pdu(meta, burst))


class burst_transmitter(gr.hier_block2):
    """Frames in (message ``in``), pulse-shaped bursts out as a complex stream.

    A ``burst_modulator`` followed by ``pdu.pdu_to_stream_c``, which marks
    each burst's first and last sample with ``tx_sob`` and ``tx_eob`` for a
    USRP sink and sends nothing between bursts. A burst that arrives while
    another is still being written is appended to it (EARLY_BURST_APPEND):
    the radio then sends both in one transmission, each with its own zero
    padding, between one ``tx_sob`` and one ``tx_eob``. See ``burst_modulator`` for
    the parameters; ``max_queue`` is the number of bursts queued for the stream.
    """

    def __init__(self, modulation: str = "bpsk", sps: int = dsp.DEFAULT_SPS,
                 rolloff: float = dsp.DEFAULT_ROLLOFF, span: int = dsp.DEFAULT_SPAN,
                 ramp_symbols: int = 1, pre_padding: int = 8, post_padding: int = 8,
                 amplitude: float = 1.0, max_queue: int = 64) -> None:
        gr.hier_block2.__init__(self, "semanticnn_burst_transmitter", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.message_port_register_hier_in("in")
        self.modulator = burst_modulator(modulation, sps, rolloff, span, ramp_symbols,
                                         pre_padding, post_padding, amplitude)
        self.to_stream = pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, max_queue)
        self.msg_connect(self, "in", self.modulator, "in")
        self.msg_connect(self.modulator, "out", self.to_stream, "pdus")
        self.connect(self.to_stream, self)

    def drop_counts(self) -> dict[str, int]:
        return self.modulator.drop_counts()


class burst_gap(gr.basic_block):
    """Simulation: apply one block-fading gain per burst and append a random run of zeros.

    The zeros (``min_gap`` to ``max_gap`` samples, uniform) make the bursts
    sit at unpredictable places in a continuous stream once noise is added.
    ``bursts`` records each burst's first sample in that stream, its length
    and its gain, which the experiments use to count missed and false detections.
    """

    def __init__(self, min_gap: int = 256, max_gap: int = 1024, fading: str = "none",
                 rician_k: float = 4.0, seed: int = 0) -> None:
        gr.basic_block.__init__(self, name="semanticnn_burst_gap", in_sig=None, out_sig=None)
        if not 0 <= min_gap <= max_gap:
            raise ValueError(f"need 0 <= min_gap <= max_gap, got {min_gap}, {max_gap}")
        if fading not in BLOCK_FADINGS:
            raise ValueError(f"block fading must be one of {BLOCK_FADINGS}, got {fading!r}")
        self.min_gap, self.max_gap = min_gap, max_gap
        self.fading, self.rician_k = fading, rician_k
        self.rng = np.random.default_rng(seed)
        self.position = 0
        self.bursts: list[tuple[int, int, complex]] = []
        self.message_port_register_in(PORT_IN)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_IN, self._handle)

    def _handle(self, msg: pmt.pmt_base) -> None:
        if not pmt.is_pair(msg) or not pmt.is_c32vector(pmt.cdr(msg)):
            self.logger.warn("dropped a PDU that is not a c32vector burst")
            return
        burst = np.asarray(pmt.c32vector_elements(pmt.cdr(msg)), dtype=np.complex64)
        gain = draw_block_gain(self.rng, self.fading, self.rician_k)
        gap = int(self.rng.integers(self.min_gap, self.max_gap + 1))
        out = np.concatenate([burst * np.complex64(gain), np.zeros(gap, np.complex64)])
        self.bursts.append((self.position, burst.size, gain))
        self.position += out.size
        self.message_port_pub(PORT_OUT, make_pdu({}, out.astype(np.complex64)))


class burst_channel(gr.hier_block2):
    """Simulated radio channel for bursts: message in, complex stream out.

    Each burst PDU gets its block-fading gain and a random run of zeros
    (``burst_gap``) and becomes a stream (``pdu.pdu_to_stream_c``). The
    stream goes through continuous fading if chosen (``channels.fading_model``
    for ``rayleigh`` and ``rician``, ``channels.selective_fading_model`` for
    ``selective``, Doppler ``fdts`` per sample). Then ``channels.channel_model``
    applies the carrier frequency offset (cycles per sample) and the sample
    clock ratio ``epsilon``, with its own noise at zero. Last, AWGN from
    ``analog.noise_source_c`` is added over the whole stream, gaps included.

    ``max_queue`` bursts can wait for the stream; ``pdu_to_stream_c`` drops
    (and logs) any beyond that, so it is larger than the bursts in flight.

    Es/N0 is per complex symbol: Es is ``signal_power`` (the transmitter's
    power per sample over its bursts) times ``sps``, and the complex noise
    power per sample is N0. With ``signal_power`` 0 the power is measured on
    a long random burst of the same link at amplitude 1, the modulator's
    default; give the power explicitly for another amplitude.
    """

    def __init__(self, esn0_db: float | None = 10.0, modulation: str = "bpsk",
                 sps: int = dsp.DEFAULT_SPS, rolloff: float = dsp.DEFAULT_ROLLOFF,
                 span: int = dsp.DEFAULT_SPAN, freq_offset: float = 0.0, epsilon: float = 1.0,
                 fading: str = "none", fdts: float = 1e-4, rician_k: float = 4.0,
                 delays: tuple = (0.0, 1.5, 3.2), mags: tuple = (1.0, 0.5, 0.25),
                 seed: int = 0, min_gap: int = 256, max_gap: int = 1024,
                 signal_power: float = 0.0, max_queue: int = 4096) -> None:
        gr.hier_block2.__init__(self, "semanticnn_burst_channel", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        check_link(modulation, sps, rolloff, span)
        if fading not in CHANNEL_FADINGS:
            raise ValueError(f"fading must be one of {CHANNEL_FADINGS}, got {fading!r}")
        self.sps = sps
        self.signal_power = signal_power or dsp.burst_power(modulation, sps, rolloff, span)
        self.message_port_register_hier_in("in")
        self.gap = burst_gap(min_gap, max_gap, fading if fading in BLOCK_FADINGS else "none",
                             rician_k, seed)
        self.to_stream = pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, max_queue)
        chain = [self.to_stream]
        if fading in ("rayleigh", "rician"):
            chain.append(channels.fading_model(8, fdts, fading == "rician", rician_k, seed))
        elif fading == "selective":
            mags_arr = np.asarray(mags, dtype=float)
            mags_arr = mags_arr / np.sqrt(np.sum(mags_arr ** 2))
            chain.append(channels.selective_fading_model(8, fdts, False, rician_k, seed,
                                                         list(map(float, delays)),
                                                         mags_arr.tolist(), 8))
        self.model = channels.channel_model(0.0, freq_offset, epsilon, [1.0 + 0j], seed, False)
        chain.append(self.model)
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN,
                                           burst_noise_amplitude(esn0_db, sps, self.signal_power),
                                           seed + 1)
        self.add = blocks.add_cc()
        self.msg_connect(self, "in", self.gap, "in")
        self.msg_connect(self.gap, "out", self.to_stream, "pdus")
        self.connect(*chain, (self.add, 0))
        self.connect(self.noise, (self.add, 1))
        self.connect(self.add, self)

    @property
    def bursts(self) -> list[tuple[int, int, complex]]:
        return self.gap.bursts

    def set_esn0_db(self, esn0_db: float | None) -> None:
        self.noise.set_amplitude(burst_noise_amplitude(esn0_db, self.sps, self.signal_power))

    def set_freq_offset(self, freq_offset: float) -> None:
        self.model.set_frequency_offset(freq_offset)


class burst_sync(gr.sync_block):
    """Find, synchronize and demodulate bursts in the matched filter's output stream.

    Stream input: matched-filter output at ``sps`` samples per symbol. For
    each detected burst the coded header's soft values leave on
    ``coded_header`` (with ``burst_id``) and come back decoded on ``header``.
    A header that passed its CRC gives the payload length, and the whole
    frame leaves ``out`` once the stream contains all of it, as one soft value per bit
    (the deframer's input), with the burst's measurements in the metadata. A
    header that fails its CRC leaves ``out`` as an erasure event. Detections
    inside a frame whose header passed are dropped.
    """

    def __init__(self, modulation: str = "bpsk", sps: int = dsp.DEFAULT_SPS,
                 false_alarm: float = dsp.DEFAULT_FALSE_ALARM, filter_delay: int = 0) -> None:
        gr.sync_block.__init__(self, name="semanticnn_burst_sync", in_sig=[np.complex64],
                               out_sig=None)
        self.sync = dsp.BurstSync(modulation, sps, false_alarm)
        self.filter_delay = filter_delay
        self._pending: OrderedDict[int, dsp.Detection] = OrderedDict()
        self._busy_until = 0.0
        self._lock = threading.Lock()
        self.counts = {"detections": 0, "frames": 0, "header_failures": 0,
                       "inside_frame": 0, "unfinished_at_stop": 0}
        self.drops = DropCounter(self.logger)
        self.message_port_register_in(PORT_HEADER)
        self.message_port_register_out(PORT_CODED_HEADER)
        self.message_port_register_out(PORT_OUT)
        self.set_msg_handler(PORT_HEADER, self._handle_header)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts, rejected_access_code=self.sync.rejected)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def work(self, input_items, output_items):
        samples = input_items[0]
        for det in self.sync.feed(samples, self._busy_until):
            self._count("detections")
            self._pending[det.burst_id] = det
            self.message_port_pub(PORT_CODED_HEADER, make_pdu(
                {"burst_id": det.burst_id}, viterbi_input(det.header_soft)))
        self._complete()
        return len(samples)

    def _sample_index(self, det: dsp.Detection) -> float:
        return det.t0 - self.filter_delay

    def _handle_header(self, msg: pmt.pmt_base) -> None:
        burst_id = meta_get(pmt.car(msg), KEY_BURST_ID)
        det = self._pending.get(burst_id)
        if det is None:
            return  # dropped meanwhile as a detection inside a frame
        bits = np.asarray(pmt.u8vector_elements(pmt.cdr(msg)), dtype=np.uint8)
        header = None
        if bits.size == frame.HEADER_BITS:
            header = frame.parse_header(np.packbits(bits).tobytes())
        if header is None:
            del self._pending[burst_id]
            self._count("header_failures")
            self.message_port_pub(PORT_OUT, make_pdu(
                {"erased": True, "reason": "header CRC", "sample_index": self._sample_index(det),
                 "snr_est_db": 10 * math.log10(max(det.gain_noise.snr, 1e-12))}, b""))
            return
        det.payload_bytes = header.payload_len
        det.info["seq"] = header.seq
        end = self.sync.frame_end(det)
        self._busy_until = max(self._busy_until, end - 4 * self.sync.sps)
        for other_id, other in list(self._pending.items()):
            if other_id > burst_id and other.t0 < self._busy_until:
                self.logger.debug(f"burst {other_id} at {other.t0:.1f} lies inside burst "
                                  f"{burst_id} at {det.t0:.1f}, ending at {end:.1f}")
                del self._pending[other_id]
                self._count("inside_frame")
        self._complete()

    def _complete(self) -> None:
        while self._pending:
            burst_id, det = next(iter(self._pending.items()))
            if det.payload_bytes is None or self.sync.frame_end(det) > self.sync.buf_end:
                break
            del self._pending[burst_id]
            soft, info = self.sync.finish(det)
            info["sample_index"] = self._sample_index(det)
            self._count("frames")
            self.message_port_pub(PORT_OUT, make_pdu(info, soft))
        keep = min((d.t0 for d in self._pending.values()), default=math.inf)
        self.sync.trim(int(keep) - 8 * self.sync.sps if math.isfinite(keep) else self.sync.scan)

    def stop(self) -> bool:
        with self._lock:
            self.counts["unfinished_at_stop"] += len(self._pending)
        if self._pending:
            self.logger.warn(f"{len(self._pending)} bursts were still being received at stop")
        return super().stop()


class burst_receiver(gr.hier_block2):
    """Synchronizing burst receiver: complex samples in, received frames out as messages.

    The same receiver serves simulation, recordings and a USRP. An RRC
    matched filter (``filter.fir_filter_ccf``) feeds ``burst_sync``. It
    detects each burst by its access code and corrects the carrier frequency
    before any coherent step. Then it recovers symbol timing and carrier
    phase and estimates gain and noise from the known symbols. gr-fec's
    Viterbi decoder decodes the header. Output ``out``: each frame as one soft value
    per bit (Re(y) at unit symbol amplitude; positive means bit 1), for the
    ``deframer``, with metadata ``snr_est_db``, ``noise_var`` (complex noise
    variance at unit symbol energy), ``llr_scale`` (LLR = scale times soft
    value), ``ber_snr`` (the theory BER at the SNR estimate), ``cfo_est``
    (cycles per symbol), ``timing_drift`` (samples over the payload),
    ``sample_index`` (the access code's first symbol in the input stream)
    and ``sync_metric``; or an erasure event for a header that failed.

    Args:
        modulation: ``bpsk`` or ``qpsk``, as at the transmitter.
        sps: samples per symbol, at least 3.
        rolloff: RRC roll-off factor, as at the transmitter.
        span: RRC length in symbols, as at the transmitter.
        false_alarm: probability per sample that noise alone passes the
            detection threshold.
    """

    def __init__(self, modulation: str = "bpsk", sps: int = dsp.DEFAULT_SPS,
                 rolloff: float = dsp.DEFAULT_ROLLOFF, span: int = dsp.DEFAULT_SPAN,
                 false_alarm: float = dsp.DEFAULT_FALSE_ALARM) -> None:
        gr.hier_block2.__init__(self, "semanticnn_burst_receiver",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        check_link(modulation, sps, rolloff, span)
        if not 0.0 < false_alarm < 1.0:
            raise ValueError(f"false_alarm must be a probability in (0, 1), got {false_alarm}")
        self.message_port_register_hier_out("out")
        taps = dsp.rrc_taps(sps, rolloff, span)
        self.matched_filter = grfilter.fir_filter_ccf(1, taps.tolist())
        # The burst's first sample reaches its first symbol's peak after the
        # transmit and receive filters: len(taps) - 1 samples.
        self.sync = burst_sync(modulation, sps, false_alarm, filter_delay=taps.size - 1)
        self.header_decoder = make_header_decoder()
        self.connect(self, self.matched_filter, self.sync)
        self.msg_connect(self.sync, "coded_header", self.header_decoder, "in")
        self.msg_connect(self.header_decoder, "out", self.sync, "header")
        self.msg_connect(self.sync, "out", self, "out")

    def stats(self) -> dict[str, int]:
        return self.sync.stats()
