# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end through the real symbol-mode flowgraph."""

import csv

import pytest
from gnuradio.semanticnn import loopback_burst, run_burst_loopback, run_symbol_loopback

from semanticnn.ber_estimator import combined_ber_estimate


def test_noiseless_loopback_matches_library(tmp_path, model, test_split):
    images, labels = test_split
    path = tmp_path / "images.csv"
    s = run_symbol_loopback(n_images=200, esn0_db=None, filename=str(path), timeout=300,
                            max_batch=1)
    assert (s["images"], s["scored"], s["erased"], s["lost"]) == (200, 200, 0, 0)
    assert s["bit_errors"] == 0
    assert s["bits"] == 200 * 8 * model.payload_bytes
    assert s["drops"] == {}
    rows = {int(r["seq"]): r for r in csv.DictReader(path.open())}
    assert sorted(rows) == list(range(200))
    # With batches of one the flowgraph decodes each burst with the estimate for
    # zero pilot errors and a noiseless SNR estimate, so each prediction must
    # equal the library's at batch size 1.
    ber_est = combined_ber_estimate(0, 64, 0.0)
    for seq in range(200):
        payload = model.encode(images[seq])[0]
        expected = int(model.predict([payload], [ber_est])[0])
        assert int(rows[seq]["pred"]) == expected, f"seq {seq}"
        assert int(rows[seq]["label"]) == labels[seq]
        assert float(rows[seq]["ber_est"]) == pytest.approx(ber_est, rel=1e-5)
    assert s["correct"] == sum(int(r["correct"]) for r in rows.values())


def test_low_snr_counts_header_failures():
    s = run_symbol_loopback(n_images=100, esn0_db=-4.0, seed=3, timeout=300)
    assert s["scored"] == 100
    assert s["erasure_reasons"].get("header CRC", 0) > 50
    assert s["erased"] == s["erasure_reasons"]["header CRC"]
    assert s["deframer"]["frames"] == 100
    channel_ber = s["deframer"]["known_bit_errors"] / s["deframer"]["known_bits"]
    assert 0.16 < channel_ber < 0.21


def test_batched_decoder_scores_every_image(model, test_split):
    images, labels = test_split
    s = run_symbol_loopback(n_images=300, esn0_db=None, timeout=300, max_batch=32, max_wait=0.05)
    assert s["scored"] == 300
    assert s["erased"] == 0
    expected = model.predict(model.encode(images[:300]), [0.5 / 65] * 300)
    assert abs(s["correct"] - int((expected == labels[:300]).sum())) <= 2


def test_qpsk_noiseless_loopback_is_error_free():
    s = run_symbol_loopback(n_images=50, esn0_db=None, modulation="qpsk", timeout=300)
    assert s["scored"] == 50
    assert s["erased"] == 0
    assert s["bit_errors"] == 0
    assert s["bits"] > 0


def test_burst_loopback_with_offsets_decodes_every_image(tmp_path, model, test_split):
    images, _ = test_split
    path = tmp_path / "images.csv"
    # Carrier offset 1 % of the symbol rate, sample clock 100 ppm fast, Es/N0 25 dB.
    s = run_burst_loopback(n_images=200, esn0_db=25.0, cfo=0.01, epsilon=1.0001, seed=4,
                           filename=str(path), timeout=300, max_batch=1)
    assert (s["images"], s["scored"], s["erased"], s["lost"]) == (200, 200, 0, 0)
    assert s["bit_errors"] == 0
    assert s["bits"] == 200 * 8 * model.payload_bytes
    assert s["receiver"]["frames"] == 200
    assert s["receiver"]["header_failures"] == 0
    assert s["drops"] == {}
    rows = {int(r["seq"]): r for r in csv.DictReader(path.open())}
    for seq in range(0, 200, 10):
        payload = model.encode(images[seq])[0]
        ber_est = float(rows[seq]["ber_est"])
        assert ber_est < 1e-4
        assert int(rows[seq]["pred"]) == int(model.predict([payload], [ber_est])[0]), f"seq {seq}"


def test_llr_codec_decodes_receiver_llrs():
    from semanticnn.checkpoint import LLR_CHECKPOINT

    tb = loopback_burst(n_images=100, esn0_db=2.0, cfo=0.005, seed=5, checkpoint=str(LLR_CHECKPOINT))
    tb.start()
    assert tb.sink.wait_finished(300)
    tb.wait()
    s = tb.summary()
    assert tb.decoder.soft_input
    assert tb.encoder.codec_id == 2
    # Every burst that decoded reached the decoder with the receiver's LLRs.
    assert tb.decoder.decoded > 90
    assert tb.decoder.soft_decoded == tb.decoder.decoded
    assert s["accuracy"] > 0.75
