"""The noise-prediction network ε_θ(x_t, t[, y]): two U-Nets behind one constructor, ``UNet``.

Both are called ``model(x_t, t)`` or ``model(x_t, t, y)`` and return ε̂ with the shape of x_t:

- ``UNet(style="seed")`` builds a ``SeedUNet`` (``helpers.unet_seed``): the report's minimal U-Net exactly.
  Convolutions only, skips *added*, ReLU(GroupNorm(32, no affine)), the time embedding enters once,
  after the middle block. 3,281,153 parameters at ``base_channels=128`` with one channel.
- ``UNet(style="modern")`` builds a ``ModernUNet`` (``helpers.unet_modern``): residual blocks at every
  resolution, each told t (and y) through a learned embedding; concatenated skips; affine GroupNorm;
  SiLU; a zero-initialised output layer.

Class conditioning (``helpers.embeddings``): ``nn.Embedding(num_classes + 1, dim)``; the extra row
(index ``num_classes``) is the null label that classifier-free guidance uses. A conditional model called
without ``y`` uses the null label, so ``model(x_t, t)`` is its unconditional prediction, and
``unconditional_branch`` turns a conditional modern U-Net into that unconditional network alone.
"""

from __future__ import annotations

from torch import nn

from ._checks import check_choice
from .embeddings import check_network_inputs, class_embedding, timestep_embedding
from .unet_modern import Attention, ModernUNet, ResBlock, unconditional_branch
from .unet_seed import SeedResidualBlock, SeedUNet, Upsample, norm_act

NETWORKS = {"seed": SeedUNet, "modern": ModernUNet}
STYLES = tuple(NETWORKS)

__all__ = ["UNet", "SeedUNet", "ModernUNet", "NETWORKS", "STYLES", "count_parameters", "timestep_embedding",
           "class_embedding", "check_network_inputs", "SeedResidualBlock", "Upsample", "norm_act", "ResBlock",
           "Attention", "unconditional_branch"]


def UNet(in_channels: int = 1, base_channels: int | None = None, num_classes: int | None = None,
         style: str = "seed", **options) -> SeedUNet | ModernUNet:
    """The network of ``style`` ("seed" or "modern"): ``NETWORKS[style](in_channels, base_channels, …)``.

    ``base_channels`` and any option left as None take the network's default (seed: 128, the report's
    width; modern: 32, sized for a CPU). ``options`` are the network's own keyword arguments: ``depth``
    for both; ``channel_mult``, ``num_res_blocks``, ``attention``, ``dropout``, ``groups`` for "modern".
    A checkpoint's ``model.config`` holds exactly these arguments, so ``UNet(**model.config)`` rebuilds it.
    """
    check_choice(style, STYLES, "style")
    options = {k: v for k, v in options.items() if v is not None}
    if base_channels is not None:
        options["base_channels"] = base_channels
    return NETWORKS[style](in_channels=in_channels, num_classes=num_classes, **options)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
