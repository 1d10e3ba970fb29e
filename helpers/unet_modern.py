"""Our U-Net, in the now-common design: ``ModernUNet`` (``UNet(style="modern")``).

What changes from the report's network (``helpers.unet_seed``): residual blocks at every resolution,
each told t (and y) through a learned embedding; self-attention at the lowest resolution; skips
*concatenated*; GroupNorm with a learned scale and shift; SiLU; an output layer that starts at zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .embeddings import check_network_inputs, class_embedding, timestep_embedding
from .unet_seed import Upsample


class ResBlock(nn.Module):
    """h = conv₁(SiLU(GN(x))) + W_emb·emb;  out = skip(x) + conv₂(dropout(SiLU(GN(h)))).

    ``skip`` is a 1×1 convolution where the channel count changes, else the identity.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]      # every block gets its own projection of (t, y)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a low-resolution feature map, with a residual."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return x + self.proj(out.transpose(1, 2).reshape(b, c, h, w))


class ModernUNet(nn.Module):
    """ε_θ(x_t, t[, y]) for images [B, C, H, W] with H, W multiples of 2**depth.

    Level i has ``base_channels · channel_mult[i]`` channels and ``num_res_blocks`` residual blocks
    (the decoder one more, to take the extra skip); ``depth`` halvings, so ``len(channel_mult) = depth + 1``.
    Default ``channel_mult``: ×1 at full resolution, ×2 at every lower level ((1, 2, 2) for depth 2).
    t goes through e(t) (dimension C) and an MLP C → 4C → 4C; y adds ``class_embed(y)`` (4C).
    """

    style = "modern"

    def __init__(self, in_channels: int = 1, base_channels: int = 32, num_classes: int | None = None,
                 depth: int | None = None, channel_mult=None, num_res_blocks: int = 1, attention: bool = True,
                 dropout: float = 0.0, groups: int = 8):
        super().__init__()
        if channel_mult is None:
            channel_mult = (1,) + (2,) * (2 if depth is None else depth)
        mult = tuple(channel_mult)
        depth = len(mult) - 1 if depth is None else depth
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if len(mult) != depth + 1:
            raise ValueError(f"channel_mult needs depth + 1 = {depth + 1} entries, got {channel_mult}")
        C, emb_dim = base_channels, 4 * base_channels
        self.in_channels, self.base_channels, self.num_classes, self.depth = in_channels, C, num_classes, depth
        self.config = dict(in_channels=in_channels, base_channels=C, num_classes=num_classes, style="modern",
                           depth=depth, channel_mult=mult, num_res_blocks=num_res_blocks, attention=attention,
                           dropout=dropout, groups=groups)
        self.time_mlp = nn.Sequential(nn.Linear(C, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_embed = class_embedding(num_classes, emb_dim)
        self.conv_in = nn.Conv2d(in_channels, C, 3, padding=1)
        self.down = nn.ModuleList()          # residual blocks, then a stride-2 conv below every level but the last
        skip_chans = [C]
        c = C
        for level, m in enumerate(mult):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(c, C * m, emb_dim, groups, dropout))
                c = C * m
                skip_chans.append(c)
            if level < len(mult) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skip_chans.append(c)
        self.mid1 = ResBlock(c, c, emb_dim, groups, dropout)
        self.mid_attn = Attention(c, groups) if attention else nn.Identity()
        self.mid2 = ResBlock(c, c, emb_dim, groups, dropout)
        self.up = nn.ModuleList()            # residual blocks on [h, skip], then an upsample above every level but 0
        for level, m in reversed(list(enumerate(mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(c + skip_chans.pop(), C * m, emb_dim, groups, dropout))
                c = C * m
            if level > 0:
                self.up.append(Upsample(c, c))
        self.norm_out = nn.GroupNorm(min(groups, c), c)
        self.conv_out = nn.Conv2d(c, in_channels, 3, padding=1)
        # Start as ε̂ = 0: the loss begins at E[ε²] = 1 and the first steps are not spent undoing noise.
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        t, y = check_network_inputs(self, x, t, y)
        emb = self.time_mlp(timestep_embedding(t, self.base_channels).to(x.dtype))  # the sinusoids are float32
        if self.class_embed is not None:
            emb = emb + self.class_embed(y)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for block in self.up:
            # skips are concatenated: each decoder block takes the matching encoder output beside h
            h = block(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(block, ResBlock) else block(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def unconditional_branch(model: ModernUNet) -> ModernUNet:
    """The unconditional network ε_θ(x_t, t) = ε_θ(x_t, t, ∅) of a class-conditional ``ModernUNet``.

    y enters only as ``emb = time_mlp(e(t)) + class_embed(y)``, and the time MLP ends in a Linear, so the
    null label's row folds into that layer's bias: b' = b + class_embed[∅]. Every other weight is copied.
    (The seed U-Net adds its class embedding after a ReLU, where there is no bias to fold it into.)
    """
    if not isinstance(model, ModernUNet) or model.num_classes is None:
        raise ValueError(f"model must be a class-conditional ModernUNet (style='modern', num_classes set), got "
                         f"{type(model).__name__} with num_classes={getattr(model, 'num_classes', None)!r}")
    config = {k: v for k, v in model.config.items() if k != "style"}
    like = next(model.parameters())
    branch = ModernUNet(**{**config, "num_classes": None}).to(device=like.device, dtype=like.dtype)
    weights = {k: v for k, v in model.state_dict().items() if not k.startswith("class_embed.")}
    weights["time_mlp.2.bias"] = weights["time_mlp.2.bias"] + model.class_embed.weight[model.num_classes]
    branch.load_state_dict(weights)
    return branch.train(model.training)
