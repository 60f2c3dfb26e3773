# SPDX-License-Identifier: GPL-3.0-or-later
"""Record the burst stream to a SigMF recording and replay it, with the link parameters."""

from __future__ import annotations

import json
import os
import sys

from gnuradio import blocks, gr

from . import burst_dsp as dsp
from .burst import check_link

# The rest of gr-semanticnn works without the sigmf package, so a missing one
# is reported when a SigMF block is built.
try:
    import jsonschema
    import sigmf
    from sigmf import SigMFFile, sigmffile
    from sigmf.error import SigMFError
except ImportError as exc:
    _SIGMF_IMPORT_ERROR: ImportError | None = exc
else:
    _SIGMF_IMPORT_ERROR = None

# GNU Radio streams gr_complex items (two float32 in host byte order), and
# blocks.file_sink writes them unchanged.
DATATYPE = "cf32_le"
META_EXT = ".sigmf-meta"
DATA_EXT = ".sigmf-data"

# The product's SigMF extension namespace: the link parameters that the
# receiver needs, under "semanticnn:<name>" in the global object.
NAMESPACE = "semanticnn"
NAMESPACE_VERSION = "1.0.0"
LINK_KEYS = ("modulation", "sps", "rolloff", "span")


def _check_platform() -> None:
    if _SIGMF_IMPORT_ERROR is not None:
        raise ImportError(f"the SigMF blocks need the sigmf package ({_SIGMF_IMPORT_ERROR}). "
                          f"Install it with: pip install SigMF==1.2.1")
    if sys.byteorder != "little":
        raise RuntimeError(f"this host is {sys.byteorder}-endian, so GNU Radio's complex "
                           f"samples are not {DATATYPE}. SigMF recording and replay support "
                           f"little-endian hosts only")


def sigmf_paths(path: str | os.PathLike) -> tuple[str, str]:
    """Return ``(meta file, data file)`` for a recording's base path.

    A trailing ``.sigmf-meta`` or ``.sigmf-data`` is removed first, so either
    file's name works as well as the base path.
    """
    base = os.fspath(path)
    for ext in (META_EXT, DATA_EXT):
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    if not base:
        raise ValueError("the SigMF path is empty. Give the recording's base path, "
                         "such as /tmp/capture")
    return base + META_EXT, base + DATA_EXT


