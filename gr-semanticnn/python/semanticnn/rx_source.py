# SPDX-License-Identifier: GPL-3.0-or-later
"""Received samples for the edge side: a USRP, or a SigMF recording in its place."""

from __future__ import annotations

from gnuradio import gr

from .sigmf_io import sigmf_source


class rx_source(gr.hier_block2):
    """Complex samples from a USRP, or from a SigMF recording when ``input_file`` is set.

    One flowgraph then serves the air and a replay, and only the source that
    is used is built: a USRP Source needs a radio to be built, and a SigMF
    Source needs a file. A recording is replayed at its own
    ``core:sample_rate`` (``realtime``), like a radio, followed by
    ``tail_seconds`` of zeros so that the flowgraph ends only after the
    message blocks have handled the last burst. With a recording the radio
    parameters are not used, and the setters do nothing.

    Args:
        input_file: SigMF recording (base path, meta or data file), or empty for the USRP.
        device_addr: UHD device address, such as ``type=b200``, or empty for the first found.
        samp_rate: USRP sample rate in samples per second.
        center_freq: USRP carrier frequency in Hz.
        gain: USRP receive gain in dB.
        antenna: USRP antenna port, or empty for UHD's default.
        realtime: replay the recording at its sample rate.
        tail_seconds: zeros after the recording, in seconds at its sample rate.
    """

    def __init__(self, input_file: str = "", device_addr: str = "", samp_rate: float = 1e6,
                 center_freq: float = 915e6, gain: float = 30.0, antenna: str = "",
                 realtime: bool = True, tail_seconds: float = 1.0) -> None:
        gr.hier_block2.__init__(self, "semanticnn_rx_source", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.log = gr.logger("semanticnn_rx_source")
        self.recording: sigmf_source | None = None
        self.usrp = None
        if input_file:
            self.recording = sigmf_source(input_file, realtime=realtime,
                                          tail_seconds=tail_seconds)
            self.log.info(f"replaying {self.recording.data_path}: "
                             f"{self.recording.n_samples()} samples at "
                             f"{self.recording.sample_rate} S/s, link {self.recording.link}")
            self.connect(self.recording, self)
            return
        if not samp_rate > 0:
            raise ValueError(f"samp_rate must be positive samples per second, got {samp_rate}")
        # Imported here, so that replaying a recording works without gr-uhd.
        from gnuradio import uhd

        # NOTE: this branch has not been run against a radio in the tests.
        self.usrp = uhd.usrp_source(device_addr, uhd.stream_args(cpu_format="fc32",
                                                                 channels=[0]))
        self.usrp.set_samp_rate(samp_rate)
        actual_rate = self.usrp.get_samp_rate()
        if abs(actual_rate - samp_rate) > 1e-6 * samp_rate:
            self.log.warn(f"the USRP runs at {actual_rate} S/s, not the requested "
                             f"{samp_rate} S/s")
        self.usrp.set_center_freq(uhd.tune_request(center_freq), 0)
        self.usrp.set_gain(gain, 0)
        if antenna:
            self.usrp.set_antenna(antenna, 0)
        self.connect(self.usrp, self)

    def set_center_freq(self, center_freq: float) -> None:
        if self.usrp is not None:
            from gnuradio import uhd

            self.usrp.set_center_freq(uhd.tune_request(center_freq), 0)

    def set_gain(self, gain: float) -> None:
        if self.usrp is not None:
            self.usrp.set_gain(gain, 0)
