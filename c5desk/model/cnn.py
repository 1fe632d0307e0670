"""Convolutional branch: a timm ResNet as a feature pyramid (strides 2/4/8/16/32), built without weights."""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from torch import nn

import c5desk.settings  # noqa: F401  (sets HF_HUB_OFFLINE before timm can look for a hub)
from c5desk.errors import ModelError

FEATURE_STRIDES = (2, 4, 8, 16, 32)


class ResNetBranch(nn.Module):
    """``timm.create_model(name, features_only=True)`` returning the stem map (stride 2) and four stages.

    ``channels``/``stem_width`` narrow the network (timm's ResNet takes them as keyword arguments), which is
    how the tiny variants stay cheap on a CPU. ``pretrained`` is always False: nothing is downloaded.
    """

    def __init__(
        self,
        name: str = "resnet10t",
        in_chans: int = 1,
        channels: Sequence[int] | None = None,
        stem_width: int | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not name.startswith("resnet") or name not in timm.list_models(name):
            raise ModelError(
                f"CNN branch must be a timm ResNet (resnet10t, resnet18, resnet34...), got {name!r}"
            )
        extra: dict[str, object] = {}
        if channels is not None:
            extra["channels"] = tuple(channels)
        if stem_width is not None:
            extra["stem_width"] = stem_width
        if drop_path_rate:
            extra["drop_path_rate"] = drop_path_rate
        self.body = timm.create_model(
            name,
            pretrained=False,
            features_only=True,
            out_indices=(0, 1, 2, 3, 4),
            in_chans=in_chans,
            **extra,
        )
        reductions = tuple(self.body.feature_info.reduction())
        if reductions != FEATURE_STRIDES:
            raise ModelError(f"{name} gives feature strides {reductions}, expected {FEATURE_STRIDES}")
        all_channels = self.body.feature_info.channels()
        self.stem_channels: int = all_channels[0]
        self.out_channels: list[int] = list(all_channels[1:])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Five maps, fine to coarse: stem (stride 2), then strides 4, 8, 16, 32."""
        return list(self.body(x))
