"""What the node has received, for the app's "Received" list: frames with their provenance and score.

Read from the store alone (frames whose meta says they came over DICOM, see receive.py), so the list is
the same whether the node runs in this process, in another, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from c5desk.node.receive import RECEIVED
from c5desk.store import Store


@dataclass(frozen=True)
class ReceivedFrame:
    frame_id: int
    case: str  # the store's display name, e.g. "case-0003"
    frame_index: int
    calling_ae: str
    received_utc: str
    p_malignant: float | None  # the newest prediction's; None while not yet scored or with no lesion found
    label: str | None
    model_version: str | None


def received_frames(store: Store) -> list[ReceivedFrame]:
    """Every frame received over DICOM, newest first."""
    found = []
    for record in store.frames():
        stamp = record.meta.get(RECEIVED)
        if not isinstance(stamp, dict):
            continue
        prediction = store.prediction(record.id)
        found.append(
            ReceivedFrame(
                frame_id=record.id,
                case=record.case,
                frame_index=record.frame_index,
                calling_ae=str(stamp.get("calling_ae", "")),
                received_utc=str(stamp.get("time_utc", "")),
                p_malignant=prediction.malignancy if prediction else None,
                label=prediction.label if prediction else None,
                model_version=prediction.model_version if prediction else None,
            )
        )
    return sorted(found, key=lambda item: (item.received_utc, item.frame_id), reverse=True)
