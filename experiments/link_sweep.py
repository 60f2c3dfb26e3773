#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Link-level sweep of the GNU Radio symbol and burst modes: BER, frame statistics, accuracy.

Experiments, chosen with --what (default: all of them):

ber       Payload BER of random 37-byte payloads (the Fashion-MNIST payload size)
          against AWGN theory, BPSK and QPSK. The symbol mode goes through
          symbol_channel, the burst mode through modulator, burst_channel and the
          synchronizing receiver. The Es/N0 points are where theory gives the BERs
          of --ber-targets. Each point runs until it has --target-errors payload
          bit errors and --min-frames frames, or --max-frames frames.
estimate  The per-burst BER estimate of the ber_estimator block (after the
          deframer) against the measured payload BER, from the BPSK points of the
          ber sweep, which run here when they are missing.
frames    Burst mode: missed bursts, false detections, header failures and the
          payload BER of the detected bursts against Es/N0, and the receiver on
          noise alone.
accuracy  Fashion-MNIST accuracy over run_burst_loopback with the packaged model,
          over AWGN and over Rayleigh block fading.
rayleigh  BPSK bit errors over Rayleigh block fading against theory, with the
          bursts the receiver missed counted apart.

Every burst-mode run has a carrier offset of 0.5 % of the symbol rate and a
sample clock ratio of 1.00005 (channels.channel_model). Es/N0 is per complex
symbol. Each finished point is appended to a CSV file under --out, so a rerun
with the same --out skips the points already there. The tables are printed
and written to tables.md at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

PAYLOAD_BYTES = 37
PAYLOAD_BITS = 8 * PAYLOAD_BYTES
CODEC_ID = 1
SPS = 4
# Carrier offset in cycles per symbol (0.5 % of the symbol rate) and sample clock ratio.
CFO_PER_SYMBOL = 0.005
EPSILON = 1.00005
# The transmitter's zero symbols before each burst (burst_modulator's pre_padding).
PRE_PADDING_SYMBOLS = 8
# The receiver reports a burst's access code this many samples before the channel
# stream position of its first symbol, because of channels.channel_model's
# resampler. Measured over 500 BPSK bursts of this link: 2.7 to 3.2 samples at
# Es/N0 8 dB, 0.4 to 4.9 at -4 dB.
CHANNEL_MODEL_DELAY = 3.0
# A detection within this many samples (two symbols) of a burst's expected
# position belongs to that burst.
MATCH_TOLERANCE = 8.0
# Maximum frames per flowgraph run, because burst_channel queues at most 4096 bursts.
BATCH_FRAMES = 2000
# Seconds a burst link waits, after the receiver has read the whole stream, for
# detections that are not finished; header decoding takes milliseconds.
END_GRACE_SECONDS = 2.0

MODULATIONS = ("bpsk", "qpsk")
EXPERIMENTS = ("ber", "estimate", "frames", "accuracy", "rayleigh")

FULL = {
    "ber_targets": [1e-1, 5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4],
    "target_errors": 200, "min_frames": 1000, "max_frames": 20000,
    "frame_esn0_db": [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0], "bursts": 2000,
    "noise_samples": 5_000_000,
    "awgn_esn0_db": [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0],
    "fading_esn0_db": [0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0], "n_images": 1000,
    "rayleigh_esn0_db": [0.0, 5.0, 10.0, 15.0, 20.0], "rayleigh_bursts": 10000,
}
QUICK = {
    "ber_targets": [1e-1, 1e-2, 1e-3, 1e-4],
    "target_errors": 30, "min_frames": 200, "max_frames": 2000,
    "frame_esn0_db": [-4.0, 0.0, 4.0, 8.0], "bursts": 200,
    "noise_samples": 500_000,
    "awgn_esn0_db": [-2.0, 4.0],
    "fading_esn0_db": [0.0, 10.0, 20.0], "n_images": 200,
    "rayleigh_esn0_db": [0.0, 10.0, 20.0], "rayleigh_bursts": 500,
}
# Settings that change what a point measures, so a rerun into the same folder must keep them.
POINT_SETTINGS = ("seed", "target_errors", "min_frames", "max_frames", "bursts",
                  "noise_samples", "n_images", "rayleigh_bursts", "accuracy_modulation")


# -- theory -----------------------------------------------------------------------------


def theory_ber(esn0_db: float, modulation: str) -> float:
    """Return the AWGN BER at Es/N0 in dB per complex symbol."""
    from semanticnn.ber_estimator import theory_ber as theory

    return float(theory(10.0 ** (esn0_db / 10.0), modulation))


def rayleigh_ber(esn0_db: float, modulation: str) -> float:
    """Return the mean BER over Rayleigh block fading at mean Es/N0 in dB, E|h|^2 = 1."""
    snr = 10.0 ** (esn0_db / 10.0) / (1 if modulation == "bpsk" else 2)
    return 0.5 * (1.0 - math.sqrt(snr / (1.0 + snr)))


def esn0_for_ber(ber: float, modulation: str) -> float:
    """Return the Es/N0 in dB at which the AWGN theory gives ``ber``, by bisection.

    NaN when ``ber`` is not in (0, 0.5). The result is within 1e-6 dB.
    """
    if not 0.0 < ber < 0.5:
        return float("nan")
    low, high = -40.0, 40.0  # theory_ber is decreasing in Es/N0
    while high - low > 1e-6:
        middle = 0.5 * (low + high)
        if theory_ber(middle, modulation) > ber:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def wilson_interval(errors: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion, 95 % by default."""
    if trials <= 0:
        return float("nan"), float("nan")
    p = errors / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def esn0_loss_db(set_esn0_db: float, ber: float, modulation: str) -> float:
    """Return the set Es/N0 minus the Es/N0 at which theory gives ``ber``, in dB.

    A positive value is a loss: the link needs more Es/N0 than theory.
    """
    return set_esn0_db - esn0_for_ber(ber, modulation)


def ber_grid(targets: list[float], modulation: str) -> list[float]:
    """Return the Es/N0 points in dB, rounded to 0.01 dB, where theory gives the target BERs."""
    return [round(esn0_for_ber(target, modulation), 2) for target in targets]


# -- seeds and payloads -----------------------------------------------------------------


def seed_for(base: int, *parts) -> int:
    """Return a seed below 2^31 for one run, derived from the base seed and the run's name."""
    key = zlib.crc32("/".join(str(p) for p in parts).encode())
    return int(np.random.SeedSequence([base, key]).generate_state(1)[0] % (2**31 - 2))


def random_payloads(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, PAYLOAD_BYTES, dtype=np.uint8).tobytes() for _ in range(n)]


