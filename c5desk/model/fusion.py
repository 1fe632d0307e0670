"""Coupling of the CNN and transformer branches at one scale (after TransFuse's BiFusion module).

The transformer map carries global context, so it is re-weighted per channel (squeeze-excitation, *which*
patterns matter); the CNN map carries local detail, so it is re-weighted per pixel (CBAM spatial attention,
*where* to look). Their elementwise product models interactions neither branch sees alone. The three are
concatenated, mixed by a 1×1 conv and a 3×3 conv, and added as a residual to the projected CNN map (one
3×3 conv only: this runs at every scale, so it is kept cheap for the CPU variant).
"""

from __future__ import annotations

import torch
from timm.layers import ConvNormAct, SEModule
from torch import nn


class SpatialGate(nn.Module):
    """CBAM spatial attention: a 7×7 conv over the channel mean and max gives a per-pixel gate."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = ConvNormAct(2, 1, kernel_size, apply_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CouplingBlock(nn.Module):
    """Fuse a CNN map and a transformer map of the same resolution into ``out_channels``."""

    def __init__(self, cnn_channels: int, transformer_channels: int, out_channels: int) -> None:
        super().__init__()
        self.cnn_proj = ConvNormAct(cnn_channels, out_channels, 1, apply_act=False)
        self.transformer_proj = ConvNormAct(transformer_channels, out_channels, 1, apply_act=False)
        self.channel_gate = SEModule(out_channels, rd_ratio=0.25, rd_divisor=4)
        self.spatial_gate = SpatialGate()
        self.mix = ConvNormAct(3 * out_channels, out_channels, 1)
        self.refine = ConvNormAct(out_channels, out_channels, 3, apply_act=False)
        # Zero-init the last norm (as timm's ResNets do with zero_init_last): the block starts as the CNN
        # path alone and learns how much transformer context to add, so coupling never slows early training.
        nn.init.zeros_(self.refine.bn.weight)
        self.act = nn.ReLU(inplace=True)

    def forward(self, cnn_map: torch.Tensor, transformer_map: torch.Tensor) -> torch.Tensor:
        local = self.cnn_proj(cnn_map)
        context = self.transformer_proj(transformer_map)
        gated = [self.channel_gate(context), self.spatial_gate(local), local * context]
        return self.act(local + self.refine(self.mix(torch.cat(gated, dim=1))))
