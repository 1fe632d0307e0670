"""Autosave part of the store: unsaved edits of a frame, kept in the journal until saved or discarded.

Entries are validated like a save (so recovering one cannot fail on its content), offered for recovery
after a restart, and never a reason to fail: an unreadable entry is set aside (renamed, kept for
inspection) rather than raised, and one equal to the saved annotation (the app died between committing
and clearing it) is dropped as stale. An entry whose base revision the saved annotation has moved past
is still offered as is; its base_revision tells the caller what the edits started from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from c5desk.store import lesions
from c5desk.store.annotations import Annotations
from c5desk.store.frames import Frames
from c5desk.store.history import AuditLog
from c5desk.store.journal import Journal
from c5desk.store.records import (
    Annotation,
    JournalEntry,
    LesionDraft,
    StoreError,
    check_category,
    check_descriptors,
    check_label,
    check_mask,
    check_note,
    check_provenance,
)
from c5desk.store.versions import utc_now


class Autosave:
    """Writes, offers, recovers and discards autosaved edits, one journal file per frame."""

    def __init__(
        self, journal: Journal, frames: Frames, annotations: Annotations, audit_log: AuditLog
    ) -> None:
        self._journal = journal
        self._frames = frames
        self._annotations = annotations
        self._audit_log = audit_log

    def write(
        self,
        frame_id: int,
        mask: np.ndarray,
        label: str,
        category: str | None = None,
        note: str = "",
        descriptors: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        more_lesions: Sequence[LesionDraft] = (),
    ) -> None:
        """Autosave unsaved edits of a frame (atomically replaces its previous autosave); more_lesions are
        lesions 2..n of a frame with several, each outlined."""
        record = self._frames.record(frame_id)
        shape = (record.height, record.width)
        more = tuple(lesions.as_draft(lesion) for lesion in lesions.check_drafts(more_lesions, shape, 2))
        latest = self._annotations.get(record.id)
        entry = JournalEntry(
            frame_id=record.id,
            mask=check_mask(mask, (record.height, record.width)),
            label=check_label(label),
            category=check_category(category),
            note=check_note(note),
            base_revision=latest.revision if latest else 0,
            saved_utc=utc_now(),
            descriptors=check_descriptors(descriptors),
            provenance=check_provenance(provenance),
            more_lesions=more,
        )
        self._journal.write(entry)

    def entries(self) -> list[JournalEntry]:
        """Autosaved edits waiting for recovery; entries equal to the saved annotation are dropped."""
        found = (self.entry(frame_id) for frame_id in self._journal.frame_ids())
        return [entry for entry in found if entry is not None]

    def entry(self, frame_id: int) -> JournalEntry | None:
        """The frame's autosaved edits, decoding only its own entry; None when it has none (or none
        usable: an unreadable entry is set aside, a stale one dropped, as entries() does)."""
        frame_id = int(frame_id)
        try:
            entry = self._journal.read(frame_id)
        except StoreError:
            self._journal.set_aside(frame_id)  # kept for inspection, never offered half-read
            return None
        if entry is None:
            return None
        saved = self._annotations.get(frame_id)
        if saved is not None and self._same_as_saved(entry, saved):
            self._journal.discard(frame_id)  # a crash came between saving and clearing the autosave
            return None
        return entry

    def _same_as_saved(self, entry: JournalEntry, saved: Annotation) -> bool:
        if (entry.label, entry.category, entry.note, entry.descriptors, entry.provenance) != (
            saved.label, saved.category, saved.note, saved.descriptors, saved.provenance,
        ):  # fmt: skip
            return False
        saved_lesions = self._annotations.drafts(saved)
        if len(saved_lesions) > 1 or entry.more_lesions:
            return _same_lesions([_main_draft(entry), *entry.more_lesions], saved_lesions)
        return bool(np.array_equal(entry.mask, self._annotations.mask_of(saved)))

    def recover(self, frame_id: int, model_version: str | None = None) -> Annotation:
        """Save a frame's autosaved edits as its next revision (which clears the entry)."""
        entry = self._journal.read(frame_id)
        if entry is None:
            raise StoreError(f"frame {frame_id} has no autosaved edits to recover")
        if entry.more_lesions:
            drafts = [_main_draft(entry), *entry.more_lesions]
            return self._annotations.save_lesions(frame_id, drafts, model_version, action="journal_recover")
        return self._annotations.save(
            frame_id,
            entry.mask,
            entry.label,
            entry.category,
            entry.note,
            model_version,
            descriptors=entry.descriptors,
            provenance=entry.provenance,
            action="journal_recover",
        )

    def discard(self, frame_id: int) -> bool:
        """Drop a frame's autosaved edits (audited); True when there were some."""
        dropped = self._journal.discard(frame_id)
        if dropped:
            self._audit_log.record("journal_discard", frame_id=int(frame_id))
        return dropped


def _main_draft(entry: JournalEntry) -> LesionDraft:
    fields = entry.label, entry.category, entry.note, entry.descriptors, entry.provenance
    return LesionDraft(entry.mask, *fields)


def _same_lesions(ours: Sequence[LesionDraft], theirs: Sequence[LesionDraft]) -> bool:
    def fields(draft: LesionDraft) -> tuple[object, ...]:
        terms, provenance = dict(draft.descriptors or {}), dict(draft.provenance or {})
        return draft.label, draft.category, draft.note, terms, provenance

    return len(ours) == len(theirs) and all(
        fields(a) == fields(b) and np.array_equal(a.mask, b.mask) for a, b in zip(ours, theirs, strict=True)
    )