def build_frames(payloads: list[bytes]) -> list[bytes]:
    from semanticnn import frame

    return [frame.build_frame(seq, CODEC_ID, p) for seq, p in enumerate(payloads)]


# -- flowgraphs -------------------------------------------------------------------------


@dataclass
class Output:
    """One PDU from the BER estimator: a decoded payload or an erasure event."""

    erased: bool
    reason: str
    seq: int | None
    sample_index: float | None
    ber_est: float
    snr_est_db: float
    payload: bytes


def parse_output(msg) -> Output:
    import pmt
    from gnuradio.semanticnn.pdu_utils import meta_get

    meta = pmt.car(msg)

    def number(key: str) -> float:
        value = meta_get(meta, pmt.intern(key))
        return float(value) if isinstance(value, (int, float)) else float("nan")

    seq = meta_get(meta, pmt.intern("seq"))
    sample_index = meta_get(meta, pmt.intern("sample_index"))
    return Output(
        erased=bool(meta_get(meta, pmt.intern("erased"))),
        reason=str(meta_get(meta, pmt.intern("reason")) or ""),
        seq=int(seq) if isinstance(seq, int) else None,
        sample_index=float(sample_index) if isinstance(sample_index, (int, float)) else None,
        ber_est=number("ber_est"),
        snr_est_db=number("snr_est_db"),
        payload=bytes(pmt.u8vector_elements(pmt.cdr(msg))),
    )


def link_timeout(n_frames: int) -> float:
    return 120.0 + 0.05 * n_frames


def run_symbol_link(frames: list[bytes], esn0_db: float, modulation: str,
                    seed: int) -> list[Output]:
    """Send frames through symbol_channel, deframer and ber_estimator; return every output."""
    from gnuradio import blocks, gr
    from gnuradio.semanticnn import ber_estimator, deframer, symbol_channel
    from gnuradio.semanticnn.pdu_utils import make_pdu, pdu_list_source

    tb = gr.top_block()
    source = pdu_list_source([make_pdu({}, f) for f in frames])
    channel = symbol_channel(esn0_db, seed, modulation)
    frame_parser = deframer(PAYLOAD_BYTES)
    estimator = ber_estimator()
    sink = blocks.message_debug()
    tb.msg_connect(source, "out", channel, "in")
    tb.msg_connect(channel, "out", frame_parser, "in")
    tb.msg_connect(frame_parser, "out", estimator, "in")
    tb.msg_connect(estimator, "out", sink, "store")
    tb.start()
    # Every frame leaves the deframer as a payload or an erasure event.
    deadline = time.monotonic() + link_timeout(len(frames))
    while sink.num_messages() < len(frames) and time.monotonic() < deadline:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    if sink.num_messages() < len(frames):
        raise TimeoutError(f"symbol link at Es/N0 {esn0_db} dB timed out: {sink.num_messages()} "
                           f"of {len(frames)} frames came out within "
                           f"{link_timeout(len(frames)):.0f} s")
    return [parse_output(sink.get_message(i)) for i in range(sink.num_messages())]


class DetectionRecorder:
    """Record every detection of a burst_receiver with the hard bits of its fixed part.

    The receiver publishes a header failure without soft values, so the bit
    errors of those bursts are read here: the bits of access code, coded
    header with padding and pilots, from each Detection that
    ``BurstSync.feed`` returns, with its ``sample_index``.
    """

    def __init__(self, receiver) -> None:
        # NOTE: wraps burst_receiver.sync.sync.feed, an internal of the burst
        # receiver (gnuradio.semanticnn.burst); a change there breaks this.
        self.filter_delay = receiver.sync.filter_delay
        self.detections: list[tuple[float, np.ndarray]] = []
        sync = receiver.sync.sync
        feed = sync.feed

        def recording_feed(samples, busy_until=0.0):
            found = feed(samples, busy_until)
            for det in found:
                self.detections.append((det.t0 - self.filter_delay,
                                        (det.fixed_soft > 0).astype(np.uint8)))
            return found

        sync.feed = recording_feed


@dataclass
class BurstLinkRun:
    """Outputs, bursts and receiver counts of one burst-mode flowgraph run."""

    outputs: list[Output]
    bursts: list[tuple[int, int, complex]]  # burst_channel.bursts: stream position, length, gain
    receiver_stats: dict
    stream_samples: int  # samples the receiver read
    detections: list[tuple[float, np.ndarray]] = field(default_factory=list)


def run_burst_link(frames: list[bytes], esn0_db: float, modulation: str, seed: int,
                   fading: str = "none", record_detections: bool = False) -> BurstLinkRun:
    """Send frames through modulator, burst channel, receiver, deframer and ber_estimator."""
    from gnuradio import blocks, gr
    from gnuradio.semanticnn import (ber_estimator, burst_channel, burst_modulator,
                                     burst_receiver, deframer)
    from gnuradio.semanticnn.pdu_utils import make_pdu, pdu_list_source

    tb = gr.top_block()
    source = pdu_list_source([make_pdu({}, f) for f in frames])
    modulator = burst_modulator(modulation, SPS, pre_padding=PRE_PADDING_SYMBOLS)
    channel = burst_channel(esn0_db, modulation, SPS, freq_offset=CFO_PER_SYMBOL / SPS,
                            epsilon=EPSILON, fading=fading, seed=seed)
    receiver = burst_receiver(modulation, SPS)
    recorder = DetectionRecorder(receiver) if record_detections else None
    frame_parser = deframer(PAYLOAD_BYTES)
    estimator = ber_estimator()
    sink = blocks.message_debug()
    tb.msg_connect(source, "out", modulator, "in")
    tb.msg_connect(modulator, "out", channel, "in")
    tb.connect(channel, receiver)
    tb.msg_connect(receiver, "out", frame_parser, "in")
    tb.msg_connect(frame_parser, "out", estimator, "in")
    tb.msg_connect(estimator, "out", sink, "store")
    tb.start()
    finished = wait_for_burst_link(channel, receiver, sink, len(frames))
    tb.stop()
    tb.wait()
    if not finished:
        raise TimeoutError(f"burst link at Es/N0 {esn0_db} dB: the receiver did not reach the end "
                           f"of the stream of {len(frames)} bursts within "
                           f"{link_timeout(len(frames)):.0f} s")
    return BurstLinkRun([parse_output(sink.get_message(i)) for i in range(sink.num_messages())],
                        list(channel.bursts), receiver.stats(), receiver.sync.nitems_read(0),
                        recorder.detections if recorder else [])


