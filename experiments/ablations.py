#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ablations and rate sweep of the SemanticNN codec on Fashion-MNIST.

Each variant trains a codec against the committed backbone with the same
reduced budget: by default 1 + 2 epochs on 20,000 training images, so that
the whole study fits on a 2-core CPU. Each then scores all 10,000 test images
on the bit channel at BER 0, 1e-3, 1e-2, 5e-2 and 1e-1. Every result row is appended
to the CSV as soon as it exists, so an interrupted run resumes where it
stopped; ``--markdown`` rewrites the tables of docs/RESULTS.md from the CSV.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from semanticnn import checkpoint, data
from semanticnn.config import CodecConfig
from semanticnn.evaluate import DEFAULT_BERS, evaluate_bit_channel
from semanticnn.pipeline import SplitInference
from semanticnn.train import CodecTrainingConfig, train_codec

FIELDS = ("variant", "test_channel", "payload_bytes", "ber", "correct", "images", "accuracy",
          "bit_errors", "bits", "train_seconds")

# name: (description, codec config changes, training config changes, test channels)
VARIANTS = {
    "full": ("full method", {}, {}, ("iid", "burst")),
    "no_stage1": ("without stage 1", {}, {"stage1_epochs": 0, "stage2_epochs": 3}, ("iid",)),
    "no_xai": ("without XAI weighting", {}, {"xai": False}, ("iid",)),
    "no_ber_awareness": ("decoder always told BER 1e-2", {}, {"ber_input": "fixed"}, ("iid",)),
    "gray": ("Gray labelling", {"labelling": "gray"}, {}, ("iid",)),
    "llr": ("LLR input (BPSK/AWGN, same BER)", {"soft_input": True}, {}, ("iid",)),
    "burst_trained": ("trained on bursts", {}, {"channel": "burst"}, ("iid", "burst")),
    "published": ("published code's behaviour", {},
                  {"centres": "fixed_random", "channel": "symbol", "ber_input": "exact",
                   "stage1_epochs": 0, "stage2_epochs": 3, "xai": False}, ("iid",)),
}
# Rate sweep: latent channels C, centres L and the sent central crop (0 = whole 7x7 grid).
RATES = {f"rate_c{c}_l{levels}" + (f"_crop{crop}" if crop else ""): (c, levels, crop)
         for c, levels, crop in ((1, 8, 0), (2, 4, 0), (2, 16, 0), (4, 8, 0), (2, 8, 5), (4, 8, 5))}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/ablations"),
                   help="folder for checkpoints and ablations.csv (default: results/ablations)")
    p.add_argument("--limit", type=int, default=20000, help="training images per epoch (default: 20000)")
    p.add_argument("--stage1-epochs", type=int, default=1)
    p.add_argument("--stage2-epochs", type=int, default=2)
    p.add_argument("--only", nargs="+", default=None, help="run only these variants")
    p.add_argument("--markdown", type=Path, default=None,
                   help="write the result tables as Markdown to this file and exit")
    return p.parse_args(argv)


def rate_label(c: int, levels: int, crop: int) -> str:
    return f"C={c}, L={levels}" + (f", central {crop}x{crop} sent" if crop else "")


def done_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = args.out / "ablations.csv"
    if args.markdown:
        rows = done_rows(results)
        args.markdown.write_text(render(rows, args))
        plot_rate_curve(rows, args.markdown.with_name("rate_curve.png"))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    finished = {r["variant"] for r in done_rows(results)}
    images, labels = data.load_split("test")
    labels = labels.astype(int)
    base = CodecTrainingConfig(stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs,
                               xai_images=1000)
    plan = {name: v for name, v in VARIANTS.items()}
    plan.update({name: (rate_label(c, levels, crop),
                        {"latent_channels": c, "levels": levels, "crop": crop}, {}, ("iid",))
                 for name, (c, levels, crop) in RATES.items()})
    codec_ids = {name: 100 + i for i, name in enumerate(plan)}
    if args.only:
        unknown = sorted(set(args.only) - set(plan))
        if unknown:
            raise SystemExit(f"unknown variant(s) {unknown}; choose from {sorted(plan)}")
        plan = {k: v for k, v in plan.items() if k in args.only}

    new_file = not results.exists()
    with results.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for name, (_, codec_changes, train_changes, channels) in plan.items():
            if name in finished:
                print(f"{name}: already in {results}, skipped")
                continue
            # Natural binary is the reference labelling of this study; the "gray"
            # variant changes it (the study found Gray better and made it the default).
            config = replace(CodecConfig(labelling="natural"), codec_id=codec_ids[name],
                             **codec_changes)
            tc = replace(base, **train_changes)
            path = args.out / f"{name}.pt"
            start = time.monotonic()
            train_codec(checkpoint.DEFAULT_CHECKPOINT, path, config, tc, progress=False,
                        limit=args.limit, resume=True)
            seconds = round(time.monotonic() - start)
            model = SplitInference(path)
            for channel in channels:
                for ber in DEFAULT_BERS:
                    r = evaluate_bit_channel(model, images, labels, ber, seed=0, channel=channel)
                    writer.writerow({"variant": name, "test_channel": channel,
                                     "payload_bytes": config.payload_bytes, "ber": ber,
                                     "correct": r.correct, "images": r.images,
                                     "accuracy": f"{r.accuracy:.4f}", "bit_errors": r.bit_errors,
                                     "bits": r.bits, "train_seconds": seconds})
                    f.flush()
            print(f"{name}: trained in {seconds} s, evaluated on {', '.join(channels)}", flush=True)
    return 0


def plot_rate_curve(rows: list[dict], path: Path) -> None:
    """Plot accuracy against payload bytes at BER 0 and 1e-2 for the rate variants and full."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["full"] + list(RATES)
    fig, ax = plt.subplots(figsize=(6, 4))
    for ber, marker in ((0.0, "o"), (0.01, "s")):
        points = sorted((int(r["payload_bytes"]), 100 * float(r["accuracy"]), r["variant"])
                        for r in rows if r["variant"] in names and r["test_channel"] == "iid"
                        and float(r["ber"]) == ber)
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], marker, ls="none",
                label=f"BER {ber:g}")
        for size, acc, name in points:
            if ber == 0.0:
                ax.annotate(name.replace("rate_", ""), (size, acc), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("payload bytes per image")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("Fashion-MNIST: accuracy against rate (reduced training budget)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render(rows: list[dict], args) -> str:
    """Return the ablation and rate tables as Markdown."""
    plan = dict(VARIANTS)
    plan.update({name: (rate_label(c, levels, crop), {}, {}, ())
                 for name, (c, levels, crop) in RATES.items()})
    table = {}
    for r in rows:
        table.setdefault((r["variant"], r["test_channel"]), {})[float(r["ber"])] = r
    lines = ["| variant | test channel | payload bytes | " +
             " | ".join(f"BER {b:g}" for b in DEFAULT_BERS) + " |",
             "|---|---|---|" + "---|" * len(DEFAULT_BERS)]
    for (name, channel), by_ber in table.items():
        first = next(iter(by_ber.values()))
        cells = [f"{100 * int(by_ber[b]['correct']) / int(by_ber[b]['images']):.2f}"
                 if b in by_ber else "" for b in DEFAULT_BERS]
        lines.append(f"| {plan.get(name, (name,))[0]} | {channel} | {first['payload_bytes']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
