"""The annotation dataset: a folder with an SQLite database and PNG files (see c5desk.store.store).

No Qt and no torch here: the app saves through it while a training process reads through it.
"""

from __future__ import annotations

from c5desk.store.records import (
    LABELS,
    LESION_LABELS,
    Annotation,
    AuditEntry,
    FrameRecord,
    JournalEntry,
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
    "ModelVersion",
    "PredictionRecord",
    "Store",
    "StoreError",
    "Suggestion",
    "TrainingExample",
]
