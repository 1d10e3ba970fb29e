"""The noise-prediction network ε_θ(x_t, t[, y]).

Two styles share one interface, ``model(x_t, t)`` or ``model(x_t, t, y)``:

- ``style="seed"``: the report's minimal U-Net exactly. Convolutions only, skips *added*,
  every layer but the last is ReLU(GroupNorm(32, no affine)), the time embedding enters once,
  after the middle block. 3,281,153 parameters at ``base_channels=128`` with one channel.
- ``style="modern"``: residual blocks at every resolution, each told t (and y) through a learned
  embedding; concatenated skips; affine GroupNorm; SiLU; a zero-initialised output layer.

Class conditioning: ``nn.Embedding(num_classes + 1, dim)``; the extra row (index ``num_classes``)
is the null label that classifier-free guidance uses. A conditional model called without ``y``
uses the null label, so ``model(x_t, t)`` is its unconditional prediction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice

STYLES = ("seed", "modern")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding, cos half first:  e(t) = [cos(t·ω_0), …, cos(t·ω_{d/2−1}), sin(t·ω_0), …],
    ω_i = max_period^(−i/(d/2)).  Returns float32 [B, dim]."""
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2, got {dim}")
    t = torch.as_tensor(t)
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() != 1:
        raise ValueError(f"t must have shape [B], got shape {tuple(t.shape)}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _norm_act(x: torch.Tensor) -> torch.Tensor:
    """The report's ReLU(GroupNorm(32 groups, no affine))."""
    return F.relu(F.group_norm(x, 32))


class _SeedResidualBlock(nn.Module):
    """x + ReLU(GN(conv(ReLU(GN(conv(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + _norm_act(self.conv2(_norm_act(self.conv1(x))))


class _Upsample(nn.Module):
    """Nearest-neighbour ×2, then a 3×3 convolution."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class _ResBlock(nn.Module):
    """Modern residual block: GN → SiLU → conv, + emb, GN → SiLU → dropout → conv, + skip."""

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
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class _Attention(nn.Module):
    """Single-head self-attention over the pixels of a low-resolution feature map."""

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


class UNet(nn.Module):
    """ε_θ(x_t, t[, y]) for images [B, C, H, W]; see the module docstring for the two styles.

    ``base_channels``: default 128 for "seed" (the report's) and 32 for "modern".
    ``depth``: number of halvings (2 for 28×28: 28 → 14 → 7; the report's CIFAR-10 variant uses 3).
    ``channel_mult`` (modern only): channels per level, ``base_channels · channel_mult[i]``.
    """

    def __init__(self, in_channels: int = 1, base_channels: int | None = None, num_classes: int | None = None,
                 style: str = "seed", depth: int | None = None, channel_mult=None, num_res_blocks: int = 1,
                 attention: bool = True, dropout: float = 0.0, groups: int = 8):
        super().__init__()
        check_choice(style, STYLES, "style")
        if base_channels is None:
            base_channels = 128 if style == "seed" else 32  # the report's width; ours, sized for a CPU
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f"num_classes must be None or a positive int, got {num_classes!r}")
        if style == "seed" and base_channels % 32:
            raise ValueError(f"base_channels must be a multiple of 32 for style='seed' (GroupNorm(32)), "
                             f"got {base_channels}")
        if channel_mult is None:
            # modern: ×1 at full resolution, ×2 at every lower level (depth 2 → (1, 2, 2))
            channel_mult = (1, 2) if style == "seed" else (1,) + (2,) * (2 if depth is None else depth)
        if depth is None:
            depth = len(channel_mult) if style == "seed" else len(channel_mult) - 1
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_classes = num_classes
        self.style = style
        self.depth = depth
        self.config = dict(in_channels=in_channels, base_channels=base_channels, num_classes=num_classes,
                           style=style, depth=depth)
        if style == "seed":
            self._build_seed(in_channels, base_channels, depth, num_classes)
        else:
            if len(channel_mult) != depth + 1:
                raise ValueError(f"channel_mult needs depth + 1 = {depth + 1} entries, got {channel_mult}")
            self.config.update(channel_mult=tuple(channel_mult), num_res_blocks=num_res_blocks,
                               attention=attention, dropout=dropout, groups=groups)
            self._build_modern(in_channels, base_channels, tuple(channel_mult), num_res_blocks, attention,
                               dropout, groups, num_classes)

    # ------------------------------------------------------------------ seed
    def _build_seed(self, c_io: int, C: int, depth: int, num_classes):
        chans = [C * 2 ** i for i in range(depth)]
        self.down_convs = nn.ModuleList()   # conv C_{l−1} → C_l at full resolution of level l
        self.down_samples = nn.ModuleList()  # stride-2 conv C_l → C_l
        c_prev = c_io
        for c in chans:
            self.down_convs.append(nn.Conv2d(c_prev, c, 3, padding=1))
            self.down_samples.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            c_prev = c
        self.middle = _SeedResidualBlock(chans[-1])
        self.time_embed = nn.Linear(C, chans[-1])
        self.class_embed = nn.Embedding(num_classes + 1, chans[-1]) if num_classes else None
        self.up_samples = nn.ModuleList()    # upsample + conv C_l → C_l
        self.up_convs = nn.ModuleList()      # conv C_l → C_{l−1} (→ c_io at the end)
        for i in reversed(range(depth)):
            self.up_samples.append(_Upsample(chans[i], chans[i]))
            self.up_convs.append(nn.Conv2d(chans[i], chans[i - 1] if i else c_io, 3, padding=1))

    def _forward_seed(self, x, t, y):
        skips = []
        h = x
        for conv, down in zip(self.down_convs, self.down_samples):
            h = _norm_act(conv(h))
            skips.append(h)
            h = _norm_act(down(h))
            skips.append(h)
        emb = F.relu(self.time_embed(timestep_embedding(t, self.base_channels)))
        if self.class_embed is not None:
            emb = emb + self.class_embed(y)
        h = self.middle(h) + emb[:, :, None, None]
        last = len(self.up_convs) - 1
        for i, (up, conv) in enumerate(zip(self.up_samples, self.up_convs)):
            h = _norm_act(up(h + skips.pop()))
            h = conv(h + skips.pop())
            if i < last:
                h = _norm_act(h)
        return h

    # ------------------------------------------------------------------ modern
    def _build_modern(self, c_io, C, mult, num_res_blocks, attention, dropout, groups, num_classes):
        emb_dim = 4 * C
        self.time_mlp = nn.Sequential(nn.Linear(C, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_embed = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.conv_in = nn.Conv2d(c_io, C, 3, padding=1)
        self.down = nn.ModuleList()
        skip_chans = [C]
        c = C
        for level, m in enumerate(mult):
            for _ in range(num_res_blocks):
                self.down.append(_ResBlock(c, C * m, emb_dim, groups, dropout))
                c = C * m
                skip_chans.append(c)
            if level < len(mult) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skip_chans.append(c)
        self.mid1 = _ResBlock(c, c, emb_dim, groups, dropout)
        self.mid_attn = _Attention(c, groups) if attention else nn.Identity()
        self.mid2 = _ResBlock(c, c, emb_dim, groups, dropout)
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(_ResBlock(c + skip_chans.pop(), C * m, emb_dim, groups, dropout))
                c = C * m
            if level > 0:
                self.up.append(_Upsample(c, c))
        self.norm_out = nn.GroupNorm(min(groups, c), c)
        self.conv_out = nn.Conv2d(c, c_io, 3, padding=1)
        # Start as ε̂ = 0: the loss begins at E[ε²] = 1 and the first steps are not spent undoing noise.
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def _forward_modern(self, x, t, y):
        emb = self.time_mlp(timestep_embedding(t, self.base_channels))
        if self.class_embed is not None:
            emb = emb + self.class_embed(y)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = block(h, emb) if isinstance(block, _ResBlock) else block(h)
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for block in self.up:
            if isinstance(block, _ResBlock):
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))

    # ------------------------------------------------------------------ shared
    def _check_inputs(self, x, t, y):
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape [B, C, H, W], got {shape}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels but the model takes in_channels={self.in_channels}")
        factor = 2 ** self.depth
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"x's height and width must be multiples of 2**depth = {factor}, "
                             f"got {tuple(x.shape[2:])}")
        b = x.shape[0]
        if isinstance(t, int) and not isinstance(t, bool):
            t = torch.full((b,), t, dtype=torch.long, device=x.device)
        if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError("t must be an int or an integer tensor of shape [B]")
        if t.dim() == 0:
            t = t.expand(b)
        if tuple(t.shape) != (b,):
            raise ValueError(f"t must have shape [B] = ({b},), got {tuple(t.shape)}")
        if y is not None and self.num_classes is None:
            raise ValueError("labels y were given, but this model is unconditional (num_classes=None)")
        if self.num_classes is not None:
            if y is None:
                y = torch.full((b,), self.num_classes, dtype=torch.long, device=x.device)
            if isinstance(y, int) and not isinstance(y, bool):
                y = torch.full((b,), y, dtype=torch.long, device=x.device)
            if (not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.dtype == torch.bool
                    or tuple(y.shape) != (b,)):
                raise ValueError(f"y must be an int or an integer tensor of shape [B] = ({b},)")
            if y.numel() and (int(y.min()) < 0 or int(y.max()) > self.num_classes):
                raise ValueError(f"y must be in 0..{self.num_classes - 1}, or {self.num_classes} for the null "
                                 f"label; got values in [{int(y.min())}, {int(y.max())}]")
        return t.to(x.device), (y.to(x.device) if y is not None else None)

    def forward(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        t, y = self._check_inputs(x, t, y)
        if self.style == "seed":
            return self._forward_seed(x, t, y)
        return self._forward_modern(x, t, y)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
