# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``semanticnn`` command: train, evaluate and inspect checkpoints."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import checkpoint, data, frame

log = logging.getLogger("semanticnn")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the backbone and the codec on Fashion-MNIST",
                       description="Train the backbone (stage 'backbone'), then the codec "
                                   "against the frozen backbone (stage 'codec'), with fixed seeds.")
    p.add_argument("--stage", choices=("all", "backbone", "codec"), default="all",
                   help="what to train (default: all)")
    p.add_argument("--out", type=Path, default=Path("runs/fashion_mnist.pt"),
                   help="checkpoint to write (default: runs/fashion_mnist.pt)")
    p.add_argument("--backbone", type=Path, default=None,
                   help="checkpoint whose backbone the codec stage uses (default: --out)")
    p.add_argument("--epochs", type=int, default=10, help="backbone epochs (default: 10)")
    p.add_argument("--stage1-epochs", type=int, default=2,
                   help="codec stage 1 (denoising reconstruction) epochs (default: 2)")
    p.add_argument("--stage2-epochs", type=int, default=4,
                   help="codec stage 2 (task, distillation, feature matching) epochs (default: 4)")
    p.add_argument("--channel", choices=("iid", "burst"), default="iid",
                   help="training channel: independent flips or Gilbert-Elliott bursts (default: iid)")
    p.add_argument("--burst-length", type=float, default=8.0,
                   help="mean burst length in bits of the burst channel (default: 8)")
    p.add_argument("--ber-min", type=float, default=1e-4,
                   help="smallest nonzero training BER; BERs are log-uniform (default: 1e-4)")
    p.add_argument("--ber-max", type=float, default=2e-1, help="largest training BER (default: 0.2)")
    p.add_argument("--p-zero-ber", type=float, default=0.1,
                   help="share of training samples sent without errors (default: 0.1)")
    p.add_argument("--p-erased", type=float, default=0.02,
                   help="share of training samples erased whole (default: 0.02)")
    p.add_argument("--soft-input", action="store_true",
                   help="train the decoder on per-bit LLRs (BPSK over AWGN at the drawn BER) "
                        "instead of hard bits")
    p.add_argument("--codec-id", type=int, default=1,
                   help="codec id written into frame headers, 0..255; give each trained "
                        "codec its own (default: 1)")
    p.add_argument("--no-xai", action="store_true",
                   help="weight the feature reconstruction evenly instead of by Integrated Gradients")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted codec training from its last finished epoch")
    p.add_argument("--limit", type=int, default=0,
                   help="train on the first N training images only, for quick checks")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data order")
    p.add_argument("--device", default=None,
                   help="torch device, e.g. cpu or cuda (default: cuda when present, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy on the bit channel at several BERs",
                       description="Send every test image's payload through the bit channel "
                                   "(independent flips or bursts) and print accuracy with counts "
                                   "and a 95 % confidence interval per BER. Passes with new "
                                   "channel draws repeat until --target-wrong images are wrong.")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="checkpoint (default: the packaged Fashion-MNIST weights)")
    p.add_argument("--ber", type=float, nargs="+", default=None,
                   help="channel BERs (default: 0 1e-3 1e-2 5e-2 1e-1)")
    p.add_argument("--n-images", type=int, default=10000, help="test images (default: 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bit flips")
    p.add_argument("--channel", choices=("iid", "burst"), default="iid",
                   help="independent flips or Gilbert-Elliott bursts (default: iid)")
    p.add_argument("--burst-length", type=float, default=8.0,
                   help="mean burst length in bits of the burst channel (default: 8)")
    p.add_argument("--target-wrong", type=int, default=500,
                   help="repeat passes with new channel draws until this many images are "
                        "wrong (default: 500)")
    p.add_argument("--max-images", type=int, default=100_000,
                   help="cap on images scored per BER, passes included (default: 100000)")


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="print a checkpoint's configuration and rate")
    p.add_argument("checkpoint", type=Path, nargs="?", default=None,
                   help="checkpoint (default: the packaged Fashion-MNIST weights)")
    p.add_argument("--checkpoint", type=Path, dest="checkpoint_option", default=None,
                   help="the same as the positional argument, as in 'evaluate'")


