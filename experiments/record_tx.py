#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record the device side's bursts to a SigMF recording, without a radio.

The chain is the one of grc_flows/usrp_tx.grc (image source, semantic
encoder, framer, burst transmitter) with a SigMF sink in place of the USRP.
Replay the recording with the edge side, for example
`usrp_rx.py --input-file PATH`. The labels of the images sent go to
PATH.labels.csv (seq, label), so that the edge side's predictions can be
scored.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", help="base path of the recording (PATH.sigmf-data, PATH.sigmf-meta)")
    p.add_argument("--n-images", type=int, default=100, help="test images to send (default: 100)")
    p.add_argument("--modulation", choices=("bpsk", "qpsk"), default="bpsk",
                   help="modulation (default: bpsk)")
    p.add_argument("--sps", type=int, default=4, help="samples per symbol (default: 4)")
    p.add_argument("--samp-rate", type=float, default=1e6,
                   help="sample rate written to the meta file, samples per second (default: 1e6)")
    p.add_argument("--center-freq", type=float, default=915e6,
                   help="carrier frequency written to the meta file, Hz (default: 915e6)")
    p.add_argument("--amplitude", type=float, default=0.5,
                   help="burst amplitude, as usrp_tx.grc sends it (default: 0.5)")
    args = p.parse_args(argv)

    import pmt
    from gnuradio import blocks, gr
    from gnuradio.semanticnn import (burst_transmitter, framer, image_source, semantic_encoder,
                                     sigmf_sink)

    gr.logging().set_default_level(gr.log_levels.warn)
    tb = gr.top_block()
    # With no accuracy sink on this side, the window must let every image out.
    source = image_source(args.n_images, 0, "test", 0)
    encoder = semantic_encoder()
    frames = framer(encoder.codec_id)
    tx = burst_transmitter(args.modulation, args.sps, amplitude=args.amplitude,
                           max_queue=max(64, args.n_images))
    sink = sigmf_sink(args.path, args.samp_rate, args.center_freq, args.modulation, args.sps,
                      description=f"SemanticNN device side, {args.n_images} Fashion-MNIST test "
                                  "images, recorded without a radio")
    labels = blocks.message_debug()
    tb.msg_connect(source, "out", encoder, "in")
    tb.msg_connect(source, "labels", labels, "store")
    tb.msg_connect(encoder, "out", frames, "in")
    tb.msg_connect(frames, "out", tx, "in")
    tb.connect(tx, sink)
    tb.start()
    # Stop once every burst is written: all modulated and the file no longer grows.
    deadline = time.monotonic() + 60 + args.n_images * 0.1
    written = -1
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if tx.modulator.bursts == args.n_images and sink.samples_written() == written:
            break
        written = sink.samples_written()
    else:
        tb.stop()
        tb.wait()
        print(f"timed out after {tx.modulator.bursts} of {args.n_images} bursts", file=sys.stderr)
        return 1
    tb.stop()
    tb.wait()
    sink.write_checksum()

    with open(args.path + ".labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("seq", "label"))
        for i in range(labels.num_messages()):
            meta = pmt.to_python(pmt.car(labels.get_message(i)))
            writer.writerow((meta["seq"], meta["label"]))
    print(f"{args.n_images} bursts, {sink.samples_written()} samples in {args.path}.sigmf-data; "
          f"labels in {args.path}.labels.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
