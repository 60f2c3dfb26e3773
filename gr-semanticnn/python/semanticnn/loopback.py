# SPDX-License-Identifier: GPL-3.0-or-later
"""The loopbacks (symbol mode and burst mode) as parametrized top blocks."""

from __future__ import annotations

import logging
import time

from gnuradio import gr

from .accuracy_sink import accuracy_sink
from .ber_estimator import ber_estimator
from .burst import burst_channel, burst_modulator, burst_receiver
from .deframer import deframer
from .framer import framer
from .image_source import image_source
from .semantic_decoder import semantic_decoder
from .semantic_encoder import semantic_encoder
from .symbol_channel import symbol_channel

log = logging.getLogger(__name__)


class loopback_symbol(gr.top_block):
    """Images to encoder, framer, symbol-mode channel, deframer, BER estimator, decoder, sink.

    Args:
        n_images: number of test images to send.
        esn0_db: Es/N0 per complex symbol in dB; None for no noise.
        checkpoint: checkpoint file; empty for the packaged weights.
        seed: seed of the channel noise.
        filename: per-image CSV written by the accuracy sink; empty for none.
        start_index: first test image.
        window: maximum images in flight between source and sink.
        drain_timeout: seconds the sink waits for missing results.
        max_batch: most images the encoder, and bursts the decoder, process together.
        max_wait: most seconds an item waits for its encoder or decoder batch to fill.
        modulation: ``bpsk`` or ``qpsk`` in the symbol-mode channel.
        fading: ``none``, ``rayleigh_block`` or ``rician_block``.
        rician_k: Rician K factor (linear) of ``rician_block``.
    """

    def __init__(self, n_images: int = 1000, esn0_db: float | None = None, checkpoint: str = "",
                 seed: int = 0, filename: str = "", start_index: int = 0, window: int = 64,
                 drain_timeout: float = 5.0, max_batch: int = 16, max_wait: float = 0.005,
                 modulation: str = "bpsk", fading: str = "none", rician_k: float = 4.0) -> None:
        gr.top_block.__init__(self, "SemanticNN symbol-mode loopback")
        self._build_ends(n_images, checkpoint, filename, start_index, window, drain_timeout,
                         max_batch, max_wait)
        self.channel = symbol_channel(esn0_db, seed, modulation, fading, rician_k)
        self.msg_connect(self.framer, "out", self.channel, "in")
        self.msg_connect(self.channel, "out", self.deframer, "in")

    def _build_ends(self, n_images: int, checkpoint: str, filename: str, start_index: int,
                    window: int, drain_timeout: float, max_batch: int, max_wait: float) -> None:
        """Build and connect what both modes share: device side up to the framer, edge side
        from the deframer on. The caller connects framer ``out`` to deframer ``in``."""
        self.source = image_source(n_images, start_index, "test", window)
        self.encoder = semantic_encoder(checkpoint, max_batch=max_batch, max_wait=max_wait)
        self.framer = framer(self.encoder.codec_id)
        self.deframer = deframer(self.encoder.model.payload_bytes)
        self.ber_estimator = ber_estimator()
        self.decoder = semantic_decoder(checkpoint, max_batch=max_batch, max_wait=max_wait)
        self.sink = accuracy_sink(filename, drain_timeout)

        self.msg_connect(self.source, "out", self.encoder, "in")
        self.msg_connect(self.source, "labels", self.sink, "labels")
        self.msg_connect(self.encoder, "out", self.framer, "in")
        self.msg_connect(self.encoder, "sent", self.sink, "sent")
        self.msg_connect(self.deframer, "out", self.ber_estimator, "in")
        self.msg_connect(self.ber_estimator, "out", self.decoder, "in")
        self.msg_connect(self.decoder, "out", self.sink, "pred")
        self.msg_connect(self.sink, "status", self.source, "status")

    def _blocks(self) -> tuple:
        return (("encoder", self.encoder), ("framer", self.framer), ("deframer", self.deframer),
                ("ber_estimator", self.ber_estimator), ("decoder", self.decoder),
                ("accuracy_sink", self.sink))

    def summary(self) -> dict:
        """Return the sink's counts plus the dropped-input counts of every block."""
        s = self.sink.summary()
        s["drops"] = {name: blk.drop_counts() for name, blk in self._blocks() if blk.drop_counts()}
        s["deframer"] = self.deframer.stats()
        s["encode_seconds"] = self.encoder.encode_seconds
        s["decode_seconds"] = self.decoder.decode_seconds
        s["decoder_batches"] = self.decoder.batches
        return s


