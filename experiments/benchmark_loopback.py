#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of the loopbacks: images per second and where the time goes.

The script runs the whole flowgraph once per mode and decoder batch size:
source, encoder, framer with header FEC, channel, receiver, deframer with
Viterbi, BER estimator, decoder and sink. The symbol mode maps frames to
symbols at one sample per symbol; the burst mode sends RRC-shaped bursts at
4 samples per symbol through the simulated channel (carrier offset 0.5 % of
the symbol rate, sample clock offset 50 ppm) to the synchronizing receiver.

It prints images per second and the share of wall time spent in PyTorch
encoding and decoding, in the burst receiver's Python block (detection and
synchronization in numpy) and in GNU Radio's C++ stream blocks (matched
filter, noise source, adder, PDU-to-stream; from GNU Radio's performance
counters, which the script switches on). The blocks run in parallel
threads, so the shares can add up to more than 100 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# GNU Radio reads this when it loads; the counters time each block's work().
os.environ.setdefault("GR_CONF_PERFCOUNTERS_ON", "True")
os.environ.setdefault("GR_CONF_PERFCOUNTERS_EXPORT", "False")

NS = 1e-9  # performance counter ticks are nanoseconds


def dsp_seconds(tb) -> tuple[float, float]:
    """Return (burst receiver Python work, C++ stream blocks work) in seconds for a burst loopback."""
    cxx = [tb.receiver.matched_filter, tb.channel.noise, tb.channel.add, tb.channel.to_stream]
    return (tb.receiver.sync.pc_work_time_total() * NS,
            sum(b.pc_work_time_total() for b in cxx) * NS)


def run(mode: str, args, max_batch: int) -> dict:
    from gnuradio.semanticnn import loopback_burst, loopback_symbol

    common = dict(n_images=args.n_images, esn0_db=args.esn0_db, window=args.window,
                  max_batch=max_batch, max_wait=0.005)
    if mode == "symbol":
        tb = loopback_symbol(**common)
    else:
        tb = loopback_burst(cfo=0.005, epsilon=1.00005, **common)
    start = time.monotonic()
    tb.start()
    if not tb.sink.wait_finished(600):
        tb.stop()
        tb.wait()
        raise TimeoutError(f"{mode} loopback did not finish within 600 s")
    tb.wait()
    s = tb.summary()
    s["seconds"] = time.monotonic() - start
    s["sync_seconds"], s["dsp_seconds"] = dsp_seconds(tb) if mode == "burst" else (0.0, 0.0)
    return s


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", nargs="+", choices=("symbol", "burst"), default=["symbol", "burst"],
                   help="loopbacks to time (default: both)")
    p.add_argument("--n-images", type=int, default=2000, help="images per run (default: 2000)")
    p.add_argument("--esn0-db", type=float, default=6.0, help="Es/N0 in dB (default: 6)")
    p.add_argument("--max-batch", type=int, nargs="+", default=[1, 16, 64],
                   help="decoder batch sizes to compare (default: 1 16 64)")
    p.add_argument("--window", type=int, default=256,
                   help="images in flight between source and sink (default: 256)")
    args = p.parse_args(argv)

    from gnuradio import gr

    # The table reports each run; the accuracy sink's own INFO summary would repeat it.
    gr.logging().set_default_level(gr.log_levels.warn)

    print(f"{args.n_images} images at Es/N0 {args.esn0_db:g} dB, {os.cpu_count()} CPU cores")
    print(f"{'mode':>6} {'max batch':>9} {'seconds':>8} {'images/s':>9} {'encoder %':>9} "
          f"{'decoder %':>9} {'rx sync %':>9} {'C++ DSP %':>9} {'accuracy':>8}")
    for mode in args.mode:
        for max_batch in args.max_batch:
            s = run(mode, args, max_batch)
            wall = s["seconds"]
            print(f"{mode:>6} {max_batch:9d} {wall:8.2f} {args.n_images / wall:9.1f} "
                  f"{100 * s['encode_seconds'] / wall:9.1f} {100 * s['decode_seconds'] / wall:9.1f} "
                  f"{100 * s['sync_seconds'] / wall:9.1f} {100 * s['dsp_seconds'] / wall:9.1f} "
                  f"{s['accuracy']:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
