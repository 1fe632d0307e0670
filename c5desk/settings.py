"""Locations and switches that users and CI may override through environment variables."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PROJECT_ROOT / "resources"

# Nothing in c5desk may reach a model hub; timm would otherwise try when asked for weights.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def data_root() -> Path:
    """Where the shared datasets live (BUS-BRA, ISIC 2017): $C5DESK_DATA, else ../shared/data."""
    configured = os.environ.get("C5DESK_DATA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"


def config_dir() -> Path:
    """Per-user configuration folder ($C5DESK_CONFIG, else the XDG config home)."""
    configured = os.environ.get("C5DESK_CONFIG")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "c5desk"


def cache_dir() -> Path:
    """Per-user cache for derived files such as exported ONNX graphs ($C5DESK_CACHE, else XDG cache home)."""
    configured = os.environ.get("C5DESK_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "c5desk"


# Model devices a user may name (torch-free here, so the lean ONNX Runtime build can offer them).
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
