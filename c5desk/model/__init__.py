"""The C5-Net model family: registry, building blocks, bundle load/save, ONNX export, the model catalogue.

Names are re-exported lazily so that ``c5desk.model.bundle.read_spec`` works without importing torch.

    from c5desk.model import create_model, list_models, load_bundle
    model = create_model("c5net_tiny")
    seg_logits, cls_logits = model(x)            # x: (B, 1, S, S), normalised per model.default_cfg
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "register_model": "c5desk.model.registry",
    "create_model": "c5desk.model.registry",
    "list_models": "c5desk.model.registry",
    "is_model": "c5desk.model.registry",
    "DualTaskNet": "c5desk.model.net",
    "build_c5net": "c5desk.model.c5net",
    "pick_stripe_widths": "c5desk.model.cswin",
    "BundleSpec": "c5desk.model.bundle",
    "read_spec": "c5desk.model.bundle",
    "save_bundle": "c5desk.model.bundle",
    "load_bundle": "c5desk.model.bundle",
    "make_random_bundle": "c5desk.model.bundle",
    "export_graphs": "c5desk.model.onnx_graphs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'c5desk.model' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
