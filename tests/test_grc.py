# SPDX-License-Identifier: GPL-3.0-or-later
"""The GRC flowgraph compiles with grcc and its generated script runs headless."""

import csv
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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
              "ber_estimator", "semantic_decoder", "accuracy_sink"}
    grc = REPO / "gr-semanticnn" / "grc"
    for name in blocks:
        text = (grc / f"semanticnn_{name}.block.yml").read_text()
        assert "category: '[SemanticNN]'" in text
        assert f"semanticnn.{name}(" in text
        assert "\n  value:" not in text
        assert "    value:" not in text
