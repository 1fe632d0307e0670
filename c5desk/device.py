"""Which device runs the model, chosen visibly: CUDA if present, else Apple MPS, else the CPU."""

from __future__ import annotations

import os

import torch

from c5desk.errors import ModelError
from c5desk.settings import DEVICE_CHOICES


def resolve_device(request: str = "auto") -> torch.device:
    """A user's choice as a torch device; naming an absent accelerator is an error, not a fallback."""
    request = (request or "auto").lower()
    if request not in DEVICE_CHOICES and not request.startswith("cuda:"):
        raise ModelError(f"unknown device {request!r}; choose one of {', '.join(DEVICE_CHOICES)}")
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