def wait_for_burst_link(channel, receiver, sink, n_frames: int) -> bool:
    """Wait until the receiver has read the whole stream and every detection has come out.

    The channel's stream stops after the last burst and its gap, so the
    receiver has read everything once it is within a few samples of the
    stream length over the clock ratio. A detection is finished once it is a
    frame, a header failure or dropped inside a frame, and every frame and
    header failure leaves the BER estimator as one PDU. A detection whose
    frame would end beyond the stream never finishes, so the wait ends
    END_GRACE_SECONDS after the stream end without it. The receiver then
    counts it as ``unfinished_at_stop``. Returns False on timeout.
    """
    deadline = time.monotonic() + link_timeout(n_frames)
    stream_end_seen = math.inf
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if len(channel.bursts) < n_frames:
            continue
        if receiver.sync.nitems_read(0) < channel.gap.position / EPSILON - 64:
            continue
        stream_end_seen = min(stream_end_seen, time.monotonic())
        stats = receiver.stats()
        published = stats["frames"] + stats["header_failures"]
        # Detections whose header is still being decoded, or that wait for more samples.
        unfinished = stats["detections"] - published - stats["inside_frame"]
        grace_over = time.monotonic() - stream_end_seen > END_GRACE_SECONDS
        if sink.num_messages() >= published and (unfinished == 0 or grace_over):
            return True
    return False


