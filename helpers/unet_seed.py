"""The report's minimal U-Net, exactly: ``SeedUNet`` (``UNet(style="seed")``).

Convolutions only; skips are *added*, not concatenated, so channel counts never grow; every layer but
the last is ReLU(GroupNorm(32 groups, no affine)), so normalisation has no parameters; the time (and
class) embedding enters once, after the middle block. 3,281,153 parameters at ``base_channels=128``
with one input channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .embeddings import check_network_inputs, class_embedding, timestep_embedding


def norm_act(x: torch.Tensor) -> torch.Tensor:
    """The report's ReLU(GroupNorm(32 groups, no affine))."""
    return F.relu(F.group_norm(x, 32))


class SeedResidualBlock(nn.Module):
    """The middle block: x + ReLU(GN(conv(ReLU(GN(conv(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + norm_act(self.conv2(norm_act(self.conv1(x))))


class Upsample(nn.Module):
    """Nearest-neighbour ×2, then a 3×3 convolution (both U-Nets use it)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class SeedUNet(nn.Module):
    """ε_θ(x_t, t[, y]) as the report builds it, for images [B, C, H, W] with H, W multiples of 2**depth.

    With C = ``base_channels`` and ``depth`` = 2 (28 → 14 → 7):

    | level   | encoder                     | decoder                           |
    | 28 × 28 | conv 3×3, in → C            | conv 3×3, C → in (no norm, no act) |
    | 28 → 14 | stride-2 conv, C → C        | nearest ×2 + conv, C → C          |
    | 14 × 14 | conv, C → 2C                | conv, 2C → C                      |
    | 14 → 7  | stride-2 conv, 2C → 2C      | nearest ×2 + conv, 2C → 2C        |
    | 7 × 7   | residual block, then + ReLU(Linear(e(t))) + class_embed(y)       |

    ``depth=3`` is the report's CIFAR-10 variant (C, 2C, 4C channels).
    """

    style = "seed"

    def __init__(self, in_channels: int = 1, base_channels: int = 128, num_classes: int | None = None,
                 depth: int = 2):
        super().__init__()
        if base_channels % 32:
            raise ValueError(f"base_channels must be a multiple of 32 for style='seed' (GroupNorm(32)), "
                             f"got {base_channels}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        C = base_channels
        self.in_channels, self.base_channels, self.num_classes, self.depth = in_channels, C, num_classes, depth
        self.config = dict(in_channels=in_channels, base_channels=C, num_classes=num_classes, style="seed",
                           depth=depth)
        chans = [C * 2 ** i for i in range(depth)]          # C, 2C, 4C, …
        self.down_convs = nn.ModuleList()    # conv C_{l−1} → C_l at the full resolution of level l
        self.down_samples = nn.ModuleList()  # stride-2 conv C_l → C_l
        c_prev = in_channels
        for c in chans:
            self.down_convs.append(nn.Conv2d(c_prev, c, 3, padding=1))
            self.down_samples.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            c_prev = c
        self.middle = SeedResidualBlock(chans[-1])
        self.time_embed = nn.Linear(C, chans[-1])
        self.class_embed = class_embedding(num_classes, chans[-1])
        self.up_samples = nn.ModuleList()    # upsample + conv C_l → C_l
        self.up_convs = nn.ModuleList()      # conv C_l → C_{l−1} (→ in_channels at the end)
        for i in reversed(range(depth)):
            self.up_samples.append(Upsample(chans[i], chans[i]))
            self.up_convs.append(nn.Conv2d(chans[i], chans[i - 1] if i else in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        t, y = check_network_inputs(self, x, t, y)
        skips = []
        h = x
        for conv, down in zip(self.down_convs, self.down_samples):
            h = norm_act(conv(h))
            skips.append(h)
            h = norm_act(down(h))
            skips.append(h)
        # t (and y) enter here, once: the encoder and the middle block never see them (the sinusoids are float32)
        emb = F.relu(self.time_embed(timestep_embedding(t, self.base_channels).to(x.dtype)))
        if self.class_embed is not None:
            emb = emb + self.class_embed(y)
        h = self.middle(h) + emb[:, :, None, None]
        last = len(self.up_convs) - 1
        for i, (up, conv) in enumerate(zip(self.up_samples, self.up_convs)):
            h = norm_act(up(h + skips.pop()))        # skips are added, so channel counts never grow
            h = conv(h + skips.pop())
            if i < last:                             # the output layer has no norm and no activation
                h = norm_act(h)
        return h
