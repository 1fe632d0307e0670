"""Baselines under the same builder and API as C5-Net, for ablations and the reference comparison.

- ``unet_resnet``: plain UNet on the *same* narrow ResNet as c5net_tiny, same head (no transformer).
- ``unet_resnet34``: the UNet a user would reach for (timm ResNet-34, decoder 256-128-64-32-16 as in
  segmentation_models_pytorch); its classification head is the pooled bottleneck only (ignores the mask).
- ``cswin_unet_tiny``: the transformer branch of c5net_tiny alone (no CNN, no coupling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from c5desk.model.cnn import FEATURE_STRIDES, ResNetBranch
from c5desk.model.cswin import DEFAULT_STRIPE_TARGETS, STAGE_STRIDES, CSwinBranch
from c5desk.model.decoder import UNetDecoder
from c5desk.model.heads import MaskPooledClassifier
from c5desk.model.net import US_MEAN, US_STD, DualTaskNet, make_default_cfg
from c5desk.model.registry import builds, register_model


def build_unet_resnet(
    *,
    architecture: str = "unet_resnet",
    input_size: int = 224,
    in_chans: int = 1,
    cnn_name: str = "resnet10t",
    cnn_channels: Sequence[int] | None = (32, 64, 128, 256),
    cnn_stem_width: int | None = 16,
    decoder_channels: Sequence[int] = (128, 64, 32, 16),
    light_final_block: bool = True,
    mask_pooled_scales: int = 3,
    shape_width: int = 16,
    dropout: float = 0.2,
    mean: Sequence[float] = US_MEAN,
    std: Sequence[float] = US_STD,
) -> DualTaskNet:
    """A UNet over a timm ResNet pyramid (stem at stride 2 plus four stages)."""
    default_cfg = make_default_cfg(architecture, input_size, in_chans, mean, std)
    encoder = ResNetBranch(cnn_name, in_chans, cnn_channels, cnn_stem_width)
    channels = [encoder.stem_channels, *encoder.out_channels]
    decoder = UNetDecoder(channels, FEATURE_STRIDES, decoder_channels, light_final_block)
    classifier = MaskPooledClassifier(channels, 2, mask_pooled_scales, shape_width, dropout)
    return DualTaskNet(encoder, decoder, classifier, FEATURE_STRIDES, default_cfg)


def build_cswin_unet(
    *,
    architecture: str = "cswin_unet",
    input_size: int = 224,
    in_chans: int = 1,
    embed_dims: Sequence[int] = (32, 64, 128, 256),
    depths: Sequence[int] = (1, 1, 2, 1),
    num_heads: Sequence[int] = (2, 2, 4, 8),
    stripe_targets: Sequence[int | None] = DEFAULT_STRIPE_TARGETS,
    mlp_ratio: float = 4.0,
    decoder_channels: Sequence[int] = (128, 64, 32, 16),
    light_final_block: bool = True,
    mask_pooled_scales: int = 3,
    shape_width: int = 16,
    dropout: float = 0.2,
    drop_path_rate: float = 0.05,
    mean: Sequence[float] = US_MEAN,
    std: Sequence[float] = US_STD,
) -> DualTaskNet:
    """A UNet over the CSwin pyramid alone (strides 4..32; the last decoder block has no skip)."""
    default_cfg = make_default_cfg(architecture, input_size, in_chans, mean, std)
    encoder = CSwinBranch(in_chans, embed_dims, depths, num_heads, stripe_targets, mlp_ratio, drop_path_rate)
    decoder = UNetDecoder(encoder.out_channels, STAGE_STRIDES, decoder_channels, light_final_block)
    classifier = MaskPooledClassifier(encoder.out_channels, 2, mask_pooled_scales, shape_width, dropout)
    return DualTaskNet(encoder, decoder, classifier, STAGE_STRIDES, default_cfg)


@register_model
@builds(build_unet_resnet)
def unet_resnet(**overrides: Any) -> DualTaskNet:
    return build_unet_resnet(**{**overrides, "architecture": "unet_resnet"})


@register_model
@builds(build_unet_resnet)
def unet_resnet34(**overrides: Any) -> DualTaskNet:
    defaults: dict[str, Any] = dict(
        cnn_name="resnet34",
        cnn_channels=None,
        cnn_stem_width=None,
        decoder_channels=(256, 128, 64, 32, 16),
        light_final_block=False,
        mask_pooled_scales=0,
    )
    return build_unet_resnet(**{**defaults, **overrides, "architecture": "unet_resnet34"})


@register_model
@builds(build_cswin_unet)
def cswin_unet_tiny(**overrides: Any) -> DualTaskNet:
    return build_cswin_unet(**{**overrides, "architecture": "cswin_unet_tiny"})