def match_to_bursts(sample_indices: np.ndarray, bursts: list) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each detection, the index of its burst (-1 for none) and its offset in samples.

    A burst's access code is expected at its stream position plus the
    transmitter's padding, over the clock ratio, less the channel model's delay.
    """
    expected = ((np.array([b[0] for b in bursts], dtype=float) + PRE_PADDING_SYMBOLS * SPS)
                / EPSILON - CHANNEL_MODEL_DELAY)
    indices = np.asarray(sample_indices, dtype=float)
    if expected.size == 0 or indices.size == 0:
        return np.full(indices.size, -1), np.full(indices.size, np.nan)
    right = np.clip(np.searchsorted(expected, indices), 0, expected.size - 1)
    left = np.clip(right - 1, 0, expected.size - 1)
    nearest = np.where(np.abs(indices - expected[left]) <= np.abs(indices - expected[right]),
                       left, right)
    offset = indices - expected[nearest]
    return np.where(np.abs(offset) <= MATCH_TOLERANCE, nearest, -1), offset


def payload_bit_errors(received: bytes, sent: bytes) -> int:
    diff = np.frombuffer(received, np.uint8) ^ np.frombuffer(sent, np.uint8)
    return int(np.unpackbits(diff).sum())


# -- results folder ---------------------------------------------------------------------


class ResultTable:
    """One CSV file of result rows, appended to as points finish and keyed for resuming."""

    def __init__(self, path: Path, columns: tuple[str, ...], key: tuple[str, ...]) -> None:
        self.path, self.columns, self.key = path, columns, key
        self.rows: list[dict] = []
        if path.exists():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                if tuple(reader.fieldnames or ()) != columns:
                    raise SystemExit(f"{path} has the columns {reader.fieldnames}, but this "
                                     f"script writes {list(columns)}; choose another --out")
                self.rows = list(reader)

    def has(self, **key) -> bool:
        key_values = tuple(str(key[k]) for k in self.key)
        return any(tuple(r[k] for k in self.key) == key_values for r in self.rows)

    def append(self, row: dict) -> None:
        row = {c: row[c] for c in self.columns}
        new_file = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        self.rows.append({c: str(v) for c, v in row.items()})


def write_rows(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def db_key(esn0_db: float) -> str:
    return f"{esn0_db:.2f}"


def check_settings(out: Path, settings: dict, argv: list[str]) -> None:
    """Create run.json, or raise SystemExit if the folder was made with other point settings."""
    from gnuradio import gr

    from semanticnn import __version__

    path = out / "run.json"
    point_settings = {k: settings[k] for k in POINT_SETTINGS}
    if path.exists():
        info = json.loads(path.read_text())
        if info.get("point_settings") != point_settings:
            raise SystemExit(f"{out} contains results made with {info.get('point_settings')}, "
                             f"but this run would use {point_settings}; choose another --out")
        return
    info = {
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["experiments/link_sweep.py", *argv]),
        "point_settings": point_settings,
        "burst_link": {"sps": SPS, "cfo_cycles_per_symbol": CFO_PER_SYMBOL, "epsilon": EPSILON,
                       "rolloff": 0.35, "match_tolerance_samples": MATCH_TOLERANCE},
        "payload_bytes": PAYLOAD_BYTES,
        "snr_convention": "Es/N0 per complex symbol, unit symbol energy",
        "versions": {"semanticnn": __version__, "gnuradio": gr.version(),
                     "numpy": np.__version__, "python": platform.python_version()},
        "invocations": [],
    }
    path.write_text(json.dumps(info, indent=2) + "\n")


def record_invocation(out: Path, argv: list[str], experiments: list[str], seconds: float) -> None:
    path = out / "run.json"
    info = json.loads(path.read_text())
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info["invocations"].append({"argv": argv, "experiments": experiments,
                                "wall_seconds": round(seconds, 1), "finished_utc": finished})
    path.write_text(json.dumps(info, indent=2) + "\n")


# -- experiment: BER against theory and the BER estimate ----------------------------------

BER_COLUMNS = ("mode", "modulation", "esn0_db", "theory_ber", "frames_sent", "frames_decoded",
               "header_failures", "bit_errors", "bits", "ber", "ber_low", "ber_high",
               "relative_error", "esn0_loss_db", "loss_low_db", "loss_high_db", "est_mean",
               "est_p10", "est_p50", "est_p90", "snr_est_mean_db", "unexpected_seq", "seconds")
BURST_ROW_COLUMNS = ("batch", "seq", "bit_errors", "bits", "ber_est", "snr_est_db")


def next_batch_size(frames: int, errors: int, bits: int, theory: float, s: dict) -> int:
    """Return how many frames to send next, 0 when the point has enough errors or frames."""
    if frames >= s["max_frames"]:
        return 0
    if errors >= s["target_errors"] and frames >= s["min_frames"]:
        return 0
    ber = errors / bits if errors >= 10 else theory
    needed = math.ceil(1.2 * max(s["target_errors"] - errors, 0) / max(ber, 1e-9) / PAYLOAD_BITS)
    size = max(needed, s["min_frames"] - frames, 100)
    return min(size, BATCH_FRAMES, s["max_frames"] - frames)


def measure_ber_point(mode: str, modulation: str, esn0_db: float, s: dict) -> tuple[dict, list]:
    """Run batches of random frames until the point has enough errors; return the row and bursts."""
    theory = theory_ber(esn0_db, modulation)
    start = time.monotonic()
    frames = decoded = header_failures = errors = bits = unexpected_seq = 0
    burst_rows: list[dict] = []
    batch = 0
    while n := next_batch_size(frames, errors, bits, theory, s):
        seen: set[int] = set()
        seed = seed_for(s["seed"], "ber", mode, modulation, db_key(esn0_db), batch)
        payloads = random_payloads(n, seed)
        if mode == "symbol":
            outputs = run_symbol_link(build_frames(payloads), esn0_db, modulation, seed)
        else:
            run = run_burst_link(build_frames(payloads), esn0_db, modulation, seed)
            outputs = run.outputs
            header_failures += run.receiver_stats["header_failures"]
        for out in outputs:
            if out.erased:
                # The burst receiver's header failures are counted above, from its stats.
                if mode == "symbol" and out.reason == "header CRC":
                    header_failures += 1
                continue
            if out.seq is None or not 0 <= out.seq < n or out.seq in seen:
                # A false detection whose header passed its CRC, or a burst decoded twice.
                unexpected_seq += 1
                continue
            seen.add(out.seq)
            e = payload_bit_errors(out.payload, payloads[out.seq])
            decoded += 1
            errors += e
            bits += PAYLOAD_BITS
            burst_rows.append({"batch": batch, "seq": out.seq, "bit_errors": e,
                               "bits": PAYLOAD_BITS, "ber_est": f"{out.ber_est:.6g}",
                               "snr_est_db": f"{out.snr_est_db:.4f}"})
        frames += n
        batch += 1

    ber = errors / bits if bits else float("nan")
    low, high = wilson_interval(errors, bits)
    estimates = np.array([float(r["ber_est"]) for r in burst_rows])
    snr_est = np.array([float(r["snr_est_db"]) for r in burst_rows])
    p10, p50, p90 = np.percentile(estimates, [10, 50, 90]) if estimates.size else [math.nan] * 3
    row = {
        "mode": mode, "modulation": modulation, "esn0_db": db_key(esn0_db),
        "theory_ber": f"{theory:.6g}", "frames_sent": frames, "frames_decoded": decoded,
        "header_failures": header_failures, "bit_errors": errors, "bits": bits,
        "ber": f"{ber:.6g}", "ber_low": f"{low:.6g}", "ber_high": f"{high:.6g}",
        "relative_error": f"{(ber - theory) / theory:.4f}",
        "esn0_loss_db": f"{esn0_loss_db(esn0_db, ber, modulation):.4f}",
        # A higher BER bound means a larger loss.
        "loss_low_db": f"{esn0_loss_db(esn0_db, low, modulation):.4f}",
        "loss_high_db": f"{esn0_loss_db(esn0_db, high, modulation):.4f}",
        "est_mean": f"{estimates.mean():.6g}" if estimates.size else "nan",
        "est_p10": f"{p10:.6g}", "est_p50": f"{p50:.6g}", "est_p90": f"{p90:.6g}",
        "snr_est_mean_db": f"{snr_est.mean():.4f}" if snr_est.size else "nan",
        "unexpected_seq": unexpected_seq, "seconds": round(time.monotonic() - start, 1),
    }
    return row, burst_rows


def sweep_ber(out: Path, s: dict, modulations: tuple[str, ...]) -> None:
    table = ResultTable(out / "ber.csv", BER_COLUMNS, ("mode", "modulation", "esn0_db"))
    for mode in ("symbol", "burst"):
        for modulation in modulations:
            for esn0_db in ber_grid(s["ber_targets"], modulation):
                if table.has(mode=mode, modulation=modulation, esn0_db=db_key(esn0_db)):
                    continue
                row, burst_rows = measure_ber_point(mode, modulation, esn0_db, s)
                write_rows(out / "per_frame" / f"ber_{mode}_{modulation}_{db_key(esn0_db)}dB.csv",
                           BURST_ROW_COLUMNS, burst_rows)
                table.append(row)
                print(f"ber: {mode} {modulation} {esn0_db:6.2f} dB: {row['bit_errors']} errors in "
                      f"{row['bits']} bits, BER {float(row['ber']):.3e} (theory "
                      f"{float(row['theory_ber']):.3e}), {row['seconds']} s", flush=True)


# -- experiment: burst-mode frame statistics ---------------------------------------------

FRAME_COLUMNS = ("modulation", "esn0_db", "bursts", "detected", "missed", "false_detections",
                 "false_passed_header", "duplicates", "header_failures", "decoded",
                 "bit_errors", "bits", "wrong_seq", "inside_frame", "rejected_access_code",
                 "unfinished_at_stop", "unlocated", "stream_samples", "max_abs_offset",
                 "seconds")
NOISE_COLUMNS = ("modulation", "samples", "detections", "header_failures", "frames",
                 "inside_frame", "rejected_access_code", "unfinished_at_stop", "seconds")


def batch_sizes(total: int) -> list[int]:
    """Split ``total`` frames into flowgraph runs of at most BATCH_FRAMES."""
    return [min(BATCH_FRAMES, total - first) for first in range(0, total, BATCH_FRAMES)]


def count_frame_batch(modulation: str, esn0_db: float, n: int, seed: int) -> dict:
    """Run one burst link and match its outputs to the bursts; return the counts."""
    payloads = random_payloads(n, seed)
    run = run_burst_link(build_frames(payloads), esn0_db, modulation, seed)
    located = [o for o in run.outputs if o.sample_index is not None]
    burst_of, offsets = match_to_bursts(np.array([o.sample_index for o in located]), run.bursts)

    detected = np.zeros(len(run.bursts), dtype=bool)
    decoded = np.zeros(len(run.bursts), dtype=bool)
    counts = dict.fromkeys(("false_detections", "false_passed_header", "duplicates",
                            "bit_errors", "bits", "wrong_seq"), 0)
    for out, burst in zip(located, burst_of):
        if burst < 0:
            counts["false_detections"] += 1
            counts["false_passed_header"] += int(not out.erased)
            continue
        counts["duplicates"] += int(detected[burst])
        detected[burst] = True
        if out.erased or decoded[burst]:
            continue
        if out.seq != burst:
            counts["wrong_seq"] += 1
            continue
        decoded[burst] = True
        counts["bit_errors"] += payload_bit_errors(out.payload, payloads[burst])
        counts["bits"] += PAYLOAD_BITS
    matched = burst_of >= 0
    stats = run.receiver_stats
    counts.update({
        "bursts": len(run.bursts), "detected": int(detected.sum()),
        "missed": int((~detected).sum()), "header_failures": int((detected & ~decoded).sum()),
        "decoded": int(decoded.sum()), "inside_frame": stats["inside_frame"],
        "rejected_access_code": stats["rejected_access_code"],
        "unfinished_at_stop": stats["unfinished_at_stop"], "stream_samples": run.stream_samples,
        # Outputs without a sample_index (deframer erasures) match no burst and are counted here.
        "unlocated": len(run.outputs) - len(located),
        "max_abs_offset": float(np.max(np.abs(offsets[matched]))) if matched.any() else math.nan,
    })
    return counts


def measure_frame_point(modulation: str, esn0_db: float, s: dict) -> dict:
    start = time.monotonic()
    total: dict = {}
    for batch, n in enumerate(batch_sizes(s["bursts"])):
        seed = seed_for(s["seed"], "frames", modulation, db_key(esn0_db), batch)
        counts = count_frame_batch(modulation, esn0_db, n, seed)
        for key, value in counts.items():
            if key == "max_abs_offset":
                known = [x for x in (total.get(key, math.nan), value) if not math.isnan(x)]
                total[key] = max(known, default=math.nan)
            else:
                total[key] = total.get(key, 0) + value
    total["max_abs_offset"] = f"{total['max_abs_offset']:.2f}"
    return {"modulation": modulation, "esn0_db": db_key(esn0_db), **total,
            "seconds": round(time.monotonic() - start, 1)}


def measure_noise_only(modulation: str, s: dict) -> dict:
    """Run the burst receiver on complex white Gaussian noise alone; every detection is false."""
    from gnuradio import analog, blocks, gr
    from gnuradio.semanticnn import burst_receiver

    start = time.monotonic()
    tb = gr.top_block()
    noise = analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, seed_for(s["seed"], "noise", modulation))
    head = blocks.head(gr.sizeof_gr_complex, s["noise_samples"])
    receiver = burst_receiver(modulation, SPS)
    sink = blocks.message_debug()
    tb.connect(noise, head, receiver)
    tb.msg_connect(receiver, "out", sink, "store")
    tb.run()
    stats = receiver.stats()
    return {"modulation": modulation, "samples": s["noise_samples"],
            "detections": stats["detections"], "header_failures": stats["header_failures"],
            "frames": stats["frames"], "inside_frame": stats["inside_frame"],
            "rejected_access_code": stats["rejected_access_code"],
            "unfinished_at_stop": stats["unfinished_at_stop"],
            "seconds": round(time.monotonic() - start, 1)}


def sweep_frames(out: Path, s: dict) -> None:
    table = ResultTable(out / "frames.csv", FRAME_COLUMNS, ("modulation", "esn0_db"))
    for modulation in MODULATIONS:
        for esn0_db in s["frame_esn0_db"]:
            if table.has(modulation=modulation, esn0_db=db_key(esn0_db)):
                continue
            row = measure_frame_point(modulation, esn0_db, s)
            table.append(row)
            print(f"frames: {modulation} {esn0_db:6.2f} dB: {row['missed']} missed, "
                  f"{row['false_detections']} false, {row['header_failures']} header failures "
                  f"of {row['bursts']} bursts, {row['seconds']} s", flush=True)
    noise_table = ResultTable(out / "noise.csv", NOISE_COLUMNS, ("modulation",))
    for modulation in MODULATIONS:
        if noise_table.has(modulation=modulation):
            continue
        row = measure_noise_only(modulation, s)
        noise_table.append(row)
        print(f"noise only: {modulation}: {row['detections']} detections in {row['samples']} "
              f"samples, {row['seconds']} s", flush=True)


# -- experiment: accuracy over the burst-mode loopback ----------------------------------

ACCURACY_COLUMNS = ("fading", "modulation", "esn0_db", "theory_ber", "images", "correct",
                    "accuracy", "clean_accuracy", "erased", "lost", "header_failures",
                    "known_bit_errors", "known_bits", "channel_ber", "payload_bit_errors",
                    "payload_bits", "payload_ber", "mean_ber_est", "detections", "bursts_sent",
                    "seconds")


def clean_accuracy(n_images: int) -> float:
    """Return the uncompressed backbone's accuracy on the first n test images."""
    from semanticnn import data
    from semanticnn.pipeline import SplitInference

    images, labels = data.load_split("test")
    predictions = SplitInference(None).predict_clean(images[:n_images])
    return float(np.mean(predictions == labels[:n_images].astype(int)))