class sigmf_sink(gr.hier_block2):
    """Record a complex stream as a SigMF recording (``cf32_le``), with the link parameters.

    The samples go to ``<path>.sigmf-data`` through ``blocks.file_sink``,
    unbuffered, so the data file contains every sample that the flowgraph has
    passed to the sink. ``<path>.sigmf-meta`` is validated with the
    ``sigmf`` package and written when the block is built, so it exists
    before the first sample and after the flowgraph ends. It contains
    ``core:datatype``, ``core:sample_rate``, one capture with
    ``core:frequency``, and the link parameters as ``semanticnn:modulation``,
    ``semanticnn:sps``, ``semanticnn:rolloff`` and ``semanticnn:span``, with
    the ``semanticnn`` extension declared in ``core:extensions``. An existing
    recording at ``path`` is overwritten.

    Call ``write_checksum()`` after the flowgraph has stopped to add the data
    file's ``core:sha512``, which ``sigmf_source`` then verifies.

    Args:
        path: base path of the recording, to which ``.sigmf-meta`` and ``.sigmf-data`` are appended.
        samp_rate: sample rate in samples per second.
        center_freq: carrier frequency of the capture in Hz.
        modulation: ``bpsk`` or ``qpsk``, as at the transmitter.
        sps: samples per symbol, as at the transmitter.
        rolloff: RRC roll-off factor, as at the transmitter.
        span: RRC length in symbols, as at the transmitter.
        description: ``core:description``, or empty for none.
        author: ``core:author``, or empty for none.
        hw: ``core:hw``, the radio and antenna, or empty for none.
    """

    def __init__(self, path: str, samp_rate: float, center_freq: float = 0.0,
                 modulation: str = "bpsk", sps: int = dsp.DEFAULT_SPS,
                 rolloff: float = dsp.DEFAULT_ROLLOFF, span: int = dsp.DEFAULT_SPAN,
                 description: str = "", author: str = "", hw: str = "") -> None:
        gr.hier_block2.__init__(self, "semanticnn_sigmf_sink",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0))
        _check_platform()
        check_link(modulation, sps, rolloff, span)
        if not samp_rate > 0:
            raise ValueError(f"samp_rate must be positive samples per second, got {samp_rate}")
        self.meta_path, self.data_path = sigmf_paths(path)
        self.sample_rate = float(samp_rate)
        self.center_freq = float(center_freq)
        self.link = {"modulation": modulation, "sps": int(sps), "rolloff": float(rolloff),
                     "span": int(span)}

        global_info = {
            SigMFFile.DATATYPE_KEY: DATATYPE,
            SigMFFile.SAMPLE_RATE_KEY: self.sample_rate,
            SigMFFile.VERSION_KEY: sigmf.__specification__,
            SigMFFile.NUM_CHANNELS_KEY: 1,
            SigMFFile.RECORDER_KEY: f"GNU Radio {gr.version()}, gr-semanticnn sigmf_sink",
            # optional: True means that a reader can use the samples without
            # knowing the semanticnn namespace.
            SigMFFile.EXTENSIONS_KEY: [{"name": NAMESPACE, "version": NAMESPACE_VERSION,
                                        "optional": True}],
        }
        for key, value in ((SigMFFile.DESCRIPTION_KEY, description),
                           (SigMFFile.AUTHOR_KEY, author), (SigMFFile.HW_KEY, hw)):
            if value:
                global_info[key] = str(value)
        for key, value in self.link.items():
            global_info[f"{NAMESPACE}:{key}"] = value
        self.metadata = SigMFFile(global_info=global_info)
        self.metadata.add_capture(0, {SigMFFile.FREQUENCY_KEY: self.center_freq})
        # Written before the file sink opens the data file, so that a bad
        # folder fails here with the meta file's name.
        self._write_meta()

        self.file_sink = blocks.file_sink(gr.sizeof_gr_complex, self.data_path, False)
        self.file_sink.set_unbuffered(True)
        self.connect(self, self.file_sink)

    def _write_meta(self) -> None:
        self.metadata.validate()
        tmp_path = self.meta_path + ".tmp"
        # Written to a temporary file and renamed, so that a reader never sees a
        # half-written meta file.
        try:
            with open(tmp_path, "w") as fp:
                self.metadata.dump(fp, pretty=True)
                fp.write("\n")
            os.replace(tmp_path, self.meta_path)
        except OSError as exc:
            raise ValueError(f"cannot write the SigMF meta file {self.meta_path!r}: "
                             f"{exc.strerror}. Create its folder or choose another path") from exc

    def samples_written(self) -> int:
        """Return the number of complex samples in the data file so far."""
        try:
            return os.path.getsize(self.data_path) // gr.sizeof_gr_complex
        except FileNotFoundError:
            return 0

    def write_checksum(self) -> str:
        """Add the data file's ``core:sha512`` to the meta file and return it.

        Call it after the flowgraph has stopped, because a hash of a file
        that is still growing does not match the finished recording.
        """
        # SigMFFile.calculate_hash raises when an older hash in the metadata differs.
        self.metadata.get_global_info().pop(SigMFFile.HASH_KEY, None)
        self.metadata.set_data_file(self.data_path)
        self._write_meta()
        return self.metadata.get_global_field(SigMFFile.HASH_KEY)


