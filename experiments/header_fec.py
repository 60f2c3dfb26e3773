#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Header failure rate of the coded header, decoded from soft values and from hard bits.

For each Es/N0 the script sends random 37-byte payloads through the GNU Radio
framer, the symbol-mode channel (BPSK, AWGN) and the deframer, which decodes
the header from the soft values. The same received frames, cut to hard bits,
then go through a second deframer. It prints the raw channel BER (access code
and pilot bits), header failures from soft values and from hard bits, and what
an uncoded 72-bit header would lose at that BER. --soft-scale and --end-state
override the deframer's settings in ``gnuradio.semanticnn.header_fec`` for
this run, to compare them.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pmt
from gnuradio import blocks, gr
from gnuradio.semanticnn import deframer, framer, header_fec, symbol_channel
from gnuradio.semanticnn.pdu_utils import make_pdu, pdu_list_source

PAYLOAD_BYTES = 37
# Es/N0 in dB where BPSK has a BER of 5e-2: 0.5 erfc(sqrt(Es/N0)) = 0.05.
ESN0_DB_BER_5E2 = 1.3122


def wait_for(sink: blocks.message_debug, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sink.num_messages() < n and time.monotonic() < deadline:
        time.sleep(0.01)
    if sink.num_messages() < n:
        raise TimeoutError(f"timed out after {timeout} s with {sink.num_messages()} of {n} "
                           "PDUs; raise --timeout for more bursts")


def count_failures(outputs: list, n_bursts: int) -> tuple[int, int]:
    """Return (header CRC erasures, decoded headers with a seq that was not sent or repeats)."""
    failures = 0
    seen: set[int] = set()
    wrong = 0
    for msg in outputs:
        meta = pmt.to_python(pmt.car(msg)) or {}
        if meta.get("erased"):
            failures += meta.get("reason") == "header CRC"
            continue
        seq = meta["seq"]
        wrong += seq in seen or not 0 <= seq < n_bursts
        seen.add(seq)
    return failures, wrong


def run_point(esn0_db: float, n_bursts: int, seed: int, timeout: float) -> dict:
    rng = np.random.default_rng(seed)
    payloads = [make_pdu({"seq": seq}, rng.integers(0, 256, PAYLOAD_BYTES, dtype=np.uint8))
                for seq in range(n_bursts)]

    tb = gr.top_block()
    feeder = pdu_list_source(payloads)
    soft_deframer = deframer(PAYLOAD_BYTES)
    channel = symbol_channel(esn0_db, seed)
    received = blocks.message_debug()
    soft_out = blocks.message_debug()
    frame_builder = framer(1)
    tb.msg_connect(feeder, "out", frame_builder, "in")
    tb.msg_connect(frame_builder, "out", channel, "in")
    tb.msg_connect(channel, "out", soft_deframer, "in")
    tb.msg_connect(channel, "out", received, "store")
    tb.msg_connect(soft_deframer, "out", soft_out, "store")
    tb.start()
    wait_for(soft_out, n_bursts, timeout)
    tb.stop()
    tb.wait()
    stats = soft_deframer.stats()

    hard_frames = []
    for i in range(received.num_messages()):
        soft = np.asarray(pmt.f32vector_elements(pmt.cdr(received.get_message(i))))
        hard_frames.append(make_pdu({}, np.packbits(soft > 0).tobytes()))
    tb = gr.top_block()
    feeder = pdu_list_source(hard_frames)
    hard_deframer = deframer(PAYLOAD_BYTES)
    hard_out = blocks.message_debug()
    tb.msg_connect(feeder, "out", hard_deframer, "in")
    tb.msg_connect(hard_deframer, "out", hard_out, "store")
    tb.start()
    wait_for(hard_out, n_bursts, timeout)
    tb.stop()
    tb.wait()

    raw_ber = stats["known_bit_errors"] / stats["known_bits"]
    soft_failures, soft_wrong = count_failures(
        [soft_out.get_message(i) for i in range(n_bursts)], n_bursts)
    hard_failures, hard_wrong = count_failures(
        [hard_out.get_message(i) for i in range(n_bursts)], n_bursts)
    return {"esn0_db": esn0_db, "raw_ber": raw_ber, "bursts": n_bursts,
            "soft_failures": soft_failures, "soft_wrong": soft_wrong,
            "hard_failures": hard_failures, "hard_wrong": hard_wrong,
            "uncoded_failure_rate": 1.0 - (1.0 - raw_ber) ** 72}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--esn0-db", type=float, nargs="+", default=[ESN0_DB_BER_5E2],
                   help="Es/N0 points in dB, per complex symbol (default: 1.3122, a BPSK BER "
                   "of 5e-2)")
    p.add_argument("--bursts", type=int, default=20000, help="bursts per point (default: 20000)")
    p.add_argument("--seed", type=int, default=5,
                   help="seed of the payloads and the channel noise (default: 5)")
    p.add_argument("--soft-scale", type=float, default=header_fec.SOFT_SCALE,
                   help="factor on the soft values before clipping at "
                   f"+-{header_fec.SOFT_LIMIT} (default: {header_fec.SOFT_SCALE})")
    p.add_argument("--end-state", type=int, default=header_fec.END_STATE,
                   help="end state of the Viterbi decoder, -1 for unknown "
                   f"(default: {header_fec.END_STATE})")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for each flowgraph (default: 600)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.bursts < 1:
        raise SystemExit(f"--bursts must be at least 1, got {args.bursts}")
    # make_header_decoder reads END_STATE when a deframer is built, and
    # viterbi_input reads SOFT_SCALE for each frame.
    header_fec.SOFT_SCALE = args.soft_scale
    header_fec.END_STATE = args.end_state
    print(f"soft scale {args.soft_scale}, clipped at +-{header_fec.SOFT_LIMIT}; decoder end "
          f"state {args.end_state}")
    print(f"{'Es/N0':>7} {'raw BER':>9} {'bursts':>7} {'soft fail':>16} {'hard fail':>16} "
          f"{'uncoded':>8} {'wrong seq':>9}")
    for esn0_db in args.esn0_db:
        r = run_point(esn0_db, args.bursts, args.seed, args.timeout)
        soft = f"{r['soft_failures']} ({r['soft_failures'] / r['bursts']:.2%})"
        hard = f"{r['hard_failures']} ({r['hard_failures'] / r['bursts']:.2%})"
        print(f"{esn0_db:7.3f} {r['raw_ber']:9.2e} {r['bursts']:7d} {soft:>16} {hard:>16} "
              f"{r['uncoded_failure_rate']:8.1%} {r['soft_wrong'] + r['hard_wrong']:9d}",
              flush=True)
    print("raw BER: access code and pilot bits; uncoded: 1 - (1 - raw BER)^72, the failure "
          "rate of the header without coding; wrong seq: decoded headers whose seq was not "
          "sent or repeats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