def measure_accuracy_point(fading: str, esn0_db: float, clean: float, out: Path, s: dict) -> dict:
    from gnuradio.semanticnn import run_burst_loopback

    modulation = s["accuracy_modulation"]
    summary = run_burst_loopback(
        n_images=s["n_images"], esn0_db=esn0_db, modulation=modulation, fading=fading,
        seed=seed_for(s["seed"], "accuracy", fading, modulation, db_key(esn0_db)),
        cfo=CFO_PER_SYMBOL, epsilon=EPSILON,
        filename=str(out / "images" / f"{fading}_{modulation}_{db_key(esn0_db)}dB.csv"),
        timeout=300.0 + 0.2 * s["n_images"])
    known = summary["deframer"]
    theory = (rayleigh_ber(esn0_db, modulation) if fading == "rayleigh_block"
              else theory_ber(esn0_db, modulation))
    channel_ber = (known["known_bit_errors"] / known["known_bits"] if known["known_bits"]
                   else math.nan)
    payload_ber = summary["bit_errors"] / summary["bits"] if summary["bits"] else math.nan
    return {
        "fading": fading, "modulation": modulation, "esn0_db": db_key(esn0_db),
        "theory_ber": f"{theory:.6g}", "images": summary["images"], "correct": summary["correct"],
        "accuracy": f"{summary['accuracy']:.4f}", "clean_accuracy": f"{clean:.4f}",
        "erased": summary["erased"], "lost": summary["lost"],
        "header_failures": summary["erasure_reasons"].get("header CRC", 0),
        "known_bit_errors": known["known_bit_errors"], "known_bits": known["known_bits"],
        "channel_ber": f"{channel_ber:.6g}", "payload_bit_errors": summary["bit_errors"],
        "payload_bits": summary["bits"], "payload_ber": f"{payload_ber:.6g}",
        "mean_ber_est": f"{summary['mean_ber_est']:.6g}",
        "detections": summary["receiver"]["detections"], "bursts_sent": summary["bursts_sent"],
        "seconds": round(summary["seconds"], 1),
    }


