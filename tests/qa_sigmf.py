# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recording and replay: meta fields, input checks, and decoding a recorded burst stream."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pmt
import pytest
import sigmf
from gnuradio import analog, blocks, gr
from gnuradio.semanticnn import (ber_estimator, burst_receiver, burst_transmitter, deframer, framer,
                                 image_source, semantic_decoder, semantic_encoder, sigmf_sink,
                                 sigmf_source)
from gnuradio.semanticnn import burst_dsp as dsp
from gnuradio.semanticnn.burst import burst_noise_amplitude
from sigmf import SigMFFile

from semanticnn import frame

SAMP_RATE = 1e6
CENTER_FREQ = 915e6


def burst_samples(payload_bytes: int, modulation: str = "bpsk", sps: int = 4,
                  padding: int = 16) -> int:
    """Return the samples of one burst from a default burst_transmitter."""
    frame_bits = 8 * len(frame.build_frame(0, 1, bytes(payload_bytes)))
    symbols = frame_bits // dsp.BITS_PER_SYMBOL[modulation]
    taps = dsp.rrc_taps(sps, dsp.DEFAULT_ROLLOFF, dsp.DEFAULT_SPAN)
    return sps * (symbols + padding) + taps.size - 1


def record_images(path, n_images: int, modulation: str = "bpsk", sps: int = 4,
                  timeout: float = 60.0) -> sigmf_sink:
    """Record test images 0..n_images-1 as bursts, and return the sink once the file contains all.

    The device side runs alone: image source, encoder, framer and burst
    transmitter into a sigmf_sink. With no accuracy sink to report progress
    the image source's window is n_images, so it sends every image at once.
    """
    tb = gr.top_block()
    source = image_source(n_images, 0, "test", window=n_images)
    # Batches of one, so that each payload equals model.encode of its image alone.
    encoder = semantic_encoder(max_batch=1)
    frm = framer(encoder.codec_id)
    tx = burst_transmitter(modulation, sps)
    sink = sigmf_sink(str(path), SAMP_RATE, CENTER_FREQ, modulation, sps,
                      description="qa_sigmf recording")
    tb.msg_connect(source, "out", encoder, "in")
    tb.msg_connect(encoder, "out", frm, "in")
    tb.msg_connect(frm, "out", tx, "in")
    tb.connect(tx, sink)
    expected = n_images * burst_samples(encoder.model.payload_bytes, modulation, sps)
    tb.start()
    deadline = time.monotonic() + timeout
    while sink.samples_written() < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    assert tx.modulator.bursts == n_images
    assert sink.samples_written() == expected, "the recording does not hold every burst"
    return sink


def replay_and_decode(path, n_expected: int, esn0_db: float | None = 30.0,
                      timeout: float = 60.0) -> tuple[list, burst_receiver]:
    """Replay a recording through receiver, deframer, BER estimator and decoder.

    Returns the decoder's output PDUs and the receiver. The replay runs at the
    recording's sample rate with 1 s of zeros after it, so the flowgraph ends
    by itself after the last burst has been decoded.
    """
    tb = gr.top_block()
    source = sigmf_source(str(path), realtime=True, tail_seconds=1.0)
    rx = burst_receiver(source.modulation, source.sps, source.rolloff, source.span)
    dfr = deframer()
    estimator = ber_estimator()
    decoder = semantic_decoder(max_batch=1)
    store = blocks.message_debug()
    if esn0_db is None:
        tb.connect(source, rx)
    else:
        signal_power = dsp.burst_power(source.modulation, source.sps, source.rolloff, source.span)
        amplitude = burst_noise_amplitude(esn0_db, source.sps, signal_power)
        noise = analog.noise_source_c(analog.GR_GAUSSIAN, amplitude, 3)
        add = blocks.add_cc()
        tb.connect(source, (add, 0))
        tb.connect(noise, (add, 1))
        tb.connect(add, rx)
    tb.msg_connect(rx, "out", dfr, "in")
    tb.msg_connect(dfr, "out", estimator, "in")
    tb.msg_connect(estimator, "out", decoder, "in")
    tb.msg_connect(decoder, "out", store, "store")
    ended = threading.Event()
    tb.start()
    threading.Thread(target=lambda: (tb.wait(), ended.set()), daemon=True).start()
    deadline = time.monotonic() + timeout
    while (store.num_messages() < n_expected and not ended.is_set()
           and time.monotonic() < deadline):
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    return [store.get_message(i) for i in range(store.num_messages())], rx


def run_to_end(tb: gr.top_block, timeout: float = 30.0) -> None:
    done = threading.Event()
    tb.start()
    threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True).start()
    if not done.wait(timeout):
        tb.stop()
        tb.wait()
        raise TimeoutError(f"flowgraph did not end within {timeout} s")