class sigmf_source(gr.hier_block2):
    """Replay a SigMF recording of ``cf32_le`` samples as a complex stream.

    The meta file is read and validated with the ``sigmf`` package, and the
    data file's ``core:sha512`` is checked when the meta file has one and
    ``verify_checksum`` is set. The samples come from ``blocks.file_source``.

    GNU Radio 3.10.5 ends a flowgraph when a finite stream ends, without
    waiting for messages still in flight, so the bursts received last can be
    lost when the recording ends the flowgraph. ``tail_seconds`` of zero
    samples after the recording, with ``realtime`` set, give the message
    blocks that much wall-clock time to finish.

    Attributes from the meta file, None where it lacks the field:
        sample_rate: ``core:sample_rate`` in samples per second.
        center_freq: the first capture's ``core:frequency`` in Hz.
        modulation, sps, rolloff, span: the ``semanticnn:`` link parameters.
        link: the link parameters as a dict.
        description: ``core:description``.
        metadata: the ``sigmf.SigMFFile``.

    Raises:
        FileNotFoundError: the meta file or its data file does not exist.
        ValueError: the meta file is not valid SigMF, the checksum does not
            match, or the data file is empty. Also raised when the recording
            is not one channel of ``cf32_le`` samples without header or
            trailing bytes, and when ``realtime`` or ``tail_seconds`` is set
            for a recording without ``core:sample_rate``.

    Args:
        path: base path of the recording, or the name of its meta or data file.
        repeat: restart at the first sample after the last one, forever.
        realtime: limit the output to ``core:sample_rate`` with ``blocks.throttle``.
        tail_seconds: zero samples appended after the recording, in seconds at
            ``core:sample_rate``. Ignored with ``repeat``.
        verify_checksum: read the whole data file to check ``core:sha512``, if present.
    """

    def __init__(self, path: str, repeat: bool = False, realtime: bool = False,
                 tail_seconds: float = 0.0, verify_checksum: bool = True) -> None:
        gr.hier_block2.__init__(self, "semanticnn_sigmf_source", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        _check_platform()
        if not tail_seconds >= 0:
            raise ValueError(f"tail_seconds must be zero or positive, got {tail_seconds}")
        self.meta_path, _ = sigmf_paths(path)
        self.metadata = _read_meta(self.meta_path, verify_checksum)
        self.data_path = self.metadata.data_file
        _check_layout(self.metadata, self.meta_path)
        if self.n_samples() == 0:
            # blocks.file_source raises a bare RuntimeError for an empty file.
            raise ValueError(f"the data file {self.data_path!r} of SigMF recording "
                             f"{self.meta_path!r} contains no samples")

        self.sample_rate = self.metadata.get_global_field(SigMFFile.SAMPLE_RATE_KEY)
        captures = self.metadata.get_captures()
        self.center_freq = captures[0].get(SigMFFile.FREQUENCY_KEY) if captures else None
        self.description = self.metadata.get_global_field(SigMFFile.DESCRIPTION_KEY)
        self.link = {key: self.metadata.get_global_field(f"{NAMESPACE}:{key}")
                     for key in LINK_KEYS}
        self.modulation = self.link["modulation"]
        self.sps = self.link["sps"]
        self.rolloff = self.link["rolloff"]
        self.span = self.link["span"]
        if (realtime or tail_seconds) and not (self.sample_rate and self.sample_rate > 0):
            raise ValueError(f"SigMF recording {self.meta_path!r} has no positive "
                             f"core:sample_rate, which realtime and tail_seconds need. Add it "
                             f"to the meta file or replay without them")

        self.file_source = blocks.file_source(gr.sizeof_gr_complex, self.data_path, repeat)
        chain = [self.file_source]
        tail = 0
        if tail_seconds and not repeat:
            tail = int(round(tail_seconds * self.sample_rate))
        if tail:
            chain = [self._append_zeros(tail)]
        if realtime:
            self.throttle = blocks.throttle(gr.sizeof_gr_complex, float(self.sample_rate), True)
            chain.append(self.throttle)
        self.connect(*chain, self)

    def _append_zeros(self, tail: int) -> gr.basic_block:
        """Connect the file and ``tail`` zeros behind it, and return the block that outputs both."""
        n = self.n_samples()
        # stream_mux takes its lengths as C++ ints.
        if n > 2 ** 31 - 1 or tail > 2 ** 31 - 1:
            raise ValueError(f"tail_seconds works up to 2^31 - 1 samples per part, but "
                             f"{self.data_path!r} has {n} samples and the tail {tail}. Replay "
                             f"without tail_seconds")
        self.zeros = blocks.null_source(gr.sizeof_gr_complex)
        self.zeros_head = blocks.head(gr.sizeof_gr_complex, tail)
        # The mux takes the n file samples, then the tail, then turns back to
        # the ended file source, and so ends the stream.
        self.mux = blocks.stream_mux(gr.sizeof_gr_complex, [n, tail])
        self.connect(self.file_source, (self.mux, 0))
        self.connect(self.zeros, self.zeros_head, (self.mux, 1))
        return self.mux

    def n_samples(self) -> int:
        """Return the number of complex samples in the recording."""
        return os.path.getsize(self.data_path) // gr.sizeof_gr_complex


def _read_meta(meta_path: str, verify_checksum: bool) -> SigMFFile:
    """Read and validate a meta file, and return it with its data file set."""
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"SigMF meta file {meta_path!r} not found. Give the "
                                f"recording's base path or its .sigmf-meta file")

    # Validated before sigmffile.fromfile, which fails with bare KeyErrors or
    # SigMFFileErrors on some invalid meta files.
    try:
        with open(meta_path, encoding="utf-8") as fp:
            metadata = json.load(fp)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SigMF meta file {meta_path!r} is not valid JSON: {exc}") from exc
    try:
        sigmf.validate.validate(metadata)
    except jsonschema.ValidationError as exc:
        raise ValueError(f"SigMF meta file {meta_path!r} is invalid: {exc.message}") from exc

    try:
        meta = sigmffile.fromfile(meta_path, skip_checksum=True)
    except SigMFError as exc:
        raise ValueError(f"SigMF meta file {meta_path!r} cannot be read: {exc}") from exc
    if meta.data_file is None or not os.path.isfile(meta.data_file):
        raise FileNotFoundError(f"the data file of SigMF recording {meta_path!r} not found. "
                                f"Expected {sigmf_paths(meta_path)[1]!r} next to it")

    # Hashed here rather than in fromfile, which reads the whole data file even
    # when the meta file has no hash to compare.
    if verify_checksum and meta.get_global_field(SigMFFile.HASH_KEY):
        try:
            meta.calculate_hash()
        except SigMFError as exc:
            raise ValueError(f"SigMF recording {meta_path!r} failed its check: {exc}. The "
                             f"data file changed after the meta file was written. Record it "
                             f"again, or replay with verify_checksum=False") from exc
    return meta


def _check_layout(meta: SigMFFile, meta_path: str) -> None:
    """Raise ValueError unless the data file is plain single-channel ``cf32_le`` samples."""
    datatype = meta.get_global_field(SigMFFile.DATATYPE_KEY)
    if datatype != DATATYPE:
        raise ValueError(f"SigMF recording {meta_path!r} has core:datatype {datatype!r}, but "
                         f"sigmf_source replays only {DATATYPE} (complex float32, little "
                         f"endian). Convert the samples to {DATATYPE} and set core:datatype")
    channels = meta.get_num_channels()
    if channels != 1:
        raise ValueError(f"SigMF recording {meta_path!r} has {channels} channels, but "
                         f"sigmf_source replays one channel only")
    header_bytes = sum(c.get(SigMFFile.HEADER_BYTES_KEY, 0) for c in meta.get_captures())
    trailing_bytes = meta.get_global_field(SigMFFile.TRAILING_BYTES_KEY, 0)
    if header_bytes or trailing_bytes:
        raise ValueError(f"SigMF recording {meta_path!r} has {header_bytes} header bytes and "
                         f"{trailing_bytes} trailing bytes, but sigmf_source replays only "
                         f"data files that contain samples alone")