def sweep_accuracy(out: Path, s: dict) -> None:
    table = ResultTable(out / "accuracy.csv", ACCURACY_COLUMNS, ("fading", "modulation", "esn0_db"))
    plan = ([("none", x) for x in s["awgn_esn0_db"]]
            + [("rayleigh_block", x) for x in s["fading_esn0_db"]])
    plan = [(fading, x) for fading, x in plan if not table.has(
        fading=fading, modulation=s["accuracy_modulation"], esn0_db=db_key(x))]
    if not plan:
        return
    (out / "images").mkdir(exist_ok=True)
    clean = clean_accuracy(s["n_images"])
    for fading, esn0_db in plan:
        row = measure_accuracy_point(fading, esn0_db, clean, out, s)
        table.append(row)
        print(f"accuracy: {fading} {esn0_db:6.2f} dB: {row['correct']}/{row['images']} correct, "
              f"{row['erased']} erased, {row['seconds']} s", flush=True)


# -- experiment: BER over Rayleigh block fading ------------------------------------------

RAYLEIGH_COLUMNS = ("esn0_db", "bursts", "detected", "missed", "missed_esn0_median_db",
                    "missed_esn0_max_db", "fixed_bit_errors", "fixed_bits", "ber_detected",
                    "theory_rayleigh", "theory_all_gains", "theory_detected_gains", "decoded",
                    "payload_bit_errors", "payload_bits", "payload_ber", "false_detections",
                    "seconds")
RAYLEIGH_BURST_COLUMNS = ("burst", "gain_db", "detected", "fixed_bit_errors", "decoded",
                          "payload_bit_errors")


@dataclass
class RayleighBursts:
    """Per-burst results of the Rayleigh check, in sending order."""

    gains: np.ndarray  # |h|^2
    detected: np.ndarray
    fixed_errors: np.ndarray
    decoded: np.ndarray
    payload_errors: np.ndarray
    false_detections: int


def count_rayleigh_batch(esn0_db: float, n: int, seed: int) -> RayleighBursts:
    """Run one BPSK burst link over Rayleigh block fading and count each burst's bit errors."""
    from semanticnn import frame

    payloads = random_payloads(n, seed)
    frames = build_frames(payloads)
    run = run_burst_link(frames, esn0_db, "bpsk", seed, fading="rayleigh_block",
                         record_detections=True)
    gains = np.array([abs(b[2]) ** 2 for b in run.bursts])
    burst_of, offsets = match_to_bursts(np.array([d[0] for d in run.detections]), run.bursts)

    # Of several detections of one burst, the one nearest its expected position counts.
    best = np.full(n, -1)
    for i, burst in enumerate(burst_of):
        if burst >= 0 and (best[burst] < 0 or abs(offsets[i]) < abs(offsets[best[burst]])):
            best[burst] = i
    fixed_errors = np.zeros(n, dtype=int)
    for burst in np.flatnonzero(best >= 0):
        sent = np.unpackbits(np.frombuffer(frames[burst], np.uint8))[:frame.PAYLOAD_START]
        fixed_errors[burst] = int(np.count_nonzero(run.detections[best[burst]][1] != sent))

    decoded = np.zeros(n, dtype=bool)
    payload_errors = np.zeros(n, dtype=int)
    for out in run.outputs:
        if not out.erased and out.seq is not None and 0 <= out.seq < n and not decoded[out.seq]:
            decoded[out.seq] = True
            payload_errors[out.seq] = payload_bit_errors(out.payload, payloads[out.seq])
    return RayleighBursts(gains, best >= 0, fixed_errors, decoded, payload_errors,
                          int(np.count_nonzero(burst_of < 0)))


def measure_rayleigh_point(esn0_db: float, s: dict) -> tuple[dict, list]:
    """Count bit errors of the detected bursts over Rayleigh block fading (BPSK).

    The fixed part of a frame (access code, coded header with padding, pilots:
    288 bits) is demodulated for every detected burst, whether its header
    passes or not, so its BER covers all detected bursts. The payload is
    demodulated only for the bursts whose header passed.
    """
    from semanticnn import frame
    from semanticnn.ber_estimator import theory_ber as theory

    start = time.monotonic()
    parts = []
    for batch, n in enumerate(batch_sizes(s["rayleigh_bursts"])):
        seed = seed_for(s["seed"], "rayleigh", db_key(esn0_db), batch)
        parts.append(count_rayleigh_batch(esn0_db, n, seed))
    gains = np.concatenate([p.gains for p in parts])
    detected = np.concatenate([p.detected for p in parts])
    fixed_errors = np.concatenate([p.fixed_errors for p in parts])
    decoded = np.concatenate([p.decoded for p in parts])
    payload_errors = np.concatenate([p.payload_errors for p in parts])

    per_burst_theory = theory(gains * 10.0 ** (esn0_db / 10.0), "bpsk")
    missed_esn0_db = esn0_db + 10.0 * np.log10(np.maximum(gains[~detected], 1e-12))
    fixed_bits = int(detected.sum()) * frame.PAYLOAD_START
    payload_bits = int(decoded.sum()) * PAYLOAD_BITS
    row = {
        "esn0_db": db_key(esn0_db), "bursts": gains.size, "detected": int(detected.sum()),
        "missed": int((~detected).sum()),
        "missed_esn0_median_db": (f"{np.median(missed_esn0_db):.2f}" if missed_esn0_db.size
                                  else "nan"),
        "missed_esn0_max_db": f"{np.max(missed_esn0_db):.2f}" if missed_esn0_db.size else "nan",
        "fixed_bit_errors": int(fixed_errors.sum()), "fixed_bits": fixed_bits,
        "ber_detected": f"{fixed_errors.sum() / fixed_bits:.6g}" if fixed_bits else "nan",
        "theory_rayleigh": f"{rayleigh_ber(esn0_db, 'bpsk'):.6g}",
        "theory_all_gains": f"{per_burst_theory.mean():.6g}",
        "theory_detected_gains": (f"{per_burst_theory[detected].mean():.6g}"
                                  if detected.any() else "nan"),
        "decoded": int(decoded.sum()), "payload_bit_errors": int(payload_errors.sum()),
        "payload_bits": payload_bits,
        "payload_ber": f"{payload_errors.sum() / payload_bits:.6g}" if payload_bits else "nan",
        "false_detections": sum(p.false_detections for p in parts),
        "seconds": round(time.monotonic() - start, 1),
    }
    burst_rows = [{"burst": i, "gain_db": f"{10 * math.log10(max(gains[i], 1e-12)):.2f}",
                   "detected": int(detected[i]), "fixed_bit_errors": int(fixed_errors[i]),
                   "decoded": int(decoded[i]), "payload_bit_errors": int(payload_errors[i])}
                  for i in range(gains.size)]
    return row, burst_rows


