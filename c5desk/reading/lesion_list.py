"""Several lesions on one frame: the part of a Document that keeps a list of lesions, one of them active.

Each lesion owns what the Document's editing works on: its mask editor (with its own undo history), label,
category, note, BI-RADS choices, outline provenance, threshold and score. The active lesion's state lives
in the Document's own attributes, so every tool (brush, prompts, threshold, descriptors, rescore) works on
it unchanged; selecting another lesion parks that state and brings the other's in. Lesion 1 is the main
lesion: the one the model's output starts, first in the store, the exports and the frame's summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from c5desk.errors import DocumentError
from c5desk.reading.document_state import _Measured, _Saved, _Scored
from c5desk.reading.edit import MaskEditor
from c5desk.reading.prompting import OutlineHistory

if TYPE_CHECKING:
    from c5desk.inference.regions import PredictedLesion
    from c5desk.lesion.measure import Measurements
    from c5desk.store.records import LesionDraft

# What belongs to one lesion; the active lesion's values are the Document's attributes of these names.
LESION_STATE = (
    "editor", "label", "category", "note", "descriptor_choices", "outline", "_follows_model",
    "_applied_threshold", "_saved", "_scored", "_measured",
)  # fmt: skip
MAX_LESIONS = 50  # as the store keeps


@dataclass(frozen=True)
class LesionSummary:
    """One row of the lesion list: what the window shows for a lesion without selecting it."""

    number: int  # 1-based; 1 is the main lesion
    active: bool
    label: str | None
    category: str | None
    outlined: bool
    p_malignant: float | None  # None: no model, or not scored for the mask it has now
    measurements: Measurements | None


class LesionList:
    """Mixed into Document: the lesion list and the active lesion (see the module docstring)."""

    editor: MaskEditor
    label: str | None
    _scored: _Scored
    _measured: _Measured
    _saved: _Saved

    def _init_lesions(self) -> None:
        self._lesion_ids = [0]
        self._active_id = 0
        self._parked: dict[int, dict[str, Any]] = {}
        self._next_lesion_id = 1
        self._saved_lesion_ids: tuple[int, ...] = (0,)

    # ---- the list --------------------------------------------------------------------------------------
    @property
    def lesion_count(self) -> int:
        return len(self._lesion_ids)

    @property
    def active_lesion(self) -> int:
        """The active lesion's index (0 = the main lesion)."""
        return self._lesion_ids.index(self._active_id)

    def select_lesion(self, index: int) -> None:
        """Make lesion `index` the one every tool edits."""
        lesion_id = self._lesion_ids[self._checked_index(index)]
        if lesion_id != self._active_id and self.editor.in_stroke:
            raise DocumentError("finish the brush stroke before selecting another lesion")
        self._swap_to(lesion_id)

    def _swap_to(self, lesion_id: int) -> None:
        """Park the active lesion's state and bring lesion `lesion_id`'s in (a stroke in progress travels
        with its editor, so visiting lesions mid-stroke loses nothing)."""
        if lesion_id == self._active_id:
            return
        self._parked[self._active_id] = {name: getattr(self, name) for name in LESION_STATE}
        for name, value in self._parked.pop(lesion_id).items():
            setattr(self, name, value)
        self._active_id = lesion_id

    def add_lesion(self, mask: np.ndarray | None = None) -> int:
        """A new lesion (empty, or outlined by `mask`) after the others, made active; returns its index."""
        if self.lesion_count >= MAX_LESIONS:
            raise DocumentError(f"a frame keeps at most {MAX_LESIONS} lesions")
        if self.editor.in_stroke:
            raise DocumentError("finish the brush stroke before adding a lesion")
        lesion_id, self._next_lesion_id = self._next_lesion_id, self._next_lesion_id + 1
        self._parked[lesion_id] = self._fresh_state(mask)
        self._lesion_ids.append(lesion_id)
        self.select_lesion(self.lesion_count - 1)
        return self.lesion_count - 1

    def remove_lesion(self, index: int | None = None) -> None:
        """Drop a lesion (the active one by default); the frame always keeps one, possibly empty."""
        index = self.active_lesion if index is None else self._checked_index(index)
        if self.lesion_count == 1:
            raise DocumentError("the frame's only lesion cannot be removed: clear its outline instead")
        lesion_id = self._lesion_ids[index]
        if lesion_id == self._active_id:
            self.select_lesion(index - 1 if index > 0 else 1)
        self._lesion_ids.remove(lesion_id)
        self._parked.pop(lesion_id)

    def make_main(self, index: int) -> None:
        """Move lesion `index` to the front: the main lesion, as the frame's summary and exports take it."""
        lesion_id = self._lesion_ids.pop(self._checked_index(index))
        self._lesion_ids.insert(0, lesion_id)

    def split_lesions(self) -> int:
        """Separate the active mask's regions into lesions; returns how many it added. On the model's own
        mask, its regions in the model's order (the main lesion first, each with its own score; specks under
        regions.MIN_REGION_PX dropped, as the model's lesions leave them out); else by area, largest first."""
        model_lesions = self.model_lesions()
        if model_lesions:
            regions = [lesion.mask for lesion in model_lesions]
        else:
            count, labels, stats, _ = cv2.connectedComponentsWithStats(self.editor.mask.astype(np.uint8), 8)
            by_area = sorted(range(1, count), key=lambda n: -stats[n, cv2.CC_STAT_AREA])
            regions = [labels == island for island in by_area]
        if len(regions) < 2:
            return 0
        if self.lesion_count + len(regions) - 1 > MAX_LESIONS:
            raise DocumentError(f"a frame keeps at most {MAX_LESIONS} lesions")
        self.editor.apply(regions[0], "split lesions")
        active = self.active_lesion
        for index, region in enumerate(regions[1:], start=1):
            self.add_lesion(region)
            if model_lesions:
                self._take_model_score(model_lesions[index])
        self.select_lesion(active)
        if model_lesions:
            self._take_model_score(model_lesions[0])
        return len(regions) - 1

    def model_lesions(self) -> tuple[PredictedLesion, ...]:
        """The model's several lesions while the active outline is still the model's own mask, else ()."""
        pred = self.prediction  # type: ignore[attr-defined]
        if pred is None or not pred.lesions or not np.array_equal(self.editor.mask, pred.mask):
            return ()
        return tuple(pred.lesions)

    def _take_model_score(self, lesion: PredictedLesion) -> None:
        """The active lesion is `lesion` of the model's output: its score and measurements came with it."""
        from c5desk.lesion.descriptors import describe_lesion

        frame, version = self.frame, self.editor.version  # type: ignore[attr-defined]
        self._scored = _Scored(version, lesion.p_malignant, lesion.uncertainty)
        terms = describe_lesion(frame.grey, self.editor.mask, frame.mm_per_px)
        self._measured = _Measured(version, lesion.measurements, terms)

    def other_lesion_masks(self) -> list[tuple[int, np.ndarray]]:
        """(number, mask) of every lesion but the active one, for drawing them beside it."""
        return [
            (number, self._parked[lesion_id]["editor"].mask)
            for number, lesion_id in enumerate(self._lesion_ids, 1)
            if lesion_id != self._active_id
        ]

    def lesion_summaries(self) -> list[LesionSummary]:
        active = self.active_lesion
        with self.each_lesion() as lesions:
            return [self._summary(index, index == active) for index in lesions]

    @contextmanager
    def each_lesion(self) -> Iterator[Iterator[int]]:
        """Iterate lesion indices with each lesion active in turn; the active lesion is restored after."""
        active = self._active_id

        def visit() -> Iterator[int]:
            for index, lesion_id in enumerate(list(self._lesion_ids)):
                self._swap_to(lesion_id)
                yield index

        try:
            yield visit()
        finally:
            self._swap_to(active)

    def accept_lesion_verdicts(self) -> str | None:
        """`A` on a frame with several lesions: every outline stays; each lesion without a label takes the
        verdict of its own score (the mask-conditioned re-score). Returns a note on what it could not do."""
        unscored, disagree = [], []
        with self.each_lesion() as lesions:
            for index in lesions:
                score = self.score  # type: ignore[attr-defined]
                verdict = None if score.pending else score.model_label
                if self.label is None and verdict is not None:
                    self.label = verdict
                elif self.label is None:
                    unscored.append(str(index + 1))
                elif verdict is not None and self.label in ("benign", "malignant") and self.label != verdict:
                    disagree.append(f"lesion {index + 1} is {self.label}, the model says {verdict}")
        if unscored:
            raise DocumentError(f"lesion {', '.join(unscored)} has no label and no score yet: label it")
        return "; ".join(disagree) or None

    # ---- what saving and autosaving take ---------------------------------------------------------------
    def lesion_drafts(self, label_for_empty: str | None = None) -> list[LesionDraft]:
        """Every outlined lesion as the store saves it; DocumentError names a lesion without a label."""
        from c5desk.store.records import LesionDraft

        drafts = []
        with self.each_lesion() as lesions:
            for index in lesions:
                if not self.editor.mask.any():
                    continue
                label = self.label or label_for_empty
                if label is None:
                    raise DocumentError(f"choose a label for lesion {index + 1} before saving")
                drafts.append(
                    LesionDraft(
                        self.editor.mask.copy(), label, self.category, self.note,
                        self._saved_descriptors(), dict(self.provenance),  # type: ignore[attr-defined]
                    )
                )  # fmt: skip
        return drafts

    def _lesions_saved(self) -> None:
        self._saved_lesion_ids = tuple(self._lesion_ids)

    def _forget_parked_scores(self) -> None:
        """A new model output: the other lesions' scores came from the earlier model."""
        for state in self._parked.values():
            state["_scored"], state["_applied_threshold"] = _Scored(mask_version=-1), None

    @property
    def lesions_changed(self) -> bool:
        """Lesions were added or removed (or reordered) since the last save."""
        return tuple(self._lesion_ids) != self._saved_lesion_ids

    def _saved_descriptors(self) -> dict[str, dict[str, str]]:
        """The active lesion's terms; a parked lesion may not be measured yet, so its terms are computed."""
        if self._measured.mask_version != self.editor.version and self.editor.mask.any():
            from c5desk.lesion.descriptors import describe_lesion

            frame = self.frame  # type: ignore[attr-defined]
            terms = describe_lesion(frame.grey, self.editor.mask, frame.mm_per_px)
            self._measured = _Measured(self.editor.version, self._measured.measurements, terms)
        return self.descriptors  # type: ignore[attr-defined,no-any-return]

    def _summary(self, index: int, active: bool) -> LesionSummary:
        score = self.score  # type: ignore[attr-defined]
        current = not score.pending
        return LesionSummary(
            number=index + 1, active=active, label=self.label,
            category=self.category, outlined=bool(self.editor.mask.any()),
            p_malignant=score.p_malignant if current else None,
            measurements=score.measurements if current else None,
        )  # fmt: skip

    def _fresh_state(self, mask: np.ndarray | None) -> dict[str, Any]:
        editor = MaskEditor(np.zeros(self.editor.shape, bool) if mask is None else mask)
        return {
            "editor": editor, "label": None, "category": None, "note": "", "descriptor_choices": {},
            "outline": OutlineHistory(), "_follows_model": False, "_applied_threshold": None,
            "_saved": _Saved(np.zeros(editor.shape, bool), -1, (None, None, "", ())),
            "_scored": _Scored(mask_version=-1),
            "_measured": _Measured(mask_version=-1 if editor.mask.any() else editor.version),
        }  # fmt: skip

    def _checked_index(self, index: int) -> int:
        if not 0 <= int(index) < self.lesion_count:
            raise DocumentError(f"there is no lesion {int(index) + 1} (the frame has {self.lesion_count})")
        return int(index)
