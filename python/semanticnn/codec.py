# SPDX-License-Identifier: GPL-3.0-or-later
"""The SemanticNN codec: soft-quantization encoder and BER-aware decoder.

``forward`` is the differentiable training path, with the bit channel inside;
``encode`` and ``decode`` work on the exact payload bytes that cross the link.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import bits as bitops
from .channels import IndependentFlips, gaussian_llrs
from .config import CodecConfig
from .quantizer import SoftQuantizer

# log10 of the BER given to the decoder for an erased payload: no information.
ERASED_LOG10_BER = math.log10(0.5)


def power_normalize(z: torch.Tensor) -> torch.Tensor:
    """Scale each sample so that its latent has unit mean power per element.

    The target energy is the number of elements, so the scale follows the
    latent size instead of one fixed energy for every size.
    """
    k = z[0].numel()
    energy = z.pow(2).flatten(1).sum(1).clamp_min(1e-12)
    return z * torch.sqrt(k / energy).view(-1, *([1] * (z.dim() - 1)))


class Encoder(nn.Module):
    """Device-side encoder: strided convolutions, normalization, power normalization."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        c = config
        layers: list[nn.Module] = []
        if c.stride == 4:
            layers += [nn.Conv2d(c.in_channels, c.hidden_channels, 3, 2, 1, bias=False),
                       nn.BatchNorm2d(c.hidden_channels), nn.PReLU(c.hidden_channels)]
            last_in = c.hidden_channels
        else:
            last_in = c.in_channels
        layers += [nn.Conv2d(last_in, c.latent_channels, 3, 2, 1, bias=False),
                   nn.BatchNorm2d(c.latent_channels)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return power_normalize(self.net(features))


class ChannelGate(nn.Module):
    """Rescale channels from their global average and the channel state.

    Global average pool, concatenation of the state scalar, two 1x1 layers, a
    sigmoid, and a channel-wise multiplication (the attention module of
    SemanticNN, arXiv 2511.11038, fed with log10 BER instead of SNR).
    """

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels + 1, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        scale = self.fc(torch.cat([pooled, state.view(-1, 1)], dim=1))
        return x * scale[:, :, None, None]


class Decoder(nn.Module):
    """Edge-side BER-aware decoder from received symbols to split features.

    The input is the received centre value of every symbol, or with
    ``soft_input`` the soft bits tanh(LLR / 2) of every symbol's label, its
    bits stacked as channels (C * log2(L), H, W).

    Each stage is followed by a :class:`ChannelGate` conditioned on the BER state
    ``log10(max(ber_est, ber_floor)) / 5`` (an erased payload gets log10 0.5).
    """

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        c = config
        d = c.decoder_channels
        in_channels = c.latent_channels * (c.bits_per_symbol if c.soft_input else 1)
        self.inp = nn.Sequential(nn.Conv2d(in_channels, d, 3, 1, 1), nn.PReLU(d))
        self.refine = nn.Sequential(nn.Conv2d(d, d, 3, 1, 1, bias=False), nn.BatchNorm2d(d),
                                    nn.PReLU(d), nn.Conv2d(d, d, 3, 1, 1, bias=False),
                                    nn.BatchNorm2d(d))
        ups: list[nn.Module] = []
        channels = d
        for _ in range(int(math.log2(c.stride))):
            out = max(c.in_channels, channels // 2)
            ups.append(nn.Sequential(
                nn.ConvTranspose2d(channels, out, 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(out), nn.PReLU(out)))
            channels = out
        self.ups = nn.ModuleList(ups)
        self.gates = nn.ModuleList([ChannelGate(d), ChannelGate(d)]
                                   + [ChannelGate(u[0].out_channels) for u in ups])
        self.out = nn.Conv2d(channels, c.in_channels, 3, 1, 1)

    def forward(self, received: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = self.gates[0](self.inp(received), state)
        x = self.gates[1](torch.relu(x + self.refine(x)), state)
        for up, gate in zip(self.ups, self.gates[2:]):
            x = gate(up(x), state)
        # The split features come after a ReLU, so they are never negative.
        return torch.relu(self.out(x))


class SemanticCodec(nn.Module):
    """Soft-quantization encoder, bit labelling and BER-aware decoder.

    Args:
        config: rate and structure; see :class:`CodecConfig`.
    """

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = SoftQuantizer(config.levels)
        self.decoder = Decoder(config)
        table = bitops.label_table(config.levels, config.labelling)
        self.register_buffer("label_table", torch.from_numpy(table), persistent=False)
        self.register_buffer("index_table", torch.from_numpy(bitops.inverse_table(table)),
                             persistent=False)

    def check_centres(self) -> None:
        """Raise ValueError unless the centres are finite and strictly increasing."""
        c = self.quantizer.centres().detach()
        if not torch.isfinite(c).all() or not (c[1:] > c[:-1]).all():
            raise ValueError(f"quantizer centres must be finite and increasing, got {c.tolist()}")

    def ber_state(self, ber_est: torch.Tensor) -> torch.Tensor:
        """Map BER estimates to the decoder's conditioning scalar."""
        ber = ber_est.to(torch.float32).clamp(self.config.ber_floor, 0.5)
        return torch.log10(ber) / 5.0

    # Training path --------------------------------------------------------------------

    def forward(self, features: torch.Tensor, ber: torch.Tensor, ber_est: torch.Tensor,
                erased: torch.Tensor | None = None, generator: torch.Generator | None = None,
                channel=None) -> tuple[torch.Tensor, dict]:
        """Encode, flip bits at ``ber`` per sample, and decode with ``ber_est``.

        Args:
            features: split features (B, C, H, W).
            ber: true channel BER per sample (B,), used to flip the label bits.
            ber_est: the receiver's estimate given to the decoder (B,).
            erased: per-sample bool (B,); an erased sample reaches the decoder as
                an all-zero latent with BER state log10 0.5.
            generator: random generator of the bit flips.
            channel: a channel from :mod:`semanticnn.channels` with a
                ``sample(n_bits, ber, generator)`` method; None for independent flips.
        Returns:
            The decoded features and a dict with the indices and the bit flips per sample.
        """
        z = self.crop(self.encoder(features))
        q, idx = self.quantizer(z)
        b = q.shape[0]
        labels = self.label_table[idx.reshape(b, -1)]
        if self.config.soft_input:
            received, flips = self._soft_received(z, labels, ber, generator)
        else:
            channel = channel if channel is not None else IndependentFlips()
            flips = channel.sample(self.config.payload_bits, ber.detach().cpu().float(), generator)
            noisy_labels = bitops.apply_flips(labels, flips.to(z.device), self.config.bits_per_symbol)
            noisy_idx = self.index_table[noisy_labels].view_as(idx)
            centres = self.quantizer.centres()
            # The channel changes the value but passes the gradient straight through.
            received = q + (centres[noisy_idx] - q).detach()
        received = self.uncrop(received)
        state = self.ber_state(ber_est.to(z.device))
        if erased is not None:
            keep = (~erased.to(z.device)).float().view(-1, 1, 1, 1)
            received = received * keep
            state = torch.where(erased.to(z.device), torch.full_like(state, ERASED_LOG10_BER / 5.0),
                                state)
        return self.decoder(received, state), {"indices": idx, "bit_flips": flips.sum(1)}

    def _label_signs(self) -> torch.Tensor:
        """Return +-1 for every bit of every centre's label, shape (L, k), MSB first."""
        k = self.config.bits_per_symbol
        shifts = torch.arange(k - 1, -1, -1, device=self.label_table.device)
        return 2.0 * ((self.label_table[:, None] >> shifts) & 1).float() - 1.0

    def _soft_received(self, z: torch.Tensor, labels: torch.Tensor, ber: torch.Tensor,
                       generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Send the label bits through the Gaussian LLR channel; return soft bits and flips."""
        k = self.config.bits_per_symbol
        b = labels.shape[0]
        shifts = torch.arange(k - 1, -1, -1, device=labels.device)
        bits = ((labels[..., None] >> shifts) & 1).view(b, -1)
        llrs = gaussian_llrs(bits.cpu(), ber.detach().cpu().float(), generator).to(z.device)
        flips = (llrs > 0).cpu() != bits.bool().cpu()
        soft = torch.tanh(llrs / 2).view(b, *self.config.sent_shape, k)
        # The soft bits' gradient is that of the expected bit sign under the
        # quantizer's soft assignment, so the encoder still learns.
        expected = self.quantizer.assignment(z) @ self._label_signs()
        soft = expected + (soft - expected).detach()
        return self._stack_bits(soft), flips

    def crop(self, latent: torch.Tensor) -> torch.Tensor:
        """Return the sent part (B, C, crop, crop) of a latent grid; the whole grid without crop."""
        k = self.config.crop
        if not k:
            return latent
        top = (latent.shape[-2] - k) // 2
        left = (latent.shape[-1] - k) // 2
        return latent[..., top:top + k, left:left + k]

    def uncrop(self, sent: torch.Tensor) -> torch.Tensor:
        """Place the sent part back into an all-zero latent grid for the decoder."""
        if not self.config.crop:
            return sent
        _, h, w = self.config.latent_shape
        full = sent.new_zeros(*sent.shape[:-2], h, w)
        k = self.config.crop
        top, left = (h - k) // 2, (w - k) // 2
        full[..., top:top + k, left:left + k] = sent
        return full

    def _stack_bits(self, soft: torch.Tensor) -> torch.Tensor:
        """Map soft bits (B, C, H, W, k) to decoder input channels (B, C * k, H, W)."""
        b, c, h, w, k = soft.shape
        return soft.permute(0, 1, 4, 2, 3).reshape(b, c * k, h, w)

    # Exact bits -----------------------------------------------------------------------

    @torch.no_grad()
    def encode_indices(self, features: torch.Tensor) -> torch.Tensor:
        """Return the centre indices (B, C', H', W') of split features (B, C, H, W)."""
        return self.quantizer.indices(self.crop(self.encoder(features)))

    @torch.no_grad()
    def encode_batch(self, features: torch.Tensor) -> list[bytes]:
        """Return one payload per sample of split features (B, C, H, W)."""
        self._check_features(features)
        idx = self.encode_indices(features).flatten(1).cpu().numpy()
        bits = bitops.indices_to_bits(idx, self.config.bits_per_symbol,
                                      self.label_table.cpu().numpy())
        return [bitops.pack(row) for row in bits]

    def encode(self, features: torch.Tensor) -> bytes:
        """Return the payload of one image's split features, (C, H, W) or (1, C, H, W)."""
        if features.dim() == 3:
            features = features.unsqueeze(0)
        if features.shape[0] != 1:
            raise ValueError(f"encode takes one feature map; got a batch of {features.shape[0]}, "
                             "use encode_batch")
        return self.encode_batch(features)[0]

    def payload_to_latent(self, payloads: list[bytes]) -> torch.Tensor:
        """Map payloads to the received centre values (B, C', H', W')."""
        bits = self._payload_bits(payloads)
        idx = bitops.bits_to_indices(bits, self.config.bits_per_symbol,
                                     self.index_table.cpu().numpy())
        centres = self.quantizer.centres().detach()
        sent = centres[torch.from_numpy(idx).to(centres.device)].view(len(payloads),
                                                                      *self.config.sent_shape)
        return self.uncrop(sent)

    @torch.no_grad()
    def decode_batch(self, payloads: list[bytes], ber_est) -> torch.Tensor:
        """Decode payloads (errors included) with their BER estimates into split features.

        A payload given as None is an erasure, decoded from no payload.
        """
        ber_est = torch.as_tensor(ber_est, dtype=torch.float32).reshape(-1)
        if ber_est.numel() != len(payloads):
            raise ValueError(f"got {len(payloads)} payloads but {ber_est.numel()} BER estimates")
        if torch.isnan(ber_est).any() or (ber_est < 0).any():
            raise ValueError(f"BER estimates must be non-negative numbers, got {ber_est.tolist()}")
        erased = torch.tensor([p is None for p in payloads])
        present = [p for p in payloads if p is not None]
        if self.config.soft_input:
            llrs = torch.zeros(len(payloads), self.config.payload_bits)
            if present:
                bits = self._payload_bits(present)
                llrs[~erased] = torch.where(torch.from_numpy(bits) > 0, float("inf"), float("-inf"))
            return self.decode_llr_batch(llrs, ber_est, erased)
        latent = torch.zeros(len(payloads), *self.config.latent_shape)
        if present:
            latent[~erased] = self.payload_to_latent(present)
        state = self.ber_state(ber_est)
        state[erased] = ERASED_LOG10_BER / 5.0
        device = next(self.parameters()).device
        return self.decoder(latent.to(device), state.to(device))

    @torch.no_grad()
    def decode_llr_batch(self, llrs: torch.Tensor, ber_est,
                         erased: torch.Tensor | None = None) -> torch.Tensor:
        """Decode per-bit LLRs (B, payload_bits), positive meaning bit 1, into split features.

        Only a codec trained with ``soft_input`` takes LLRs; erased rows
        (bool mask) are decoded from no payload.
        """
        if not self.config.soft_input:
            raise ValueError("this codec was trained on hard bits (soft_input=False); decode "
                             "hard payloads with decode_batch")
        b = llrs.shape[0]
        if tuple(llrs.shape) != (b, self.config.payload_bits):
            raise ValueError(f"LLRs must have shape (B, {self.config.payload_bits}), got "
                             f"{tuple(llrs.shape)}")
        ber_est = torch.as_tensor(ber_est, dtype=torch.float32).reshape(-1)
        soft = torch.tanh(llrs.float() / 2).view(b, *self.config.sent_shape,
                                                 self.config.bits_per_symbol)
        inputs = self.uncrop(self._stack_bits(soft))
        state = self.ber_state(ber_est)
        if erased is not None:
            inputs[erased] = 0.0
            state[erased] = ERASED_LOG10_BER / 5.0
        device = next(self.parameters()).device
        return self.decoder(inputs.to(device), state.to(device))

    def _payload_bits(self, payloads: list[bytes]) -> np.ndarray:
        """Return the codec's bits (B, payload_bits) of payloads, checking their length."""
        n = self.config.payload_bytes
        for i, p in enumerate(payloads):
            if len(p) != n:
                raise ValueError(f"payload {i} has {len(p)} bytes, the codec expects {n}")
        raw = np.frombuffer(b"".join(bytes(p) for p in payloads), dtype=np.uint8)
        return np.unpackbits(raw.reshape(len(payloads), n), axis=1)[:, :self.config.payload_bits]

    def decode(self, payload: bytes | None, ber_est: float) -> torch.Tensor:
        """Decode one payload (None for an erasure) into split features (1, C, H, W)."""
        return self.decode_batch([payload], [ber_est])

    def _check_features(self, features: torch.Tensor) -> None:
        expected = (self.config.in_channels, self.config.height, self.config.width)
        if features.dim() != 4 or tuple(features.shape[1:]) != expected:
            raise ValueError(f"split features must have shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(features.shape)}")
