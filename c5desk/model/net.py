"""The dual-task network shared by C5-Net and the baselines: encoder → (mask decoder, classifier).

Fixed API (the inference engine, the app and training rely on it):
    model(x) -> (seg_logits (B,1,S,S), cls_logits (B,2))      a plain tuple, so ONNX export works
    model.encode(x) -> list[Tensor]                            multi-scale features, fine to coarse
    model.segment(feats) -> seg_logits
    model.classify(feats, mask_prob=None) -> cls_logits        mask_prob (B,1,S,S) in [0,1]; None = own mask
    model.default_cfg                                          input_size, in_chans, mean, std, class_names

Model v2 adds two optional parts (None in v1 bundles and the baselines):
    model.segment_prompted(feats, prompt_maps) -> seg_logits  maps (B,4,S,S): c5desk.inference.prompt_maps
    model.lesion_present(feats) -> logits (B,)                 is there a lesion at all
    model(x, prompt_maps) -> (seg, cls, presence, seg_prompted)  one call for training (DDP needs forward)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from c5desk.errors import ModelError

CLASS_NAMES = ("benign", "malignant")
# Grey-level statistics of BUS-BRA frames scaled to [0, 1] (measured on every 10th frame resized to 224²).
US_MEAN = (0.326,)
US_STD = (0.195,)


def make_default_cfg(
    architecture: str, input_size: int, in_chans: int, mean: Sequence[float], std: Sequence[float]
) -> dict[str, Any]:
    """Preprocessing contract that travels with the weights: pixels scaled to [0,1], then (x - mean) / std."""
    if input_size < 32 or input_size % 32:
        raise ModelError(f"input_size must be a positive multiple of 32, got {input_size}")
    if len(mean) != in_chans or len(std) != in_chans or min(std) <= 0:
        raise ModelError(f"mean/std need {in_chans} value(s) each and std > 0, got {mean}/{std}")
    return {
        "architecture": architecture,
        "input_size": int(input_size),
        "in_chans": int(in_chans),
        "mean": tuple(float(m) for m in mean),
        "std": tuple(float(s) for s in std),
        "class_names": list(CLASS_NAMES),
    }


class DualTaskNet(nn.Module):
    """Any encoder returning a feature pyramid + a UNet decoder + a (mask-conditioned) classification head."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        classifier: nn.Module,
        feature_strides: Sequence[int],
        default_cfg: dict[str, Any],
        prompt_encoder: nn.Module | None = None,
        presence: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.classifier = classifier
        self.feature_strides = tuple(feature_strides)
        self.default_cfg = default_cfg
        self.prompt_encoder = prompt_encoder
        self.presence = presence

    def forward(self, x: torch.Tensor, prompt_maps: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        features = self.encode(x)
        seg_logits = self.segment(features)
        cls_logits = self._classify(features, seg_logits)
        if prompt_maps is None:
            return seg_logits, cls_logits
        presence = self.lesion_present(features) if self.presence is not None else None
        prompted = self.segment_prompted(features, prompt_maps) if self.prompt_encoder is not None else None
        return seg_logits, cls_logits, presence, prompted

    @property
    def promptable(self) -> bool:
        return self.prompt_encoder is not None

    def segment_prompted(self, features: Sequence[torch.Tensor], prompt_maps: torch.Tensor) -> torch.Tensor:
        """Segmentation logits steered by a prompt: the prompt maps are added to the features the decoder
        reads, never to those the classifier reads (the prompt changes the outline, the outline the score)."""
        if self.prompt_encoder is None:
            raise ModelError("this model takes no prompt inputs")
        added = self.prompt_encoder(prompt_maps.to(features[0].dtype))
        return self.decoder([f + a for f, a in zip(features, added, strict=True)])

    def lesion_present(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logit (B,) that the frame shows a lesion at all."""
        if self.presence is None:
            raise ModelError("this model has no lesion-present output")
        return self.presence(features)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not torch.jit.is_tracing():
            self._check_input(x)
        return list(self.encoder(x))

    def segment(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.decoder(features)

    def classify(
        self, features: Sequence[torch.Tensor], mask_prob: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class logits given a mask probability map at input resolution (None: the model's own mask)."""
        if mask_prob is None or not self.classifier.uses_mask:
            return self._classify(features, None)
        if not torch.jit.is_tracing():
            self._check_mask(features, mask_prob)
        return self.classifier(features, mask_prob.to(features[-1].dtype).clamp(0.0, 1.0))

    def _classify(self, features: Sequence[torch.Tensor], seg_logits: torch.Tensor | None) -> torch.Tensor:
        """Classify on the model's own mask. It is an *input* to the head (detached): the classification loss
        must not bend the outline towards whatever helps the score, and at use time the mask may come from a
        clinician instead, so the two heads are trained as separate consumers of the shared encoder."""
        if not self.classifier.uses_mask:
            return self.classifier(features, None)
        if seg_logits is None:
            seg_logits = self.segment(features)
        return self.classifier(features, torch.sigmoid(seg_logits).detach())

    def _check_input(self, x: torch.Tensor) -> None:
        in_chans = self.default_cfg["in_chans"]
        if x.ndim != 4 or x.shape[1] != in_chans:
            raise ModelError(f"expected input of shape (B, {in_chans}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32 or x.shape[2] < 32 or x.shape[3] < 32:
            raise ModelError(f"input height and width must be multiples of 32, got {tuple(x.shape[2:])}")
        if not x.is_floating_point():
            raise ModelError(f"input must be a normalised floating-point tensor, got {x.dtype}")

    def _check_mask(self, features: Sequence[torch.Tensor], mask_prob: torch.Tensor) -> None:
        if not isinstance(mask_prob, torch.Tensor):
            raise ModelError(f"mask_prob must be a torch.Tensor, got {type(mask_prob).__name__}")
        finest = features[0]
        size = (finest.shape[2] * self.feature_strides[0], finest.shape[3] * self.feature_strides[0])
        expected = (finest.shape[0], 1, *size)
        if tuple(mask_prob.shape) != expected:
            raise ModelError(
                f"mask_prob must have shape {expected} (input resolution), got {tuple(mask_prob.shape)}"
            )
