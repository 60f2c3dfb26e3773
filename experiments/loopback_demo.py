#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job: Fashion-MNIST test images over a GNU Radio loopback.

For each Es/N0 the script runs the whole flowgraph: image source, SemanticNN
encoder, framer, BPSK or QPSK through AWGN (optionally with fading),
receiver, deframer, BER estimator, BER-aware decoder and accuracy sink. The
burst mode (the default) sends RRC-shaped bursts with a carrier offset of
0.5 % of the symbol rate and a 50 ppm sample clock offset at random places
in a noisy stream to the synchronizing receiver; the symbol mode maps frames
to symbols at one sample per symbol and takes frame boundaries from length
tags. It prints
one table row per point with theoretical and measured BER, the mean BER
estimate, header failures, erased images and accuracy. The clean backbone and
the bit channel at the measured BER are the references. The table goes to
CSV, the curves to PNG, and the run's seeds, checkpoint hash and versions to
JSON, all under --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from semanticnn import __version__, checkpoint, data, frame
from semanticnn.evaluate import evaluate_bit_channel
from semanticnn.pipeline import SplitInference

CFO = 0.005  # burst mode carrier offset, cycles per symbol
EPSILON = 1.00005  # burst mode sample clock ratio

COLUMNS = ("esn0_db", "theory_ber", "known_bit_errors", "known_bits", "channel_ber",
           "payload_bit_errors", "payload_bits", "payload_ber", "mean_ber_est",
           "header_failures", "missed", "erased", "correct", "images", "accuracy",
           "clean_accuracy", "bit_channel_accuracy", "seconds")