def write_recording(path, samples: np.ndarray, datatype: str = "cf32_le") -> None:
    """Write a recording with the sigmf package alone, as another tool would."""
    (path.parent / (path.name + ".sigmf-data")).write_bytes(samples.tobytes())
    meta = SigMFFile(global_info={SigMFFile.DATATYPE_KEY: datatype,
                                  SigMFFile.SAMPLE_RATE_KEY: 2e6,
                                  SigMFFile.VERSION_KEY: sigmf.__specification__})
    meta.add_capture(0, {SigMFFile.FREQUENCY_KEY: 2.4e9})
    meta.tofile(str(path) + ".sigmf-meta")


# sigmf 1.2.1 warns when it cannot memory-map an empty data file.
EMPTY_DATA_WARNING = "ignore:Failed to create data array:UserWarning"


@pytest.mark.filterwarnings(EMPTY_DATA_WARNING)
def test_meta_written_when_built(tmp_path):
    sink = sigmf_sink(str(tmp_path / "rec"), SAMP_RATE, CENTER_FREQ, "qpsk", 5, 0.25, 9,
                      "built only", "qa", "USRP B210")
    meta_path = tmp_path / "rec.sigmf-meta"
    assert meta_path.exists()
    assert (tmp_path / "rec.sigmf-data").exists()
    assert sink.samples_written() == 0
    assert not (tmp_path / "rec.sigmf-meta.tmp").exists()
    # Valid against the SigMF schema as written, before any sample.
    sigmf.sigmffile.fromfile(str(meta_path)).validate()


def test_meta_fields_written_and_read_back(tmp_path):
    samples = (np.arange(1000) * (1 + 0.5j) / 1000).astype(np.complex64)
    tb = gr.top_block()
    sink = sigmf_sink(str(tmp_path / "rec"), SAMP_RATE, CENTER_FREQ, "qpsk", 5, 0.25, 9,
                      "a ramp", "qa", "USRP B210")
    tb.connect(blocks.vector_source_c(samples.tolist()), sink)
    run_to_end(tb)
    sha512 = sink.write_checksum()

    meta = json.loads((tmp_path / "rec.sigmf-meta").read_text())
    g = meta["global"]
    assert g["core:datatype"] == "cf32_le"
    assert g["core:sample_rate"] == SAMP_RATE
    assert g["core:version"] == sigmf.__specification__
    assert g["core:description"] == "a ramp"
    assert g["core:author"] == "qa"
    assert g["core:hw"] == "USRP B210"
    assert g["core:sha512"] == sha512
    assert {"name": "semanticnn", "version": "1.0.0", "optional": True} in g["core:extensions"]
    assert g["semanticnn:modulation"] == "qpsk"
    assert g["semanticnn:sps"] == 5
    assert g["semanticnn:rolloff"] == 0.25
    assert g["semanticnn:span"] == 9
    assert meta["captures"] == [{"core:sample_start": 0, "core:frequency": CENTER_FREQ}]
    sigmf.sigmffile.fromfile(str(tmp_path / "rec")).validate()

    # Any of the three names opens the recording.
    for name in ("rec", "rec.sigmf-meta", "rec.sigmf-data"):
        source = sigmf_source(str(tmp_path / name))
        assert source.sample_rate == SAMP_RATE
        assert source.center_freq == CENTER_FREQ
        assert source.description == "a ramp"
        assert (source.modulation, source.sps, source.rolloff, source.span) == ("qpsk", 5, 0.25, 9)
        assert source.link == {"modulation": "qpsk", "sps": 5, "rolloff": 0.25, "span": 9}
        assert source.n_samples() == samples.size

    tb = gr.top_block()
    out = blocks.vector_sink_c()
    tb.connect(sigmf_source(str(tmp_path / "rec")), out)
    run_to_end(tb)
    np.testing.assert_array_equal(np.array(out.data(), dtype=np.complex64), samples)


def test_tail_appends_zeros_in_real_time(tmp_path):
    samples = np.ones(2000, dtype=np.complex64)
    write_recording(tmp_path / "rec", samples)
    tb = gr.top_block()
    out = blocks.vector_sink_c()
    # 2000 samples plus 0.05 s at 2 MS/s: 100000 zeros, about 51 ms of wall-clock time.
    tb.connect(sigmf_source(str(tmp_path / "rec"), realtime=True, tail_seconds=0.05), out)
    start = time.monotonic()
    run_to_end(tb)
    elapsed = time.monotonic() - start
    data = np.array(out.data(), dtype=np.complex64)
    assert data.size == 102000
    np.testing.assert_array_equal(data[:2000], samples)
    assert not np.any(data[2000:])
    assert elapsed > 0.04


def test_foreign_recording_without_link_parameters(tmp_path):
    write_recording(tmp_path / "rec", np.zeros(10, dtype=np.complex64))
    source = sigmf_source(str(tmp_path / "rec"))
    assert source.sample_rate == 2e6
    assert source.center_freq == 2.4e9
    assert source.link == {"modulation": None, "sps": None, "rolloff": None, "span": None}


