# SPDX-License-Identifier: GPL-3.0-or-later
"""The GRC flowgraphs compile with grcc and their generated scripts run headless."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLOWGRAPHS = sorted((REPO / "grc_flows").glob("*.grc"))


def compile_flowgraph(name: str, out_dir: Path) -> Path:
    """Compile grc_flows/<name>.grc with grcc into out_dir, and return the generated script."""
    result = subprocess.run(["grcc", "-o", str(out_dir), str(REPO / "grc_flows" / f"{name}.grc")],
                            capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    script = out_dir / f"{name}.py"
    assert script.exists(), f"grcc wrote no {script.name}"
    return script


def run_script(script: Path, args: list[str], timeout: float = 120.0,
               env: dict | None = None) -> subprocess.CompletedProcess:
    # Generated flowgraphs run with the environment's Python, the one that imports torch.
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, cwd=script.parent, env=env)


def test_loopback_awgn_compiles_and_runs(tmp_path):
    env = dict(os.environ)
    result = subprocess.run(["grcc", "-o", str(tmp_path), str(REPO / "grc_flows" / "loopback_awgn.grc")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    script = tmp_path / "loopback_awgn.py"
    assert script.exists()
    out_csv = tmp_path / "la.csv"
    # Generated flowgraphs run with the environment's Python, the one that imports torch.
    run = subprocess.run([sys.executable, str(script), "--n-images", "30", "--esn0-db", "20",
                          "--filename", str(out_csv)], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=180, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert sorted(int(r["seq"]) for r in rows) == list(range(30))
    assert all(r["erased"] == "0" and r["bit_errors"] == "0" for r in rows)


def test_every_block_has_a_grc_file():
    blocks = {"image_source", "semantic_encoder", "framer", "symbol_channel", "deframer",
              "ber_estimator", "semantic_decoder", "accuracy_sink", "burst_modulator",
              "burst_transmitter", "burst_channel", "burst_receiver", "sigmf_sink",
              "sigmf_source", "rx_source"}
    grc = REPO / "gr-semanticnn" / "grc"
    for name in blocks:
        text = (grc / f"semanticnn_{name}.block.yml").read_text()
        assert "category: '[SemanticNN]'" in text
        assert f"semanticnn.{name}(" in text
        assert "\n  value:" not in text
        assert "    value:" not in text


@pytest.mark.parametrize("path", FLOWGRAPHS, ids=[p.stem for p in FLOWGRAPHS])
def test_flowgraph_compiles(path, tmp_path):
    compile_flowgraph(path.stem, tmp_path)


def test_burst_awgn_flowgraph_runs(tmp_path):
    script = compile_flowgraph("loopback_burst_awgn", tmp_path)
    out_csv = tmp_path / "awgn.csv"
    # QPSK at 20 dB with the default offsets: 0.01 cycles per symbol and a 100 ppm clock.
    run = run_script(script, ["--n-images", "40", "--esn0-db", "20", "--modulation", "qpsk",
                              "--freq-offset", "0.01", "--filename", str(out_csv)])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all 40 images scored" in run.stdout + run.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert sorted(int(r["seq"]) for r in rows) == list(range(40))
    assert [r["seq"] for r in rows if r["erased"] != "0"] == []
    assert sum(int(r["bit_errors"]) for r in rows) == 0
    assert all(int(r["bits"]) > 0 for r in rows)


def test_burst_fading_flowgraph_runs(tmp_path):
    script = compile_flowgraph("loopback_burst_fading", tmp_path)
    out_csv = tmp_path / "fading.csv"
    run = run_script(script, ["--n-images", "40", "--esn0-db", "20", "--fading", "rayleigh_block",
                              "--filename", str(out_csv)])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all 40 images scored" in run.stdout + run.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert sorted(int(r["seq"]) for r in rows) == list(range(40))
    # At 20 dB a Rayleigh gain loses a header with probability of about 2 %.
    assert sum(r["erased"] == "0" for r in rows) >= 30


def test_fading_option_reaches_the_channel(tmp_path):
    script = compile_flowgraph("loopback_burst_fading", tmp_path)
    run = run_script(script, ["--n-images", "4", "--fading", "jakes"])
    assert run.returncode != 0
    assert "fading must be one of" in run.stderr


def test_usrp_tx_records_only_with_a_path(tmp_path):
    # usrp_tx needs a radio to run, so only its generated code is checked: the
    # SigMF Sink becomes a Null Sink when --record is empty.
    script = compile_flowgraph("usrp_tx", tmp_path)
    text = script.read_text()
    assert "semanticnn.sigmf_sink(record, samp_rate, center_freq, modulation, sps," in text
    assert "if record else blocks.null_sink(gr.sizeof_gr_complex)" in text
    assert "semanticnn.burst_transmitter(modulation, sps" in text
    assert "uhd.usrp_sink(" in text


def test_usrp_rx_replays_a_recording(tmp_path):
    from qa_sigmf import record_images

    record_images(tmp_path / "capture", 20)
    script = compile_flowgraph("usrp_rx", tmp_path)
    run = run_script(script, ["--input-file", str(tmp_path / "capture.sigmf-meta")])
    assert run.returncode == 0, run.stdout + run.stderr
    seqs = [int(s) for s in re.findall(r"\(seq \. (\d+)\)", run.stdout)]
    preds = [int(p) for p in re.findall(r"\(pred \. (\d+)\)", run.stdout)]
    pilot_errors = [int(e) for e in re.findall(r"\(pilot_errors \. (\d+)\)", run.stdout)]
    assert seqs == list(range(20)), run.stdout[-2000:] + run.stderr
    assert len(preds) == 20
    assert all(0 <= p < 10 for p in preds)
    assert pilot_errors == [0] * 20
    assert "erased" not in run.stdout


GUI_CHECK = """
import sys
import time
from PyQt5 import Qt
import loopback_gui

app = Qt.QApplication(sys.argv)
for mode in ("symbol", "burst"):
    tb = loopback_gui.loopback_gui(n_images=20)
    tb.set_mode(mode)
    tb.set_esn0_db(20.0)
    tb.start()
    finished = tb.semanticnn_accuracy_sink_0.wait_finished(60)
    tb.stop()
    tb.wait()
    summary = tb.semanticnn_accuracy_sink_0.summary()
    # The probe polls twice a second, and the label changes in Qt's event loop.
    deadline = time.monotonic() + 5
    while tb._accuracy_label.text() == "nan" and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    print(mode, finished, summary["scored"], summary["erased"],
          tb.semanticnn_burst_receiver_0.stats()["frames"], tb._accuracy_label.text())
"""


def test_gui_flowgraph_runs_offscreen(tmp_path):
    pytest.importorskip("PyQt5.Qt")
    script = compile_flowgraph("loopback_gui", tmp_path)
    check = tmp_path / "gui_check.py"
    check.write_text(GUI_CHECK)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = run_script(check, [], env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines()
             if line.startswith(("symbol ", "burst "))}
    # Symbol mode: every frame through the symbol channel, none to the burst receiver.
    assert lines["symbol"][:4] == ["True", "20", "0", "0"]
    # Burst mode: every frame through the burst receiver.
    assert lines["burst"][:4] == ["True", "20", "0", "20"]
    # The accuracy label shows the probe's value, a number once images are scored.
    assert re.fullmatch(r"[01]\.\d{3}", lines["burst"][4])
    assert script.exists()
