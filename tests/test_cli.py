# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``semanticnn`` command on the packaged weights."""

import re
import subprocess
import sys
from pathlib import Path

from semanticnn import frame

# The console script installed beside the Python that runs the tests.
SEMANTICNN = str(Path(sys.executable).parent / "semanticnn")


def run(*args, timeout=600):
    return subprocess.run([SEMANTICNN, *args], capture_output=True, text=True, timeout=timeout)


def test_info_reports_rate():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "payload: 294 bits = 37 bytes per image" in r.stdout
    assert f"frame: {frame.frame_bytes(37)} bytes per image" in r.stdout
    assert re.search(r"sha256: [0-9a-f]{64}", r.stdout)
    assert "decoder input: hard bits" in r.stdout


def test_info_names_llr_weights():
    from semanticnn.checkpoint import LLR_CHECKPOINT

    r = run("info", str(LLR_CHECKPOINT))
    assert r.returncode == 0, r.stderr
    assert "codec id: 2" in r.stdout
    assert "decoder input: per-bit LLRs" in r.stdout


def test_evaluate_prints_counts():
    r = run("evaluate", "--n-images", "500", "--ber", "0", "0.1", "--target-wrong", "0")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if re.match(r"\s+\d(\.\d+)?e[+-]\d\d\s", l)]
    assert len(lines) == 2
    clean = lines[0].split()
    noisy = lines[1].split()
    assert clean[1] == "0"
    assert int(clean[6]) == 500
    # 500 payloads of 294 bits at BER 0.1: about 14,700 flips.
    assert 13_500 < int(noisy[1]) < 15_900
    assert float(clean[7]) > 0.8
    assert float(noisy[7]) < float(clean[7])


def test_bad_arguments_give_clear_errors(tmp_path):
    r = run("evaluate", "--ber", "0.9")
    assert r.returncode == 2
    assert "--ber values must be in [0, 0.5], got 0.9" in r.stderr
    r = run("info", str(tmp_path / "missing.pt"))
    assert r.returncode == 2
    assert "checkpoint not found" in r.stderr


def test_train_soft_input_codec(tmp_path):
    from semanticnn import checkpoint

    out = tmp_path / "soft.pt"
    r = run("train", "--stage", "codec", "--backbone", str(checkpoint.DEFAULT_CHECKPOINT),
            "--soft-input", "--codec-id", "7", "--limit", "256", "--stage1-epochs", "1",
            "--stage2-epochs", "0", "--no-xai", "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    config = checkpoint.load_raw(out)["codec_config"]
    assert config["soft_input"] is True
    assert config["codec_id"] == 7