def cmd_train(args) -> int:
    from .config import BackboneConfig, CodecConfig
    from .train import BackboneTrainingConfig, CodecTrainingConfig, train_backbone, train_codec

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    start = time.monotonic()
    if args.stage in ("all", "backbone"):
        acc = train_backbone(args.out, BackboneConfig(),
                             BackboneTrainingConfig(epochs=args.epochs, seed=args.seed),
                             device=device, progress=not args.no_progress, limit=args.limit)
        print(f"backbone test accuracy: {acc:.4f} ({args.out})")
    if args.stage in ("all", "codec"):
        source = args.backbone or args.out
        tc = CodecTrainingConfig(stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs,
                                 channel=args.channel, burst_length=args.burst_length,
                                 ber_min=args.ber_min, ber_max=args.ber_max,
                                 p_zero_ber=args.p_zero_ber, p_erased=args.p_erased,
                                 xai=not args.no_xai, seed=args.seed)
        config = CodecConfig(codec_id=args.codec_id, soft_input=args.soft_input)
        train_codec(source, args.out, config, tc, device=device,
                    progress=not args.no_progress, limit=args.limit, resume=args.resume)
        print(f"codec trained against {source}, saved to {args.out}")
    print(f"training took {time.monotonic() - start:.0f} s")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import DEFAULT_BERS, evaluate_monte_carlo
    from .pipeline import SplitInference

    model = SplitInference(args.checkpoint)
    images, labels = data.load_split("test")
    if not 1 <= args.n_images <= len(images):
        raise ValueError(f"--n-images must be 1..{len(images)}, got {args.n_images}")
    images, labels = images[:args.n_images], labels[:args.n_images].astype(int)
    bers = args.ber if args.ber is not None else DEFAULT_BERS
    for ber in bers:
        if not 0.0 <= ber <= 0.5:
            raise ValueError(f"--ber values must be in [0, 0.5], got {ber}")
    clean = int((model.predict_clean(images) == labels).sum())
    cfg = model.config
    print(f"checkpoint: {model.checkpoint_path}")
    print(f"payload: {cfg.payload_bits} bits = {cfg.payload_bytes} bytes per image; frame "
          f"{frame.frame_bytes(cfg.payload_bytes)} bytes")
    print(f"clean backbone: {clean}/{len(images)} = {clean / len(images):.4f}")
    print(f"{'BER':>8} {'bit errors':>11} {'bits':>10} {'measured BER':>12} "
          f"{'mean est. BER':>13} {'correct':>8} {'images':>7} {'accuracy':>9} {'95 % CI':>17}")
    for ber in bers:
        r = evaluate_monte_carlo(model, images, labels, ber, args.target_wrong, args.max_images,
                                 seed=args.seed, channel=args.channel,
                                 burst_length=args.burst_length)
        low, high = r.confidence_interval()
        print(f"{ber:8.0e} {r.bit_errors:11d} {r.bits:10d} {r.measured_ber:12.3e} "
              f"{r.mean_ber_est:13.3e} {r.correct:8d} {r.images:7d} {r.accuracy:9.4f} "
              f"[{low:.4f}, {high:.4f}]")
    return 0


def cmd_info(args) -> int:
    path = args.checkpoint or args.checkpoint_option or checkpoint.DEFAULT_CHECKPOINT
    backbone, codec = checkpoint.load(path)
    cfg = codec.config
    meta = checkpoint.load_raw(path).get("meta", {})
    feature_bytes = 4 * cfg.in_channels * cfg.height * cfg.width
    print(f"checkpoint: {path}")
    print(f"sha256: {checkpoint.file_sha256(path)}")
    print(f"codec id: {cfg.codec_id}")
    print("decoder input: " + ("per-bit LLRs (soft values)" if cfg.soft_input else "hard bits"))
    crop = f", central {cfg.crop}x{cfg.crop} sent" if cfg.crop else ""
    print(f"latent: {'x'.join(map(str, cfg.latent_shape))} symbols{crop}, L = {cfg.levels} centres "
          f"({cfg.bits_per_symbol} bits each), {cfg.labelling} labelling")
    print(f"centres: {', '.join(f'{c:.4f}' for c in codec.quantizer.centres().tolist())}")
    print(f"payload: {cfg.payload_bits} bits = {cfg.payload_bytes} bytes per image")
    print(f"frame: {frame.frame_bytes(cfg.payload_bytes)} bytes per image (access code, "
          f"header, pilots, payload)")
    print(f"float32 split features: {feature_bytes} bytes ({feature_bytes / cfg.payload_bytes:.0f}x "
          f"the payload); raw image: {cfg.height * cfg.width} bytes")
    for key in sorted(meta):
        print(f"{key}: {meta[key]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="semanticnn", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_evaluate(sub)
    _add_info(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "info": cmd_info}
    try:
        return commands[args.command](args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"semanticnn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