def sweep_rayleigh(out: Path, s: dict) -> None:
    table = ResultTable(out / "rayleigh.csv", RAYLEIGH_COLUMNS, ("esn0_db",))
    for esn0_db in s["rayleigh_esn0_db"]:
        if table.has(esn0_db=db_key(esn0_db)):
            continue
        row, burst_rows = measure_rayleigh_point(esn0_db, s)
        write_rows(out / "per_frame" / f"rayleigh_bpsk_{db_key(esn0_db)}dB.csv",
                   RAYLEIGH_BURST_COLUMNS, burst_rows)
        table.append(row)
        print(f"rayleigh: {esn0_db:6.2f} dB: {row['missed']} of {row['bursts']} missed, BER over "
              f"detected {float(row['ber_detected']):.3e}, {row['seconds']} s", flush=True)


# -- tables -----------------------------------------------------------------------------


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def sci(value: str | float) -> str:
    x = float(value)
    return "nan" if math.isnan(x) else f"{x:.2e}"


def rate(count: int | str, total: int | str) -> str:
    count, total = int(count), int(total)
    return f"{count} ({count / total:.1%})" if total else f"{count}"


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def ber_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        body.append([r["mode"], r["modulation"], r["esn0_db"],
                     f"{r['frames_decoded']}/{r['frames_sent']}", f"{r['bit_errors']}/{r['bits']}",
                     sci(r["ber"]), sci(r["theory_ber"]),
                     f"{float(r['relative_error']):+.1%}",
                     f"{float(r['esn0_loss_db']):+.2f} ({float(r['loss_low_db']):+.2f}.."
                     f"{float(r['loss_high_db']):+.2f})"])
    return ("### Payload BER against AWGN theory\n\n"
            + markdown_table(["mode", "modulation", "Es/N0 dB", "frames decoded/sent",
                              "bit errors/bits", "BER", "theory", "relative error",
                              "Es/N0 loss dB (95 % interval)"], body)
            + "\n\nPayload bits of the frames whose header passed. Es/N0 loss: the set Es/N0 "
            "minus the Es/N0 at which theory gives the measured BER, so a positive loss means "
            "more Es/N0 is needed than in theory. The interval comes from the Wilson interval "
            "of the BER, which treats the bit errors as independent.\n")


def estimate_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        if r["modulation"] != "bpsk":
            continue
        ratio = float(r["est_mean"]) / float(r["ber"]) if float(r["ber"]) > 0 else math.nan
        snr_error = float(r["snr_est_mean_db"]) - float(r["esn0_db"])
        body.append([r["mode"], r["esn0_db"], sci(r["ber"]), sci(r["est_mean"]), f"{ratio:.2f}",
                     "yes" if 0.5 <= ratio <= 2.0 else "no",
                     f"{sci(r['est_p10'])} / {sci(r['est_p50'])} / {sci(r['est_p90'])}",
                     f"{float(r['snr_est_mean_db']):.2f}", f"{snr_error:+.2f}"])
    return ("### BER estimate against measured BER (BPSK)\n\n"
            + markdown_table(["mode", "Es/N0 dB", "measured BER", "mean ber_est",
                              "mean / measured", "within 2x", "ber_est p10 / p50 / p90",
                              "mean snr_est dB", "snr_est - set dB"], body)
            + "\n\nber_est: the ber_estimator block's combined pilot and SNR estimate per frame "
            "whose header passed, over the same frames as the measured payload BER.\n")


def frames_table(rows: list[dict], noise_rows: list[dict]) -> str:
    body = []
    for r in rows:
        samples = int(r["stream_samples"])
        per_million = int(r["false_detections"]) / samples * 1e6 if samples else math.nan
        ber = int(r["bit_errors"]) / int(r["bits"]) if int(r["bits"]) else math.nan
        body.append([r["modulation"], r["esn0_db"], r["bursts"], rate(r["missed"], r["bursts"]),
                     rate(r["false_detections"], r["bursts"]), f"{per_million:.2f}",
                     rate(r["header_failures"], r["detected"]),
                     f"{sci(ber)} ({r['bit_errors']}/{r['bits']})", r["inside_frame"],
                     r["max_abs_offset"]])
    noise_body = []
    for r in noise_rows:
        per_million = int(r["detections"]) / int(r["samples"]) * 1e6
        noise_body.append([r["modulation"], r["samples"], r["detections"], r["header_failures"],
                           r["frames"], r["rejected_access_code"], f"{per_million:.3f}"])
    return ("### Burst mode frame statistics\n\n"
            + markdown_table(["modulation", "Es/N0 dB", "bursts", "missed",
                              "false detections (per burst)", "false per 1e6 samples",
                              "header failures (of detected)",
                              "payload BER of decoded (errors/bits)",
                              "dropped inside a frame", "max offset samples"], body)
            + "\n\nA burst is detected when the receiver publishes a frame or a header failure "
            f"within {MATCH_TOLERANCE:g} samples of its expected position; an output near no "
            "burst is a false detection. Dropped inside a frame: detections that the receiver "
            "discarded because they lay inside a frame whose header passed. Max offset: the "
            "largest distance of a matched detection from its expected position.\n\n"
            "### Burst receiver on noise alone\n\n"
            + markdown_table(["modulation", "samples", "detections", "header failures",
                              "frames", "rejected by access-code check",
                              "detections per 1e6 samples"],
                             noise_body) + "\n")


def accuracy_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        body.append([r["fading"], r["esn0_db"], sci(r["theory_ber"]),
                     f"{sci(r['channel_ber'])} ({r['known_bit_errors']}/{r['known_bits']})",
                     sci(r["payload_ber"]), sci(r["mean_ber_est"]), r["header_failures"],
                     f"{r['erased']} ({r['lost']})",
                     f"{float(r['accuracy']):.3f} ({r['correct']}/{r['images']})"])
    clean = rows[0]["clean_accuracy"] if rows else "nan"
    return ("### Accuracy over the burst-mode loopback\n\n"
            + markdown_table(["fading", "Es/N0 dB", "theory BER", "channel BER (errors/bits)",
                              "payload BER", "mean ber_est", "header failures",
                              "erased (lost)", "accuracy (correct/total)"], body)
            + f"\n\nModulation {rows[0]['modulation'] if rows else '?'}; clean backbone accuracy "
            f"on the same images {float(clean):.3f}. Channel BER: access code and pilot bits of "
            "the frames whose header passed at the receiver. Lost: bursts that were never "
            "detected, scored with the decoder's prediction from no payload.\n")


