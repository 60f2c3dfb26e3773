#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of the symbol-mode loopback: images per second and where the time goes.

The script runs the whole flowgraph once per decoder batch size: source,
encoder, framer with header FEC, BPSK/AWGN channel, deframer with Viterbi,
BER estimator, decoder and sink. It prints images per second and the share of
wall time spent in PyTorch encoding and decoding. The rest is GNU Radio's
message passing, the Python blocks and the DSP blocks together; the blocks
run in parallel threads, so the shares can add up to more than 100 %.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-images", type=int, default=2000, help="images per run (default: 2000)")
    p.add_argument("--esn0-db", type=float, default=6.0, help="Es/N0 in dB (default: 6)")
    p.add_argument("--max-batch", type=int, nargs="+", default=[1, 16, 64],
                   help="decoder batch sizes to compare (default: 1 16 64)")
    p.add_argument("--window", type=int, default=256,
                   help="images in flight between source and sink (default: 256)")
    args = p.parse_args(argv)

    from gnuradio import gr
    from gnuradio.semanticnn import run_symbol_loopback

    # The table reports each run; the accuracy sink's own INFO summary would repeat it.
    gr.logging().set_default_level(gr.log_levels.warn)

    print(f"{args.n_images} images at Es/N0 {args.esn0_db:g} dB, {os.cpu_count()} CPU cores")
    print(f"{'max batch':>9} {'seconds':>8} {'images/s':>9} {'encoder %':>9} {'decoder %':>9} "
          f"{'batches':>8} {'accuracy':>8}")
    for max_batch in args.max_batch:
        s = run_symbol_loopback(n_images=args.n_images, esn0_db=args.esn0_db, window=args.window,
                                max_batch=max_batch, max_wait=0.005)
        wall = s["seconds"]
        print(f"{max_batch:9d} {wall:8.2f} {args.n_images / wall:9.1f} "
              f"{100 * s['encode_seconds'] / wall:9.1f} {100 * s['decode_seconds'] / wall:9.1f} "
              f"{s['decoder_batches']:8d} {s['accuracy']:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
