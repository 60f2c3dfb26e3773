# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-semanticnn: GNU Radio message blocks for semantic offloading over a radio link."""

from .accuracy_sink import accuracy_sink
from .ber_estimator import ber_estimator
from .burst import burst_channel, burst_modulator, burst_receiver, burst_transmitter
from .deframer import deframer
from .framer import framer
from .image_source import image_source
from .loopback import loopback_burst, loopback_symbol, run_burst_loopback, run_symbol_loopback
from .rx_source import rx_source
from .semantic_decoder import semantic_decoder
from .semantic_encoder import semantic_encoder
from .sigmf_io import sigmf_sink, sigmf_source
from .symbol_channel import constellation_points, esn0_to_noise_amplitude, symbol_channel

__all__ = [
    "accuracy_sink", "ber_estimator", "burst_channel", "burst_modulator", "burst_receiver",
    "burst_transmitter", "constellation_points", "deframer",
    "esn0_to_noise_amplitude", "framer",
    "image_source", "loopback_burst", "loopback_symbol", "run_burst_loopback",
    "run_symbol_loopback", "rx_source", "semantic_decoder",
    "semantic_encoder", "sigmf_sink", "sigmf_source", "symbol_channel",
]
