# SPDX-License-Identifier: GPL-3.0-or-later
"""A small ResNet-style backbone for 28x28 grey images, split after its stem.

The stem (``head``) runs on the device and outputs ``stem_channels`` x 28 x 28
features; the residual stages and the classifier (``tail``) run on the edge.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch normalization and an identity or 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Backbone(nn.Module):
    """ResNet-style classifier whose ``head`` is the device part and ``tail`` the edge part.

    Args:
        num_classes: number of output classes.
        stem_channels: channels of the split features (28 x 28 each).
        widths: output channels of the two stride-2 residual stages.
    """

    def __init__(self, num_classes: int = 10, stem_channels: int = 32,
                 widths: tuple[int, int] = (64, 128)) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.Conv2d(1, stem_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
        )
        self.tail = nn.Sequential(
            BasicBlock(stem_channels, widths[0], stride=2),
            BasicBlock(widths[0], widths[1], stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(widths[1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.head(x))
