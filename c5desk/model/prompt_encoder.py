"""Prompt encoder of the promptable C5-Net (model v2): prompt maps → one additive map per decoder scale.

The prompt (a box, positive and negative clicks, the mask so far; c5desk.inference.prompt_maps renders them
as four maps at model resolution) enters the decoder, not the encoder ("late fusion"). The encoder runs once
per frame and its features are cached, so a click re-runs only this small encoder and the decoder: that is
what keeps a click within 100 ms on two CPU cores. Each scale sees the raw maps pooled to its own grid too,
so a click stays exactly placed at the coarse scales where the receptive field of the convs alone would blur
it. The projections start at zero: a v1 network extended with this module segments exactly as before until
training teaches it to follow the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import ConvNormAct
from torch import nn

from c5desk.errors import ModelError

PROMPT_CHANNELS = 4  # box, positive clicks, negative clicks, previous mask


class PromptEncoder(nn.Module):
    def __init__(
        self, feature_channels: Sequence[int], feature_strides: Sequence[int], width: int = 24
    ) -> None:
        super().__init__()
        if len(feature_channels) != len(feature_strides):
            raise ModelError("prompt encoder needs one stride per feature scale")
        self.strides = tuple(int(s) for s in feature_strides)
        levels, previous = [], 1
        for stride in self.strides:
            if stride % previous:
                raise ModelError(f"feature strides {self.strides} must each divide the next")
            step = stride // previous
            in_channels = PROMPT_CHANNELS if previous == 1 else width + PROMPT_CHANNELS
            levels.append(ConvNormAct(in_channels, width, 3, stride=step))
            previous = stride
        self.levels = nn.ModuleList(levels)
        self.projections = nn.ModuleList(nn.Conv2d(width, c, kernel_size=1) for c in feature_channels)
        for projection in self.projections:
            nn.init.zeros_(projection.weight)
            nn.init.zeros_(projection.bias)

    def forward(self, maps: torch.Tensor) -> list[torch.Tensor]:
        """(B, 4, S, S) prompt maps → additive maps matching the features, fine to coarse."""
        hidden, out, previous = maps, [], 1
        for stride, level, projection in zip(self.strides, self.levels, self.projections, strict=True):
            if out:  # the raw maps on the grid the hidden state is on, beside it
                pooled = F.avg_pool2d(maps, kernel_size=previous) if previous > 1 else maps
                hidden = torch.cat([hidden, pooled], dim=1)
            hidden = level(hidden)
            out.append(projection(hidden))
            previous = stride
        return out
