"""C5-Net (this project's reconstruction of Wang et al., CMIG 2025): CSwin transformer coupled with a ResNet.

Both branches run in parallel on the same frame; a coupling block fuses them at strides 4/8/16/32. The fused
pyramid plus the CNN stem map (stride 2, for sharp outlines) feed a UNet decoder; the fused maps and the mask
feed the classification head. Only the paper's abstract is public: widths, depths and the fusion design are
choices of this project, tuned so the tiny variant trains on a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from c5desk.errors import ModelError
from c5desk.model.cnn import FEATURE_STRIDES, ResNetBranch
from c5desk.model.cswin import DEFAULT_STRIPE_TARGETS, CSwinBranch
from c5desk.model.decoder import UNetDecoder
from c5desk.model.fusion import CouplingBlock
from c5desk.model.heads import MaskPooledClassifier, PresenceHead
from c5desk.model.net import US_MEAN, US_STD, DualTaskNet, make_default_cfg
from c5desk.model.prompt_encoder import PromptEncoder
from c5desk.model.registry import builds, register_model


class CoupledEncoder(nn.Module):
    """ResNet branch ∥ CSwin branch → coupling at each of the four scales; output fine to coarse."""

    def __init__(self, cnn: ResNetBranch, transformer: CSwinBranch, fused_channels: Sequence[int]) -> None:
        super().__init__()
        if len(fused_channels) != 4:
            raise ModelError(f"fused_channels needs four widths, got {list(fused_channels)}")
        self.cnn = cnn
        self.transformer = transformer
        self.couplings = nn.ModuleList(
            CouplingBlock(c, t, f)
            for c, t, f in zip(cnn.out_channels, transformer.out_channels, fused_channels, strict=True)
        )
        self.out_channels = [cnn.stem_channels, *fused_channels]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stem, *cnn_maps = self.cnn(x)
        transformer_maps = self.transformer(x)
        fused = [
            couple(c, t) for couple, c, t in zip(self.couplings, cnn_maps, transformer_maps, strict=True)
        ]
        return [stem, *fused]


def build_c5net(
    *,
    architecture: str = "c5net",
    input_size: int = 224,
    in_chans: int = 1,
    cnn_name: str = "resnet10t",
    cnn_channels: Sequence[int] | None = (32, 64, 128, 256),
    cnn_stem_width: int | None = 16,
    embed_dims: Sequence[int] = (32, 64, 128, 256),
    depths: Sequence[int] = (1, 1, 2, 1),
    num_heads: Sequence[int] = (2, 2, 4, 8),
    stripe_targets: Sequence[int | None] = DEFAULT_STRIPE_TARGETS,
    mlp_ratio: float = 4.0,
    fused_channels: Sequence[int] | None = None,
    decoder_channels: Sequence[int] = (128, 64, 32, 16),
    light_final_block: bool = True,
    mask_pooled_scales: int = 3,
    shape_width: int = 16,
    dropout: float = 0.2,
    drop_path_rate: float = 0.05,
    mean: Sequence[float] = US_MEAN,
    std: Sequence[float] = US_STD,
    prompts: bool = False,
    presence: bool = False,
) -> DualTaskNet:
    """Assemble a C5-Net; every argument is JSON-friendly so a bundle can rebuild the model from its spec."""
    default_cfg = make_default_cfg(architecture, input_size, in_chans, mean, std)
    cnn = ResNetBranch(cnn_name, in_chans, cnn_channels, cnn_stem_width)
    transformer = CSwinBranch(
        in_chans, embed_dims, depths, num_heads, stripe_targets, mlp_ratio, drop_path_rate
    )
    encoder = CoupledEncoder(cnn, transformer, fused_channels or cnn.out_channels)
    decoder = UNetDecoder(encoder.out_channels, FEATURE_STRIDES, decoder_channels, light_final_block)
    classifier = MaskPooledClassifier(encoder.out_channels, 2, mask_pooled_scales, shape_width, dropout)
    # model v2: prompt inputs to the decoder and a lesion-present output (both off in v1 bundles)
    prompt_encoder = PromptEncoder(encoder.out_channels, FEATURE_STRIDES) if prompts else None
    presence_head = PresenceHead(encoder.out_channels[-1]) if presence else None
    return DualTaskNet(
        encoder, decoder, classifier, FEATURE_STRIDES, default_cfg, prompt_encoder, presence_head
    )


def _variant(architecture: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> DualTaskNet:
    return build_c5net(**{**defaults, **overrides, "architecture": architecture})


# CPU variant (~4.9 M parameters): ResNet-10-T at half width + a 5-block CSwin with dims 32..256.
TINY_ARGS: dict[str, Any] = {}

# Workstation variant (~26 M): full-width ResNet-18 + a 9-block CSwin with dims 48..384.
SMALL_ARGS: dict[str, Any] = dict(
    input_size=256,
    cnn_name="resnet18",
    cnn_channels=None,
    cnn_stem_width=None,
    embed_dims=(48, 96, 192, 384),
    depths=(1, 2, 4, 2),
    num_heads=(2, 4, 6, 12),
    decoder_channels=(256, 128, 64, 32),
    light_final_block=False,
    shape_width=32,
    drop_path_rate=0.1,
)

# GPU variant near the paper's size (~51 M): ResNet-34 + CSwin-T dimensions (64..512, depths 1-2-21-1).
BASE_ARGS: dict[str, Any] = dict(
    input_size=256,
    cnn_name="resnet34",
    cnn_channels=None,
    cnn_stem_width=None,
    embed_dims=(64, 128, 256, 512),
    depths=(1, 2, 21, 1),
    num_heads=(2, 4, 8, 16),
    decoder_channels=(256, 128, 64, 32, 16),
    light_final_block=False,
    shape_width=32,
    drop_path_rate=0.2,
)


@register_model
@builds(build_c5net)
def c5net_tiny(**overrides: Any) -> DualTaskNet:
    return _variant("c5net_tiny", TINY_ARGS, overrides)


@register_model
@builds(build_c5net)
def c5net_small(**overrides: Any) -> DualTaskNet:
    return _variant("c5net_small", SMALL_ARGS, overrides)


@register_model
@builds(build_c5net)
def c5net_base(**overrides: Any) -> DualTaskNet:
    return _variant("c5net_base", BASE_ARGS, overrides)