def test_bad_datatype_raises(tmp_path):
    write_recording(tmp_path / "rec", np.zeros(20, dtype=np.int16), datatype="ci16_le")
    with pytest.raises(ValueError, match="ci16_le") as info:
        sigmf_source(str(tmp_path / "rec"))
    assert "cf32_le" in str(info.value)


def test_changed_data_fails_checksum(tmp_path):
    tb = gr.top_block()
    sink = sigmf_sink(str(tmp_path / "rec"), SAMP_RATE, CENTER_FREQ)
    tb.connect(blocks.vector_source_c([1j] * 100), sink)
    run_to_end(tb)
    sink.write_checksum()
    data = tmp_path / "rec.sigmf-data"
    data.write_bytes(b"\0" * 8 + data.read_bytes()[8:])
    with pytest.raises(ValueError, match="failed its check"):
        sigmf_source(str(tmp_path / "rec"))
    # Without the check the changed recording still opens.
    assert sigmf_source(str(tmp_path / "rec"), verify_checksum=False).n_samples() == 100


@pytest.mark.filterwarnings(EMPTY_DATA_WARNING)
def test_missing_and_invalid_inputs_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        sigmf_source(str(tmp_path / "absent"))
    write_recording(tmp_path / "nodata", np.zeros(4, dtype=np.complex64))
    (tmp_path / "nodata.sigmf-data").unlink()
    with pytest.raises(FileNotFoundError, match="data file"):
        sigmf_source(str(tmp_path / "nodata"))
    write_recording(tmp_path / "empty", np.zeros(0, dtype=np.complex64))
    with pytest.raises(ValueError, match="no samples"):
        sigmf_source(str(tmp_path / "empty"))
    (tmp_path / "broken.sigmf-meta").write_text("{")
    (tmp_path / "broken.sigmf-data").write_bytes(bytes(8))
    with pytest.raises(ValueError, match="not valid JSON"):
        sigmf_source(str(tmp_path / "broken"))
    (tmp_path / "schema.sigmf-meta").write_text(json.dumps(
        {"global": {"core:datatype": "cf32_le", "core:version": "1.2.0", "core:sample_rate": "fast"},
         "captures": [], "annotations": []}))
    (tmp_path / "schema.sigmf-data").write_bytes(bytes(8))
    with pytest.raises(ValueError, match="invalid"):
        sigmf_source(str(tmp_path / "schema"))
    (tmp_path / "schema.sigmf-meta").write_text(json.dumps({"captures": []}))
    with pytest.raises(ValueError, match="invalid"):
        sigmf_source(str(tmp_path / "schema"))
    with pytest.raises(ValueError, match="cannot write"):
        sigmf_sink(str(tmp_path / "no" / "such" / "folder" / "rec"), SAMP_RATE)
    with pytest.raises(ValueError, match="samp_rate"):
        sigmf_sink(str(tmp_path / "rec"), 0.0)
    with pytest.raises(ValueError, match="modulation"):
        sigmf_sink(str(tmp_path / "rec"), SAMP_RATE, modulation="8psk")


def test_recorded_bursts_replay_error_free(tmp_path, model, test_split):
    images, _ = test_split
    n_images = 20
    record_images(tmp_path / "tx", n_images)

    out, rx = replay_and_decode(tmp_path / "tx", n_images, esn0_db=30.0)

    assert rx.stats()["frames"] == n_images
    assert rx.stats()["header_failures"] == 0
    metas = [pmt.to_python(pmt.car(m)) for m in out]
    assert [m["seq"] for m in metas] == list(range(n_images))
    assert not any(m.get("erased") for m in metas)
    for msg, meta in zip(out, metas):
        seq = meta["seq"]
        payload = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
        sent = model.encode(images[seq])[0]
        errors = int(np.unpackbits(np.frombuffer(payload, np.uint8)
                                   ^ np.frombuffer(sent, np.uint8)).sum())
        assert errors == 0, f"seq {seq}: {errors} payload bit errors"
        assert meta["pilot_errors"] == 0
        # With batches of one the decoder must give the library's prediction
        # for the same payload (or LLRs, for a codec trained on them) and BER estimate.
        if model.config.soft_input:
            llr = np.asarray(meta["llr"], dtype=np.float32)
            expected = int(model.predict_llr([llr], [meta["ber_est"]])[0])
        else:
            expected = int(model.predict([payload], [meta["ber_est"]])[0])
        assert meta["pred"] == expected, f"seq {seq}"


def test_missing_sigmf_package_named(tmp_path):
    # Without the sigmf package the module still imports, and the blocks name the fix.
    code = (
        "import sys\n"
        "sys.modules['sigmf'] = None\n"
        "from gnuradio import semanticnn\n"
        "try:\n"
        f"    semanticnn.sigmf_sink({str(tmp_path / 'rec')!r}, 1e6)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "pip install SigMF==1.2.1" in run.stdout
    assert not (tmp_path / "rec.sigmf-meta").exists()
