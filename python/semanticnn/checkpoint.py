# SPDX-License-Identifier: GPL-3.0-or-later
"""Save and load checkpoints: weights, quantization centres and configuration.

A checkpoint is a plain dictionary of tensors, strings and numbers, so it loads
with ``torch.load(..., weights_only=True)``. It always contains a backbone and may
contain a codec trained against that backbone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from .backbone import Backbone
from .config import BackboneConfig, CodecConfig

FORMAT = "semanticnn-checkpoint"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "fashion_mnist.pt"
# The same backbone with a codec whose decoder takes per-bit LLRs (codec id 2).
LLR_CHECKPOINT = DEFAULT_CHECKPOINT.with_name("fashion_mnist_llr.pt")


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or does not match its configuration."""


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file as hex, for recording which weights a result used."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(path: str | Path, backbone: Backbone, backbone_config: BackboneConfig,
         codec: torch.nn.Module | None = None, codec_config: CodecConfig | None = None,
         meta: dict[str, Any] | None = None) -> None:
    """Write a checkpoint atomically (temporary file, then rename)."""
    if (codec is None) != (codec_config is None):
        raise ValueError("codec and codec_config must be given together")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backbone_config": backbone_config.to_dict(),
        "backbone": {k: v.detach().cpu() for k, v in backbone.state_dict().items()},
        "meta": dict(meta or {}),
    }
    if codec is not None:
        payload["codec_config"] = codec_config.to_dict()
        payload["codec"] = {k: v.detach().cpu() for k, v in codec.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_raw(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dictionary with ``weights_only=True`` and check its format."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the checkpoint file inside it")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty; retrain or restore the checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise CheckpointError(f"{path}: cannot be read as a checkpoint ({exc}); the file "
                              "is corrupt or truncated, so retrain or restore it") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a semanticnn checkpoint (format field is "
                              f"{payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r})")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {payload.get('format_version')} is "
                              f"not supported (expected {FORMAT_VERSION})")
    return payload


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str,
                path: Path) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if mismatched:
            parts.append("shape mismatch " + "; ".join(mismatched[:5]))
        raise CheckpointError(f"{path}: {what} weights do not match the stored "
                              f"{what} configuration: " + ", ".join(parts))
    module.load_state_dict(state)


def load_backbone(path: str | Path) -> tuple[Backbone, BackboneConfig, dict[str, Any]]:
    """Return the backbone (in eval mode), its configuration and the raw checkpoint."""
    path = Path(path)
    payload = load_raw(path)
    try:
        config = BackboneConfig.from_dict(payload["backbone_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid backbone configuration: {exc}") from exc
    backbone = Backbone(config.num_classes, config.stem_channels, config.widths)
    _load_state(backbone, payload.get("backbone", {}), "backbone", path)
    return backbone.eval(), config, payload


def load(path: str | Path | None = None):
    """Load backbone and codec from one checkpoint.

    Returns:
        ``(backbone, codec)`` in eval mode; the codec's configuration is ``codec.config``.
    """
    from .codec import SemanticCodec

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    backbone, bconfig, payload = load_backbone(path)
    if "codec" not in payload:
        raise CheckpointError(f"{path}: contains a backbone but no codec; train one with "
                              f"'semanticnn train --stage codec --checkpoint {path}'")
    try:
        cconfig = CodecConfig.from_dict(payload["codec_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid codec configuration: {exc}") from exc
    if cconfig.in_channels != bconfig.stem_channels:
        raise CheckpointError(f"{path}: codec expects {cconfig.in_channels} feature channels "
                              f"but the backbone's stem has {bconfig.stem_channels}")
    codec = SemanticCodec(cconfig)
    _load_state(codec, payload["codec"], "codec", path)
    codec.check_centres()
    return backbone, codec.eval()