class loopback_burst(loopback_symbol):
    """Images to encoder, framer, burst modulator, simulated channel, burst receiver, ... sink.

    The burst-mode counterpart of ``loopback_symbol``: pulse-shaped bursts at
    random places in a continuous noisy stream, found and synchronized by the
    same receiver that runs over the air. The parameters of
    ``loopback_symbol`` apply, except that ``fading`` may also be ``rayleigh``,
    ``rician`` or ``selective`` (continuous, Doppler ``fdts`` per sample),
    plus:

    Args:
        sps: samples per symbol.
        cfo: carrier frequency offset as a fraction of the symbol rate (cycles per symbol).
        epsilon: sample clock ratio of ``channels.channel_model``.
        fdts: Doppler of the continuous fading, per sample.
        min_gap: minimum number of zero samples between bursts.
        max_gap: maximum number of zero samples between bursts.
        false_alarm: the receiver's false-alarm probability per sample.
    """

    def __init__(self, n_images: int = 1000, esn0_db: float | None = None, checkpoint: str = "",
                 seed: int = 0, filename: str = "", start_index: int = 0, window: int = 64,
                 drain_timeout: float = 5.0, max_batch: int = 16, max_wait: float = 0.005,
                 modulation: str = "bpsk", fading: str = "none", rician_k: float = 4.0,
                 sps: int = 4, cfo: float = 0.0, epsilon: float = 1.0,
                 fdts: float = 1e-4, min_gap: int = 256, max_gap: int = 1024,
                 false_alarm: float = 1e-7) -> None:
        gr.top_block.__init__(self, "SemanticNN burst-mode loopback")
        self._build_ends(n_images, checkpoint, filename, start_index, window, drain_timeout,
                         max_batch, max_wait)
        self.modulator = burst_modulator(modulation, sps)
        self.channel = burst_channel(esn0_db, modulation, sps, freq_offset=cfo / sps,
                                     epsilon=epsilon, fading=fading, fdts=fdts,
                                     rician_k=rician_k, seed=seed, min_gap=min_gap,
                                     max_gap=max_gap)
        self.receiver = burst_receiver(modulation, sps, false_alarm=false_alarm)
        self.msg_connect(self.framer, "out", self.modulator, "in")
        self.msg_connect(self.modulator, "out", self.channel, "in")
        self.connect(self.channel, self.receiver)
        self.msg_connect(self.receiver, "out", self.deframer, "in")

    def _blocks(self) -> tuple:
        return super()._blocks() + (("modulator", self.modulator),)

    def summary(self) -> dict:
        s = super().summary()
        s["receiver"] = self.receiver.stats()
        s["bursts_sent"] = len(self.channel.bursts)
        return s


def _run(tb: loopback_symbol, timeout: float) -> dict:
    start = time.monotonic()
    tb.start()
    finished = tb.sink.wait_finished(timeout)
    if not finished:
        tb.stop()
        tb.wait()
        raise TimeoutError(f"loopback did not account for all images within {timeout} s "
                           f"({tb.sink.summary()['scored']} scored)")
    tb.wait()
    summary = tb.summary()
    summary["seconds"] = time.monotonic() - start
    return summary


def run_burst_loopback(timeout: float = 600.0, **kwargs) -> dict:
    """Run one burst-mode loopback to completion and return its summary.

    Raises TimeoutError if the sink has not accounted for every image within
    ``timeout`` seconds.
    """
    return _run(loopback_burst(**kwargs), timeout)


def run_symbol_loopback(timeout: float = 600.0, **kwargs) -> dict:
    """Run one symbol-mode loopback to completion and return its summary.

    Raises TimeoutError if the sink has not accounted for every image within
    ``timeout`` seconds.
    """
    return _run(loopback_symbol(**kwargs), timeout)
