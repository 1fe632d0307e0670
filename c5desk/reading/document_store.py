"""The store side of a Document: starting from a frame's saved annotation and autosave, saving it (one lesion
or several) as the frame's next revision, and autosaving unsaved edits to the store's journal.

Mixed into Document (c5desk.reading.document), whose state it reads and sets; kept apart so that the
Document module stays about reading and editing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from c5desk.errors import DocumentError
from c5desk.reading.document_state import Origin, clinician_terms

if TYPE_CHECKING:
    from typing import Self

    from c5desk.io.frame import Frame
    from c5desk.store import Store
    from c5desk.store.records import Annotation, JournalEntry, Lesion, LesionDraft


class StoredDocument:
    """Document's loading, saving and autosaving (see the module docstring)."""

    frame: Frame
    frame_id: int | None
    origin: Origin
    prediction: Any
    recovered_from: str | None
    _prediction_stored: bool
    _autosaved: tuple[object, ...] | None

    @classmethod
    def for_frame(cls, frame: Frame, origin: Origin | None = None, store: Store | None = None) -> Self:
        """A document starting from the frame's saved annotation in `store`, then its autosaved edits."""
        origin = origin or Origin()
        frame_id = origin.store_frame_id
        if store is not None and frame_id is None:
            frame_id = store.frame_id_for(frame.source_id)
        if store is None or frame_id is None:
            return cls(frame, origin)
        saved = store.annotation(frame_id)
        if saved is None:
            doc = cls(frame, origin)
        else:
            doc = cls(frame, origin, store.mask(frame_id), saved.label, saved.category, saved.note)
            doc.descriptor_choices = clinician_terms(saved.descriptors)
            doc.outline.base = dict(saved.provenance)
            drafts = store.lesion_drafts(saved)
            if len(drafts) > 1:
                doc._take_lesions(drafts, "saved")
            doc._saved = doc._snapshot()
            doc._lesions_saved()
        doc.frame_id = frame_id
        entry = store.journal_entry(frame_id)
        if entry is not None and entry.mask.shape == frame.shape:
            doc._recover(entry)
        return doc

    def _recover(self, entry: JournalEntry) -> None:
        """Take the autosaved edits of an earlier session (every lesion of them) over what was saved."""
        from c5desk.store.records import LesionDraft

        fields = entry.label, entry.category, entry.note, entry.descriptors, entry.provenance
        main = LesionDraft(entry.mask, *fields)
        self._take_lesions([main, *entry.more_lesions], "recover autosave")
        self.recovered_from = entry.saved_utc

    def _take_lesions(self, drafts: list[LesionDraft], how: str) -> None:
        """Make the document's lesions these (one undo step each where a lesion was already there)."""
        while self.lesion_count > len(drafts):
            self.remove_lesion(self.lesion_count - 1)
        for index, draft in enumerate(drafts):
            if index >= self.lesion_count:
                self.add_lesion()
            self.select_lesion(index)
            if draft.mask.shape == self.frame.shape:
                self.editor.apply(draft.mask, how) if how != "saved" else self.editor.reset(draft.mask)
            self.label, self.category, self.note = draft.label, draft.category, draft.note
            self.descriptor_choices = clinician_terms(dict(draft.descriptors or {}))
            self.outline.base = dict(draft.provenance or {})
            self._follows_model = False
            if how == "saved":
                self._saved = self._snapshot()
        self.select_lesion(0)

    # ---- saving ----------------------------------------------------------------------------------------
    def ensure_in_store(self, store: Store) -> int:
        """The frame's id in `store`, adding the frame (pixels and calibration, never the path) if needed."""
        if self.frame_id is None or store.frame_id_for(self.frame.source_id) != self.frame_id:
            self.frame_id = store.add_frame(self.frame, source_path=self.origin.path)
        return self.frame_id

    def save(self, store: Store) -> Annotation:
        """Save mask, label, category and note as the frame's next annotation revision (and the model's
        output beside it, so that the correction is measured against it)."""
        if self.lesion_count > 1:
            return self._save_lesions(store)
        if self.label is None:
            raise DocumentError("choose a label (benign, malignant, normal or unsure) before saving")
        frame_id = self._store_frame_and_prediction(store)
        pred = self.prediction
        saved = store.save_annotation(
            frame_id,
            self.editor.mask,
            self.label,
            self.category,
            self.note,
            model_version=pred.model_version if pred is not None else None,
            descriptors=self.descriptors,
            provenance=self.provenance,
        )
        self._saved_as(saved)
        self._lesions_saved()
        self._autosaved = None
        return saved

    def _save_lesions(self, store: Store) -> Annotation:
        drafts = self.lesion_drafts()
        if len(drafts) < self.lesion_count:
            empty = next(s.number for s in self.lesion_summaries() if not s.outlined)
            raise DocumentError(f"lesion {empty} has no outline: draw it or remove the lesion")
        frame_id = self._store_frame_and_prediction(store)
        pred = self.prediction
        saved = store.save_lesions(frame_id, drafts, pred.model_version if pred is not None else None)
        with self.each_lesion() as lesions:
            for index, lesion in zip(lesions, store.lesions(saved), strict=True):
                assert lesion.position == index + 1
                self._saved_as(lesion)
        self._lesions_saved()
        self._autosaved = None
        return saved

    def _store_frame_and_prediction(self, store: Store) -> int:
        frame_id = self.ensure_in_store(store)
        pred = self.prediction
        if pred is not None and not self._prediction_stored:
            store.add_prediction(
                frame_id, pred.model_version, pred.p_malignant, pred.uncertainty, pred.mask,
                label=pred.label, descriptors=pred.descriptors,
            )  # fmt: skip
            self._prediction_stored = True
        return frame_id

    def _saved_as(self, saved: Annotation | Lesion) -> None:
        """The active lesion was saved as `saved` (its values normalised): that is its clean state now."""
        self.label, self.category, self.note = saved.label, saved.category, saved.note
        self.descriptor_choices = clinician_terms(saved.descriptors)
        self.outline.base = dict(saved.provenance)
        self._saved = self._snapshot()

    def autosave(self, store: Store) -> bool:
        """Write unsaved edits to the store's journal (once per change); True when something was written."""
        if not self.dirty:
            return False
        state = self._autosave_state()
        if state == self._autosaved:
            return False
        frame_id = self.ensure_in_store(store)
        more = self.lesion_drafts("unsure")[1:] if self.lesion_count > 1 else []
        with self.each_lesion() as lesions:
            next(lesions)  # the main lesion's fields are the entry's own
            fields = self.label or "unsure", self.category, self.note, self.descriptors, self.provenance
            store.journal_write(frame_id, self.editor.mask, *fields, more_lesions=more)
        self._autosaved = state
        return True

    def _autosave_state(self) -> tuple[object, ...]:
        if self.lesion_count == 1:
            return (self.editor.version, *self._meta())
        with self.each_lesion() as lesions:
            return tuple((self._lesion_ids[i], self.editor.version, *self._meta()) for i in lesions)

    def discard_autosave(self, store: Store) -> None:
        """The user chose to drop the unsaved edits: forget their autosave too."""
        if self.frame_id is not None:
            store.journal_discard(self.frame_id)
        self._autosaved = None
