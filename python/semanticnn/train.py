# SPDX-License-Identifier: GPL-3.0-or-later
"""Training of the backbone and of the codec against the frozen backbone."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint, data
from .backbone import Backbone
from .channels import sample_training_ber
from .codec import SemanticCodec
from .config import BackboneConfig, CodecConfig

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> torch.Generator:
    """Seed PyTorch's global generator and return a dedicated generator for data order."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and random shift by up to 2 pixels (zero padding)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    background = (0.0 - data.MEAN) / data.STD
    padded = F.pad(x, (2, 2, 2, 2), value=background)
    dx, dy = (torch.randint(0, 5, (2,), generator=generator)).tolist()
    return padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def _training_set(limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    if limit < 0:
        raise ValueError(f"limit must be 0 (all images) or positive, got {limit}")
    x, y = data.load_tensors("train")
    return (x[:limit], y[:limit]) if limit else (x, y)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 1000) -> float:
    """Return the top-1 accuracy of ``model`` on ``(x, y)``."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / len(x)


@dataclass
class BackboneTrainingConfig:
    epochs: int = 10
    batch_size: int = 256
    max_lr: float = 0.2
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seed: int = 0


def train_backbone(out: Path, config: BackboneConfig = BackboneConfig(),
                   tc: BackboneTrainingConfig = BackboneTrainingConfig(),
                   device: str = "cpu", progress: bool = True, limit: int = 0) -> float:
    """Train the backbone on Fashion-MNIST, save it to ``out`` and return its test accuracy.

    ``limit`` > 0 trains on the first ``limit`` training images only.
    """
    gen = seed_everything(tc.seed)
    x_train, y_train = _training_set(limit)
    x_test, y_test = data.load_tensors("test")
    model = Backbone(config.num_classes, config.stem_channels, config.widths).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=tc.max_lr, momentum=0.9, nesterov=True,
                          weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / tc.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.max_lr,
                                                total_steps=tc.epochs * steps_per_epoch)
    start = time.monotonic()
    for epoch in range(tc.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"backbone epoch {epoch + 1}/{tc.epochs}",
                   disable=not progress, leave=False)
        correct = seen = 0
        for step in bar:
            idx = order[step * tc.batch_size:(step + 1) * tc.batch_size]
            xb = augment(x_train[idx], gen).to(device)
            yb = y_train[idx].to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=tc.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
        test_acc = accuracy(model, x_test.to(device), y_test.to(device))
        log.info("backbone epoch %d/%d: train acc %.4f, test acc %.4f, %.0f s",
                 epoch + 1, tc.epochs, correct / seen, test_acc, time.monotonic() - start)
    model = model.cpu().eval()
    checkpoint.save(out, model, config, meta={
        "backbone_test_accuracy": test_acc, "backbone_seed": tc.seed,
        "backbone_epochs": tc.epochs, "backbone_train_seconds": round(time.monotonic() - start),
    })
    return test_acc


@dataclass
class CodecTrainingConfig:
    """Settings of the joint codec training stage against the frozen backbone.

    The loss is the cross-entropy of the frozen tail on the decoded features plus
    ``feature_weight`` times the mean squared error to the clean split features.
    """

    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    feature_weight: float = 1.0
    ber_min: float = 1e-4
    ber_max: float = 2e-1
    p_zero_ber: float = 0.1
    p_erased: float = 0.02
    seed: int = 0


def codec_loss(codec: SemanticCodec, backbone: Backbone, clean: torch.Tensor, labels: torch.Tensor,
               ber: torch.Tensor, ber_est: torch.Tensor, erased: torch.Tensor | None = None,
               feature_weight: float = 1.0, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the joint loss and the tail's logits for clean split features sent through the codec.

    The loss is the cross-entropy of the frozen tail on the decoded features
    plus ``feature_weight`` times their mean squared error to the clean features.
    """
    decoded, _ = codec(clean, ber, ber_est, erased, generator)
    logits = backbone.tail(decoded)
    loss = F.cross_entropy(logits, labels) + feature_weight * F.mse_loss(decoded, clean)
    return loss, logits


def train_codec(backbone_checkpoint: Path, out: Path, config: CodecConfig = CodecConfig(),
                tc: CodecTrainingConfig = CodecTrainingConfig(), device: str = "cpu",
                progress: bool = True, limit: int = 0) -> SemanticCodec:
    """Train the codec against the frozen backbone of ``backbone_checkpoint``; save both to ``out``.

    ``limit`` > 0 trains on the first ``limit`` training images only.
    """
    from .ber_estimator import simulate_pilot_estimate
    from .frame import N_PILOT_BITS

    gen = seed_everything(tc.seed)
    backbone, bconfig, payload = checkpoint.load_backbone(backbone_checkpoint)
    if config.in_channels != bconfig.stem_channels:
        raise ValueError(f"codec in_channels={config.in_channels} but the backbone's stem has "
                         f"{bconfig.stem_channels} channels")
    backbone = backbone.to(device).eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    codec = SemanticCodec(config).to(device)
    x_train, y_train = _training_set(limit)
    opt = torch.optim.Adam(codec.parameters(), lr=tc.lr)
    steps_per_epoch = math.ceil(len(x_train) / tc.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, pct_start=0.1,
                                                total_steps=tc.epochs * steps_per_epoch)
    start = time.monotonic()
    for epoch in range(tc.epochs):
        codec.train()
        order = torch.randperm(len(x_train), generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"codec epoch {epoch + 1}/{tc.epochs}",
                   disable=not progress, leave=False)
        correct = seen = 0
        for step in bar:
            idx = order[step * tc.batch_size:(step + 1) * tc.batch_size]
            xb = augment(x_train[idx], gen).to(device)
            yb = y_train[idx].to(device)
            n = len(yb)
            with torch.no_grad():
                clean = backbone.head(xb)
            ber = sample_training_ber(n, tc.ber_min, tc.ber_max, tc.p_zero_ber, gen)
            ber_est = simulate_pilot_estimate(ber, N_PILOT_BITS, gen)
            erased = torch.rand(n, generator=gen) < tc.p_erased
            loss, logits = codec_loss(codec, backbone, clean, yb, ber, ber_est, erased,
                                      tc.feature_weight, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            correct += (logits.argmax(1) == yb).sum().item()
            seen += n
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
        log.info("codec epoch %d/%d: train acc under the channel %.4f, %.0f s",
                 epoch + 1, tc.epochs, correct / seen, time.monotonic() - start)
    codec = codec.cpu().eval()
    codec.check_centres()
    meta = dict(payload.get("meta", {}))
    meta.update({"codec_seed": tc.seed, "codec_epochs": tc.epochs,
                 "codec_train_seconds": round(time.monotonic() - start)})
    checkpoint.save(out, backbone.cpu(), bconfig, codec, config, meta=meta)
    return codec
