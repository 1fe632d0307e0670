"""TorchEngine: the network on PyTorch, on CUDA (bf16/fp16 autocast), Apple MPS or the CPU."""

from __future__ import annotations

import numpy as np
import torch

from c5desk.inference.devices import describe_device


class TorchEngine:
    name = "torch"

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.torch_device = device
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.device = describe_device(device)
        self.amp_dtype = None
        if device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self._outputs(batch)[:3]  # batch scoring: the features are dropped, never copied

    def forward_keeping(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list]:
        """forward() plus the encoder features, kept for re-scoring and prompts of the same frame."""
        seg, cls, present, features = self._outputs(batch)
        return seg, cls, present, [f.float().contiguous() for f in features]

    def _outputs(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list]:
        with torch.inference_mode(), self._autocast():
            features = self.model.encode(self._tensor(batch, channels_last=True))
            seg_logits = self.model.segment(features)
            cls_logits = self.model._classify(features, seg_logits)
            present = None
            if getattr(self.model, "presence", None) is not None:  # model v2
                present = torch.sigmoid(self.model.lesion_present(features).float()).cpu().numpy()
            seg = torch.sigmoid(seg_logits.float())[:, 0]
            cls = torch.softmax(cls_logits.float(), dim=1)
        return seg.cpu().numpy(), cls.cpu().numpy(), present, features

    def forward_prompted(self, features: list[torch.Tensor], prompt_maps: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), self._autocast():
            seg_logits = self.model.segment_prompted(features, self._tensor(prompt_maps))
            return torch.sigmoid(seg_logits.float())[:, 0].cpu().numpy()

    def encode(self, batch: np.ndarray) -> list[torch.Tensor]:
        with torch.inference_mode():
            return self.model.encode(self._tensor(batch))

    def classify(self, features: list[torch.Tensor], mask_prob: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.model.classify(features, self._tensor(mask_prob))
            return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def release(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.empty_cache()

    def _tensor(self, array: np.ndarray, channels_last: bool = False) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if self.torch_device.type == "cuda":
            tensor = tensor.pin_memory().to(self.torch_device, non_blocking=True)
        tensor = tensor.to(self.torch_device)
        return tensor.contiguous(memory_format=torch.channels_last) if channels_last else tensor

    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(device_type="cpu", enabled=False)
        return torch.autocast(device_type=self.torch_device.type, dtype=self.amp_dtype)
