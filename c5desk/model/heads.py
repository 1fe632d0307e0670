"""Classification head on the shared encoder, conditioned on a lesion mask.

Descriptor = global average of the bottleneck (context)
           + mask-weighted average of the coarsest feature maps (what the lesion itself looks like)
           + a small conv encoding of the mask (its shape and margin — the main BI-RADS malignancy cues).
Because the mask is an input, an edited outline re-scores the frame without re-running the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import ConvNormAct
from torch import nn

from c5desk.errors import ModelError

_EPS = 1e-6


def resize_mask(mask_prob: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Average-pool a (B, 1, H, W) mask onto ``like``'s grid (area interpolation when sizes don't divide)."""
    size = like.shape[-2:]
    if mask_prob.shape[-2:] == size:
        return mask_prob
    fy, fx = mask_prob.shape[-2] // size[0], mask_prob.shape[-1] // size[1]
    if fy >= 1 and fx >= 1 and fy * size[0] == mask_prob.shape[-2] and fx * size[1] == mask_prob.shape[-1]:
        return F.avg_pool2d(mask_prob, kernel_size=(int(fy), int(fx)))
    return F.interpolate(mask_prob, size=size, mode="area")


def masked_mean(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-channel mean of ``features`` weighted by ``weight`` (B, 1, h, w); an empty mask gives zeros."""
    return (features * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + _EPS)


class MaskShapeEncoder(nn.Module):
    """Three stride-2 convs over the mask, then global pooling: a compact descriptor of outline and margin."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.width = width
        self.convs = nn.Sequential(
            ConvNormAct(1, width // 2, 3, stride=2),
            ConvNormAct(width // 2, width, 3, stride=2),
            ConvNormAct(width, width, 3, stride=2),
        )

    def forward(self, mask_at_stride4: torch.Tensor) -> torch.Tensor:
        return self.convs(mask_at_stride4).mean(dim=(2, 3))


class MaskPooledClassifier(nn.Module):
    """Features (fine to coarse) + mask probability → class logits.

    ``mask_pooled_scales`` = how many of the coarsest maps get mask-weighted pooling (0 = the plain
    "pooled bottleneck" head of a classic UNet baseline, which ignores the mask).
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        num_classes: int = 2,
        mask_pooled_scales: int = 3,
        shape_width: int = 16,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not 0 <= mask_pooled_scales <= len(feature_channels):
            raise ModelError(f"mask_pooled_scales must be within 0..{len(feature_channels)}")
        self.mask_pooled_scales = mask_pooled_scales
        pooled = (
            list(feature_channels[len(feature_channels) - mask_pooled_scales :]) if mask_pooled_scales else []
        )
        self.shape_encoder = MaskShapeEncoder(shape_width) if mask_pooled_scales and shape_width else None
        width = feature_channels[-1] + sum(pooled) + (shape_width if self.shape_encoder else 0)
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)

    @property
    def uses_mask(self) -> bool:
        return self.mask_pooled_scales > 0

    def forward(self, features: Sequence[torch.Tensor], mask_prob: torch.Tensor | None) -> torch.Tensor:
        parts = [features[-1].mean(dim=(2, 3))]
        if self.uses_mask:
            if mask_prob is None:
                raise ModelError("this classifier needs a mask probability map")
            for fmap in features[len(features) - self.mask_pooled_scales :]:
                parts.append(masked_mean(fmap, resize_mask(mask_prob, fmap)))
            if self.shape_encoder is not None:
                parts.append(self.shape_encoder(F.avg_pool2d(mask_prob, kernel_size=4)))
        return self.fc(self.dropout(self.norm(torch.cat(parts, dim=1))))


class PresenceHead(nn.Module):
    """Is there a lesion in this frame at all? One logit from the pooled bottleneck (mean and max: a small
    lesion in a wide field of view moves the max, not the mean). Trained with lesion-free frames, it lets
    the model answer "no lesion found" instead of outlining the darkest structure it can find."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * channels)
        self.fc = nn.Linear(2 * channels, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        bottleneck = features[-1]
        pooled = torch.cat([bottleneck.mean(dim=(2, 3)), bottleneck.amax(dim=(2, 3))], dim=1)
        return self.fc(self.norm(pooled))[:, 0]
