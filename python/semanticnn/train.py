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
from .channels import make_channel, sample_training_ber
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


BER_INPUTS = ("estimate", "pilot", "exact", "fixed")


@dataclass
class CodecTrainingConfig:
    """Settings of the two-stage codec training against the frozen backbone.

    Stage 1 trains encoder and decoder as a denoising autoencoder: the (XAI
    weighted) mean squared error between decoded and clean split features,
    under the training channel. Stage 2 adds the task: cross-entropy of the
    frozen tail on the decoded features, plus ``distill_weight`` times the
    distillation loss from the clean logits at ``temperature``, plus
    ``feature_weight`` times the weighted feature-matching term.

    The decoder's BER input (``ber_input``) is by default what the receiver's
    estimator, pilots and SNR combined, would report for the drawn channel BER
    (``estimate``); ``pilot`` gives what the pilots alone would report. The
    ablations give it the exact channel BER (``exact``, as the published code
    gives the exact SNR) or always ``fixed_ber_est`` (``fixed``, no BER
    awareness). ``centres`` ``fixed_random`` freezes random centres, as in the
    published code; ``channel`` ``symbol`` replaces whole symbols, as it does.
    """

    stage1_epochs: int = 2
    stage2_epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    feature_weight: float = 1.0
    distill_weight: float = 1.0
    temperature: float = 4.0
    xai: bool = True
    xai_images: int = 2000
    xai_steps: int = 16
    xai_floor: float = 0.5
    channel: str = "iid"
    burst_length: float = 8.0
    ber_min: float = 1e-4
    ber_max: float = 2e-1
    p_zero_ber: float = 0.1
    p_erased: float = 0.02
    ber_input: str = "estimate"
    fixed_ber_est: float = 1e-2
    centres: str = "learned"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.stage1_epochs < 0 or self.stage2_epochs < 0 or self.stage1_epochs + self.stage2_epochs == 0:
            raise ValueError(f"need a positive number of epochs, got stage 1 {self.stage1_epochs}, "
                             f"stage 2 {self.stage2_epochs}")
        if self.channel == "burst" and self.ber_max >= 0.5:
            raise ValueError(f"the burst channel needs ber_max below 0.5, got {self.ber_max}")
        make_channel(self.channel, self.burst_length)
        if self.ber_input not in BER_INPUTS:
            raise ValueError(f"ber_input must be one of {BER_INPUTS}, got {self.ber_input!r}")
        if self.centres not in ("learned", "fixed_random"):
            raise ValueError(f"centres must be 'learned' or 'fixed_random', got {self.centres!r}")


