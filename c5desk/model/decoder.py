"""UNet-style segmentation decoder over a fine-to-coarse feature pyramid, ending in a 1-channel logit map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import ConvNormAct
from torch import nn

from c5desk.errors import ModelError


class DecoderBlock(nn.Module):
    """Upsample ×2 (nearest), concatenate the skip (if any), two 3×3 conv-BN-ReLU.

    ``light``: the first conv is 1×1 (it only has to merge the channels), for high-resolution blocks.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, light: bool = False) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvNormAct(in_channels + skip_channels, out_channels, 1 if light else 3),
            ConvNormAct(out_channels, out_channels, 3),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


class UNetDecoder(nn.Module):
    """Decode features ``(strides[i], channels[i])`` (fine to coarse) with one block per decoder width.

    The first blocks consume the skips from coarse to fine; blocks beyond the finest skip upsample without
    one. The logit map is produced at the last block's resolution and bilinearly upsampled to the input size
    (cheap, and a logit map is smooth): e.g. skips at strides 2..32 with four widths end at stride 2.
    ``light_final_block`` makes the highest-resolution block (the costliest on a CPU) about 3× cheaper.
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        feature_strides: Sequence[int],
        decoder_channels: Sequence[int],
        light_final_block: bool = False,
    ) -> None:
        super().__init__()
        if len(feature_channels) != len(feature_strides) or len(feature_channels) < 2:
            raise ModelError("decoder needs matching feature channels and strides for at least two scales")
        skips = list(feature_channels[:-1])[::-1]  # coarse to fine, bottleneck excluded
        if len(decoder_channels) < len(skips):
            raise ModelError(f"decoder needs at least {len(skips)} widths, got {list(decoder_channels)}")
        blocks = []
        in_channels = feature_channels[-1]
        for i, out_channels in enumerate(decoder_channels):
            skip_channels = skips[i] if i < len(skips) else 0
            light = light_final_block and i == len(decoder_channels) - 1
            blocks.append(DecoderBlock(in_channels, skip_channels, out_channels, light))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.num_skips = len(skips)
        self.output_stride = feature_strides[-1] // 2 ** len(decoder_channels)
        if self.output_stride < 1:
            raise ModelError(f"{len(decoder_channels)} decoder blocks upsample beyond the input resolution")
        self.head = nn.Conv2d(in_channels, 1, kernel_size=3, padding=1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        skips = list(features[:-1])[::-1]
        x = features[-1]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < self.num_skips else None)
        logits = self.head(x)
        if self.output_stride > 1:
            logits = F.interpolate(
                logits, scale_factor=float(self.output_stride), mode="bilinear", align_corners=False
            )
        return logits