def rayleigh_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        ber = float(r["ber_detected"])
        theory = float(r["theory_detected_gains"])
        ratio = ber / theory if theory else math.nan
        body.append([r["esn0_db"], r["bursts"], rate(r["missed"], r["bursts"]),
                     f"{r['missed_esn0_median_db']} / {r['missed_esn0_max_db']}",
                     f"{sci(ber)} ({r['fixed_bit_errors']}/{r['fixed_bits']})",
                     sci(r["theory_rayleigh"]), sci(r["theory_all_gains"]),
                     sci(r["theory_detected_gains"]), f"{ratio:.2f}", sci(r["payload_ber"])])
    return ("### BPSK over Rayleigh block fading\n\n"
            + markdown_table(["Es/N0 dB", "bursts", "missed", "missed burst Es/N0 median / max dB",
                              "BER of detected (errors/bits)", "Rayleigh theory",
                              "theory over all drawn gains", "theory over detected gains",
                              "measured / detected theory", "payload BER of decoded"], body)
            + "\n\nBER of detected: the 288 bits of access code, coded header and pilots of every "
            "detected burst, whatever its header. Theory over gains: the mean AWGN BER at "
            "|h|^2 Es/N0 over the drawn gains of all bursts or of the detected ones. Missed "
            "burst Es/N0: |h|^2 times the set Es/N0.\n")


def render_tables(out: Path, experiments: list[str]) -> str:
    parts = []
    ber_rows = read_rows(out / "ber.csv")
    if "ber" in experiments and ber_rows:
        parts.append(ber_table(ber_rows))
    if "estimate" in experiments and ber_rows:
        parts.append(estimate_table(ber_rows))
    if "frames" in experiments:
        parts.append(frames_table(read_rows(out / "frames.csv"), read_rows(out / "noise.csv")))
    if "accuracy" in experiments:
        parts.append(accuracy_table(read_rows(out / "accuracy.csv")))
    if "rayleigh" in experiments:
        parts.append(rayleigh_table(read_rows(out / "rayleigh.csv")))
    return "\n".join(parts)


# -- main -------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--what", nargs="+", choices=EXPERIMENTS + ("all",), default=["all"],
                   help="experiments to run (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: fewer points, frames and images")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder; an existing one is resumed "
                   "(default: results/link-<UTC time>)")
    p.add_argument("--seed", type=int, default=1, help="base seed of payloads, noise and fading "
                   "(default: 1)")

    p.add_argument("--ber-targets", type=float, nargs="+",
                   help="ber: theory BERs that set the Es/N0 points (default: 1e-1 to 1e-4 in "
                   "1-2-5 steps)")
    p.add_argument("--target-errors", type=int, help="ber: payload bit errors per point "
                   "(default: 200)")
    p.add_argument("--min-frames", type=int, help="ber: minimum frames per point (default: 1000)")
    p.add_argument("--max-frames", type=int, help="ber: maximum frames per point (default: 20000)")

    p.add_argument("--frame-esn0-db", type=float, nargs="+",
                   help="frames: Es/N0 points in dB (default: -4 to 10 in 2 dB steps)")
    p.add_argument("--bursts", type=int, help="frames: bursts per point (default: 2000)")
    p.add_argument("--noise-samples", type=int,
                   help="frames: samples of noise alone per modulation (default: 5000000)")

    p.add_argument("--awgn-esn0-db", type=float, nargs="+",
                   help="accuracy: AWGN Es/N0 points in dB (default: -4 to 8 in 2 dB steps)")
    p.add_argument("--fading-esn0-db", type=float, nargs="+",
                   help="accuracy: Rayleigh block fading Es/N0 points in dB (default: 0 to 20 "
                   "in 2.5 dB steps)")
    p.add_argument("--n-images", type=int, help="accuracy: test images per point (default: 1000)")
    p.add_argument("--accuracy-modulation", choices=MODULATIONS, default="bpsk",
                   help="accuracy: modulation (default: bpsk)")

    p.add_argument("--rayleigh-esn0-db", type=float, nargs="+",
                   help="rayleigh: Es/N0 points in dB (default: 0, 5, 10, 15, 20)")
    p.add_argument("--rayleigh-bursts", type=int,
                   help="rayleigh: bursts per point (default: 10000)")
    return p.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> dict:
    """Return the run's settings: the options given, else the full or --quick defaults."""
    preset = QUICK if args.quick else FULL
    settings = {key: getattr(args, key) if getattr(args, key) is not None else value
                for key, value in preset.items()}
    settings["seed"] = args.seed
    settings["accuracy_modulation"] = args.accuracy_modulation
    for key in ("target_errors", "min_frames", "max_frames", "bursts", "noise_samples",
                "n_images", "rayleigh_bursts"):
        if settings[key] < 1:
            raise SystemExit(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    if settings["min_frames"] > settings["max_frames"]:
        raise SystemExit(f"--min-frames ({settings['min_frames']}) is above --max-frames "
                         f"({settings['max_frames']})")
    bad = [t for t in settings["ber_targets"] if not 0.0 < t < 0.5]
    if bad:
        raise SystemExit(f"--ber-targets must lie in (0, 0.5), got {bad}")
    return settings


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    settings = resolve_settings(args)
    experiments = list(EXPERIMENTS) if "all" in args.what else list(dict.fromkeys(args.what))

    from gnuradio import gr

    # The tables report each run; the blocks' INFO logs would repeat it.
    gr.logging().set_default_level(gr.log_levels.warn)
    started = time.monotonic()
    out = args.out or Path("results") / datetime.now(timezone.utc).strftime("link-%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, settings, argv)
    print(f"results in {out}/", flush=True)

    if "ber" in experiments:
        sweep_ber(out, settings, MODULATIONS)
    elif "estimate" in experiments:
        sweep_ber(out, settings, ("bpsk",))
    if "frames" in experiments:
        sweep_frames(out, settings)
    if "accuracy" in experiments:
        sweep_accuracy(out, settings)
    if "rayleigh" in experiments:
        sweep_rayleigh(out, settings)

    tables = render_tables(out, experiments)
    (out / "tables.md").write_text(tables)
    seconds = time.monotonic() - started
    record_invocation(out, argv, experiments, seconds)
    print()
    print(tables)
    print(f"wall time {seconds:.0f} s; results in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