def theory_ber(esn0_db: float | None, modulation: str = "bpsk", fading: str = "none") -> float:
    """Theoretical BER at Es/N0 per complex symbol (the mean Es/N0 under fading).

    AWGN: BPSK 0.5 erfc(sqrt(Es/N0)), Gray QPSK 0.5 erfc(sqrt(Es/(2 N0))).
    Rayleigh block fading: 0.5 (1 - sqrt(g / (1 + g))) with g the per-bit SNR
    of the same modulation. Rician fading has no closed form here: NaN.
    """
    if esn0_db is None:
        return 0.0
    snr = 10 ** (esn0_db / 10) / (1 if modulation == "bpsk" else 2)
    if fading == "rayleigh_block":
        return 0.5 * (1 - math.sqrt(snr / (1 + snr)))
    if fading != "none":
        return float("nan")
    return 0.5 * math.erfc(math.sqrt(snr))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--esn0-db", type=float, nargs="+", default=[-4, -2, 0, 2, 4, 6, 8],
                   help="Es/N0 points in dB, per complex symbol (default: -4 to 8 in 2 dB steps)")
    p.add_argument("--mode", choices=("burst", "symbol"), default="burst",
                   help="GNU Radio channel mode (default: burst)")
    p.add_argument("--modulation", choices=("bpsk", "qpsk"), default="bpsk",
                   help="modulation (default: bpsk)")
    p.add_argument("--fading", choices=("none", "rayleigh_block", "rician_block", "rayleigh",
                                        "rician", "selective"), default="none",
                   help="fading: one gain per burst (*_block) or, in burst mode only, "
                        "continuous at Doppler --fdts; Es/N0 is then the mean (default: none)")
    p.add_argument("--fdts", type=float, default=1e-4,
                   help="Doppler of continuous fading, per sample (default: 1e-4)")
    p.add_argument("--drain-timeout", type=float, default=2.0,
                   help="burst mode: seconds without results before images whose burst was "
                        "missed are scored as erased (default: 2)")
    p.add_argument("--no-noiseless", action="store_true", help="skip the run without noise")
    p.add_argument("--n-images", type=int, default=1000, help="test images per point (default: 1000)")
    p.add_argument("--checkpoint", default="", help="checkpoint (default: the packaged weights)")
    p.add_argument("--seed", type=int, default=1, help="seed of the channel noise; "
                   "point i uses seed + i (default: 1)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default: results/demo-<UTC time>)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.mode == "symbol" and args.fading not in ("none", "rayleigh_block", "rician_block"):
        print(f"--fading {args.fading} needs --mode burst; the symbol mode has block fading only",
              file=sys.stderr)
        return 2
    from gnuradio import gr
    from gnuradio.semanticnn import run_burst_loopback, run_symbol_loopback

    # The table reports each run, missed bursts included; the accuracy sink's
    # summary and its drain-timeout warnings would only interrupt it.
    gr.logging().set_default_level(gr.log_levels.err)

    out = args.out or Path("results") / datetime.now(timezone.utc).strftime("demo-%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    model = SplitInference(args.checkpoint or None)
    ckpt = model.checkpoint_path
    images, labels = data.load_split("test")
    images, labels = images[:args.n_images], labels[:args.n_images].astype(int)
    clean_correct = int((model.predict_clean(images) == labels).sum())
    cfg = model.config
    points: list[float | None] = list(args.esn0_db) + ([] if args.no_noiseless else [None])

    run_info = {
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": (f"GNU Radio symbol mode: {args.modulation.upper()}, 1 sample per symbol, "
                 "AWGN from analog.noise_source_c, fading " + args.fading
                 if args.mode == "symbol" else
                 f"GNU Radio burst mode: {args.modulation.upper()}, 4 samples per symbol, RRC "
                 f"roll-off 0.35, carrier offset {CFO} cycles per symbol, clock ratio {EPSILON}, "
                 f"AWGN from analog.noise_source_c, fading {args.fading}"
                 + (f" (fDTs {args.fdts:g} per sample)" if args.fading in
                    ("rayleigh", "rician", "selective") else "")),
        "snr_convention": "Es/N0 per complex symbol, unit symbol energy",
        "n_images": args.n_images, "first_test_image": 0,
        "noise_seeds": {("none" if p is None else f"{p:g}"): args.seed + i
                        for i, p in enumerate(points)},
        "bit_channel_seed": 0,
        "checkpoint": str(ckpt), "checkpoint_sha256": checkpoint.file_sha256(ckpt),
        "payload_bytes": cfg.payload_bytes, "frame_bytes": frame.frame_bytes(cfg.payload_bytes),
        "versions": {"semanticnn": __version__, "gnuradio": gr.version(),
                     "torch": __import__("torch").__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")

    print(f"SemanticNN {args.mode}-mode loopback ({args.modulation.upper()}, fading "
          f"{args.fading}), {args.n_images} Fashion-MNIST test images per point")
    print(f"payload {cfg.payload_bytes} bytes, frame {frame.frame_bytes(cfg.payload_bytes)} bytes "
          f"per image (float32 split features: {4 * cfg.in_channels * cfg.height * cfg.width} "
          f"bytes, raw image: {cfg.height * cfg.width} bytes)")
    print(f"checkpoint {ckpt.name} sha256 {run_info['checkpoint_sha256'][:16]}; clean backbone "
          f"{clean_correct}/{args.n_images} = {clean_correct / args.n_images:.3f}")
    header = (f"{'Es/N0':>6} {'theory BER':>10} {'channel BER (err/bits)':>28} "
              f"{'payload BER':>11} {'mean est':>9} {'hdr fail':>8} {'missed':>6} {'erased':>6} "
              f"{'accuracy (correct/total)':>25} {'clean':>6} {'bit ch.':>7}")
    print(header)
    rows = []
    with open(out / "loopback.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i, esn0 in enumerate(points):
            tag = "none" if esn0 is None else f"{esn0:g}dB"
            common = dict(n_images=args.n_images, esn0_db=esn0, checkpoint=args.checkpoint,
                          seed=args.seed + i, modulation=args.modulation, fading=args.fading,
                          filename=str(out / f"images_esn0_{tag}.csv"))
            if args.mode == "symbol":
                s = run_symbol_loopback(**common)
            else:
                # A missed burst is only scored after drain_timeout seconds without
                # results, so a short timeout keeps low-SNR points quick.
                s = run_burst_loopback(cfo=CFO, epsilon=EPSILON, fdts=args.fdts,
                                       drain_timeout=args.drain_timeout, **common)
            dstats = s["deframer"]
            channel_ber = dstats["known_bit_errors"] / max(dstats["known_bits"], 1)
            ref = evaluate_bit_channel(model, images, labels, channel_ber, seed=0)
            row = {
                "esn0_db": "none" if esn0 is None else esn0,
                "theory_ber": theory_ber(esn0, args.modulation, args.fading),
                "known_bit_errors": dstats["known_bit_errors"], "known_bits": dstats["known_bits"],
                "channel_ber": channel_ber,
                "payload_bit_errors": s["bit_errors"], "payload_bits": s["bits"],
                "payload_ber": s["bit_errors"] / s["bits"] if s["bits"] else float("nan"),
                "mean_ber_est": s["mean_ber_est"],
                "header_failures": s["erasure_reasons"].get("header CRC", 0),
                "missed": s["lost"],
                "erased": s["erased"], "correct": s["correct"], "images": s["images"],
                "accuracy": s["accuracy"], "clean_accuracy": clean_correct / args.n_images,
                "bit_channel_accuracy": ref.accuracy, "seconds": round(s["seconds"], 1),
            }
            writer.writerow(row)
            f.flush()
            rows.append(row)
            snr = "none" if esn0 is None else f"{esn0:g} dB"
            err_bits = f"{row['known_bit_errors']}/{row['known_bits']}"
            print(f"{snr:>6} {row['theory_ber']:10.2e} {channel_ber:10.2e} {err_bits:>17} "
                  f"{row['payload_ber']:11.2e} {row['mean_ber_est']:9.2e} "
                  f"{row['header_failures']:8d} {row['missed']:6d} {row['erased']:6d} "
                  f"{row['accuracy']:8.3f} ({row['correct']:5d}/{row['images']:5d})"
                  f"{'':>5} {row['clean_accuracy']:6.3f} {ref.accuracy:7.3f}", flush=True)
            if s["drops"]:
                print(f"       dropped input: {s['drops']}")

    plot(rows, out / "loopback.png", cfg.payload_bytes, args.modulation, args.fading, args.mode)
    print("channel BER: errors in the access code and pilot bits of every frame the receiver "
          "delivered (over fading, only detected bursts count, so it can lie far below the "
          "theory); payload BER: payload bits of frames whose header passed; mean est: mean "
          "BER estimate given to the decoder; missed: bursts never detected; erased: images "
          "decoded from no payload; clean: the uncompressed backbone; 'bit ch.': the bit "
          "channel at the measured channel BER on the same images")
    print(f"results in {out}/ (loopback.csv, loopback.png, run.json, per-image CSVs)")
    return 0


def plot(rows: list[dict], path: Path, payload_bytes: int, modulation: str, fading: str,
         mode: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noisy = [r for r in rows if r["esn0_db"] != "none"]
    snr = np.array([r["esn0_db"] for r in noisy], dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    fine = np.linspace(snr.min(), snr.max(), 100)
    ax1.semilogy(fine, [theory_ber(x, modulation, fading) for x in fine], "k-",
                 label=f"{modulation.upper()} theory" + ("" if fading == "none" else f", {fading}"))
    ax1.semilogy(snr, [max(r["channel_ber"], 1e-7) for r in noisy], "o", label="measured (known bits)")
    ax1.semilogy(snr, [r["mean_ber_est"] for r in noisy], "s--", label="mean BER estimate")
    ax1.set_xlabel("Es/N0 [dB]")
    ax1.set_ylabel("BER")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend()
    ax2.plot(snr, [r["accuracy"] for r in noisy], "o-", label="GNU Radio loopback")
    ax2.plot(snr, [r["bit_channel_accuracy"] for r in noisy], "s--", label="bit channel, same BER")
    ax2.axhline(rows[0]["clean_accuracy"], color="k", ls=":", label="clean backbone")
    ax2.plot(snr, [1 - r["erased"] / r["images"] for r in noisy], "^:", label="share not erased")
    ax2.set_xlabel("Es/N0 [dB]")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.03)
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="lower right")
    channel = "AWGN" if fading == "none" else f"AWGN, {fading}"
    fig.suptitle(f"SemanticNN over {modulation.upper()} ({channel}) {mode} mode, "
                 f"{payload_bytes}-byte payload")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