def codec_loss(codec: SemanticCodec, backbone: Backbone, clean: torch.Tensor, labels: torch.Tensor,
               ber: torch.Tensor, ber_est: torch.Tensor, erased: torch.Tensor | None = None,
               feature_weight: float = 1.0, generator: torch.Generator | None = None,
               channel=None, weights: torch.Tensor | None = None, task: bool = True,
               distill_weight: float = 0.0, temperature: float = 4.0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the codec loss and the tail's logits for clean split features sent through the codec.

    ``weights`` (B, C, H, W) weight the squared feature error element by
    element; None weights every element 1. With ``task`` False only that
    reconstruction term counts (stage 1).
    """
    decoded, _ = codec(clean, ber, ber_est, erased, generator, channel)
    squared = (decoded - clean) ** 2
    reconstruction = (squared * weights).mean() if weights is not None else squared.mean()
    if not task:
        with torch.no_grad():
            return reconstruction, backbone.tail(decoded)
    logits = backbone.tail(decoded)
    loss = F.cross_entropy(logits, labels) + feature_weight * reconstruction
    if distill_weight > 0:
        with torch.no_grad():
            teacher = F.softmax(backbone.tail(clean) / temperature, dim=1)
        student = F.log_softmax(logits / temperature, dim=1)
        loss = loss + distill_weight * temperature ** 2 * F.kl_div(student, teacher,
                                                                    reduction="batchmean")
    return loss, logits


def state_path(out: Path) -> Path:
    """Return where the training state of checkpoint ``out`` is kept between epochs."""
    return out.with_name(out.name + ".train-state")


def _save_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _load_state(path: Path, identity: dict) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("identity") != identity:
        log.warning("ignoring %s: it belongs to a run with other settings", path)
        return None
    return state


def train_codec(backbone_checkpoint: Path, out: Path, config: CodecConfig = CodecConfig(),
                tc: CodecTrainingConfig = CodecTrainingConfig(), device: str = "cpu",
                progress: bool = True, limit: int = 0, resume: bool = False,
                epoch_budget: int = 0) -> SemanticCodec | None:
    """Train the codec against the frozen backbone of ``backbone_checkpoint``; save both to ``out``.

    ``limit`` > 0 trains on the first ``limit`` training images only. With
    ``resume``, training continues after the last finished epoch of an
    interrupted run with the same settings; the state is saved after every epoch.
    ``epoch_budget`` > 0 stops after that many epochs in this call (for jobs in
    time-limited slots) and returns None; resume later to finish.
    """
    from dataclasses import asdict

    from .ber_estimator import simulate_combined_estimate, simulate_pilot_estimate
    from .frame import N_PILOT_BITS
    from .xai import class_attribution_maps, reconstruction_weights

    gen = seed_everything(tc.seed)
    backbone, bconfig, payload = checkpoint.load_backbone(backbone_checkpoint)
    if config.in_channels != bconfig.stem_channels:
        raise ValueError(f"codec in_channels={config.in_channels} but the backbone's stem has "
                         f"{bconfig.stem_channels} channels")
    backbone = backbone.to(device).eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    codec = SemanticCodec(config).to(device)
    if tc.centres == "fixed_random":
        codec.quantizer.freeze_random(gen)
    x_train, y_train = _training_set(limit)
    channel = make_channel(tc.channel, tc.burst_length, config.bits_per_symbol)
    start = time.monotonic()

    class_weights = None
    if tc.xai:
        n = min(tc.xai_images, len(x_train))
        maps = class_attribution_maps(backbone.head, backbone.tail, x_train[:n].to(device),
                                      y_train[:n].to(device), bconfig.num_classes, tc.xai_steps)
        class_weights = reconstruction_weights(maps, tc.xai_floor).to(device)
        log.info("XAI maps from %d images (%d IG steps): %.0f s", n, tc.xai_steps,
                 time.monotonic() - start)

    identity = {"codec_config": config.to_dict(), "training": asdict(tc), "limit": limit,
                "backbone_sha256": checkpoint.file_sha256(backbone_checkpoint)}
    spath = state_path(out)
    state = _load_state(spath, identity) if resume else None
    stages = [(1, tc.stage1_epochs), (2, tc.stage2_epochs)]
    done_stage, done_epoch = 0, 0
    if state is not None:
        codec.load_state_dict(state["codec"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        done_stage, done_epoch = state["stage"], state["epoch"]
        log.info("resuming after stage %d epoch %d from %s", done_stage, done_epoch, spath)

    steps_per_epoch = math.ceil(len(x_train) / tc.batch_size)
    epochs_run = 0
    for stage, epochs in stages:
        if epochs == 0 or stage < done_stage or (stage == done_stage and done_epoch == epochs):
            continue
        opt = torch.optim.Adam(codec.parameters(), lr=tc.lr)
        total = epochs * steps_per_epoch
        if total >= 4:
            # At least two warm-up and two annealing steps: OneCycleLR divides by
            # the length of each phase.
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=tc.lr, total_steps=total,
                pct_start=min(max(0.1, 2.0 / total), (total - 2.0) / total))
        else:
            # Too few steps for a one-cycle schedule: a constant learning rate.
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
        first_epoch = 0
        if state is not None and stage == done_stage:
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            first_epoch = done_epoch
        for epoch in range(first_epoch, epochs):
            codec.train()
            order = torch.randperm(len(x_train), generator=gen)
            bar = tqdm(range(steps_per_epoch), desc=f"codec stage {stage} epoch {epoch + 1}/{epochs}",
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
                if tc.ber_input == "estimate":
                    ber_est = simulate_combined_estimate(ber, N_PILOT_BITS, generator=gen)
                elif tc.ber_input == "pilot":
                    ber_est = simulate_pilot_estimate(ber, N_PILOT_BITS, gen)
                elif tc.ber_input == "exact":
                    ber_est = ber.clone()
                else:
                    ber_est = torch.full_like(ber, tc.fixed_ber_est)
                erased = torch.rand(n, generator=gen) < tc.p_erased
                weights = class_weights[yb] if class_weights is not None else None
                loss, logits = codec_loss(codec, backbone, clean, yb, ber, ber_est, erased,
                                          tc.feature_weight, gen, channel, weights,
                                          task=stage == 2, distill_weight=tc.distill_weight,
                                          temperature=tc.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                correct += (logits.argmax(1) == yb).sum().item()
                seen += n
                bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
            log.info("codec stage %d epoch %d/%d: loss %.4f, train acc under the channel %.4f, %.0f s",
                     stage, epoch + 1, epochs, loss.item(), correct / seen, time.monotonic() - start)
            _save_state(spath, {"identity": identity, "stage": stage, "epoch": epoch + 1,
                                "codec": codec.state_dict(), "optimizer": opt.state_dict(),
                                "scheduler": sched.state_dict(), "generator": gen.get_state(),
                                "torch_rng": torch.get_rng_state()})
            epochs_run += 1
            if epoch_budget and epochs_run >= epoch_budget and not (
                    stage == 2 and epoch + 1 == epochs):
                log.info("epoch budget of %d reached; resume to continue", epoch_budget)
                return None
    codec = codec.cpu().eval()
    codec.check_centres()
    meta = dict(payload.get("meta", {}))
    meta.update({"codec_seed": tc.seed, "codec_stage1_epochs": tc.stage1_epochs,
                 "codec_stage2_epochs": tc.stage2_epochs, "codec_channel": tc.channel,
                 "codec_xai": tc.xai, "codec_ber_input": tc.ber_input,
                 "codec_centres": tc.centres,
                 "codec_train_seconds": round(time.monotonic() - start)})
    checkpoint.save(out, backbone.cpu(), bconfig, codec, config, meta=meta)
    spath.unlink(missing_ok=True)
    return codec
