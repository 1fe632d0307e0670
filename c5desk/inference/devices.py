"""Which device runs the model, chosen visibly: CUDA if present, else Apple MPS, else the CPU.

torch is imported only by the functions that need it, so the lean (ONNX Runtime) installation can use the
rest: the CPU thread count and the ONNX Runtime providers for a user's device choice.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from c5desk.errors import ModelError
from c5desk.settings import DEVICE_CHOICES

if TYPE_CHECKING:
    import torch


def check_device_name(request: str | None) -> str:
    """A user's device choice, lower-cased; an unknown name is an error, not a fallback."""
    request = (request or "auto").lower()
    if request not in DEVICE_CHOICES and not request.startswith("cuda:"):
        raise ModelError(f"unknown device {request!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    return request


def resolve_device(request: str = "auto") -> torch.device:
    """A user's choice as a torch device; naming an absent accelerator is an error, not a fallback."""
    import torch

    request = check_device_name(request)
    if request == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if request.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("CUDA was requested but no usable NVIDIA GPU/driver was found; use --device cpu")
    if request == "mps" and not torch.backends.mps.is_available():
        raise ModelError("Apple MPS was requested but is not available on this machine; use --device cpu")
    return torch.device(request)


def describe_device(device: torch.device) -> str:
    """The label shown beside every score, e.g. 'GPU NVIDIA H100 (cuda:0)' or 'CPU (2 threads)'."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU {torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "mps":
        return "GPU Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def cpu_threads() -> int:
    """Threads for one compute pool: the cores this process may use (never two pools at full width)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def ort_providers(device: str | None) -> tuple[list[str], str]:
    """(ONNX Runtime providers, label shown beside every score) for a user's device choice."""
    import onnxruntime as ort

    request = check_device_name(device)
    if request in ("auto", "cpu"):
        return ["CPUExecutionProvider"], f"CPU ({cpu_threads()} threads)"
    if request.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(
                "CUDA was requested but this installation infers with the CPU build of ONNX Runtime; "
                "use --device cpu, or the GPU bundle (see installer/README.md)"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"], f"GPU ({request}, ONNX Runtime)"
    raise ModelError(f"unknown or unsupported device {device!r} for ONNX Runtime; choose auto, cpu or cuda")
