"""The annotation dataset: a folder with an SQLite database and PNG files (see c5desk.store.store).

No Qt and no torch here: the app saves through it while a training process reads through it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from c5desk.store.records import (
        LABELS,
        LESION_LABELS,
        Annotation,
        AuditEntry,
        FrameRecord,
        JournalEntry,
        Lesion,
        LesionDraft,
        ModelVersion,
        PredictionRecord,
        StoreError,
        Suggestion,
        TrainingExample,
    )
    from c5desk.store.store import DATABASE, Store

__all__ = [
    "DATABASE",
    "LABELS",
    "LESION_LABELS",
    "Annotation",
    "AuditEntry",
    "FrameRecord",
    "JournalEntry",
    "Lesion",
    "LesionDraft",
    "ModelVersion",
    "PredictionRecord",
    "Store",
    "StoreError",
    "Suggestion",
    "TrainingExample",
]


def __getattr__(name: str) -> Any:
    """The names above load on first use: importing one light part (e.g. c5desk.store.browse, which the
    window's case browser needs at start) must not load the readers (pydicom) through Store."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "c5desk.store.store" if name in ("DATABASE", "Store") else "c5desk.store.records"
    return getattr(importlib.import_module(module), name)
