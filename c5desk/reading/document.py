"""One frame being read: the frame, the model's output, the clinician's edited mask, label, category and note.

Headless (no Qt): the window renders a Document and forwards user actions to it, and tests drive it directly.

    doc = Document.for_frame(frame, Origin(path=p), store)   # starts from a saved annotation or autosave
    doc.set_prediction(predictor.predict(frame))             # the model's mask becomes the starting mask
    doc.editor.begin_stroke(x, y, 6); doc.editor.extend_stroke(x2, y2); doc.editor.end_stroke()
    doc.rescore(predictor)        # P(malignant) and measurements of the EDITED mask
    doc.label = "malignant"; doc.save(store)

BI-RADS descriptors: the current mask's are suggested (c5desk.lesion.descriptors, computed with the
measurements); a term the clinician sets or confirms (set_descriptor, confirm_descriptors) wins over the
suggestion and is saved with provenance "clinician", the rest with provenance "model".

Nothing the clinician did is replaced silently: accept_ai takes the model's mask but its label only when none
is set, and a probability threshold is a preview (threshold_preview changes nothing) until apply_threshold
makes it one undo step (threshold_replaces_edits tells the window when to ask first).

Prompts (box, click, pick; c5desk.inference.prompt) change the mask as one undo step each, like a brush
stroke: prompt_for builds the next prompt, the Predictor refines (off the GUI thread), apply_prompt installs
its mask with the score it came with. `provenance` says how the outline on screen was made (automatic,
prompted with its prompts, or hand-drawn; c5desk.reading.prompting) and is saved with it.

Several lesions (c5desk.reading.lesion_list): add_lesion, select_lesion, remove_lesion, split_lesions and
make_main manage a list of lesions, each with its own mask, undo history, label, category, note, terms and
score; every tool above acts on the active lesion. Loading, saving and autosaving (all lesions together)
are c5desk.reading.document_store's.

The score and the measurements always belong to a mask version: after an edit they are `pending` until
recomputed (the window does that on a worker thread via rescore_request / apply_rescore, since measuring a
long outline can take tens of milliseconds; stale answers are dropped by version). When the mask equals the
model's own output again (undo, accept), the model's own score is shown without rescoring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from c5desk.errors import DocumentError
from c5desk.lesion import lexicon
from c5desk.lesion.measure import Measurements
from c5desk.reading.document_state import (
    Origin,
    Score,
    _Measured,
    _Saved,
    _Scored,
    score_mask,
)
from c5desk.reading.document_store import StoredDocument
from c5desk.reading.edit import MaskEditor
from c5desk.reading.lesion_list import LesionList
from c5desk.reading.prompting import PROMPT_TOOLS, OutlineHistory

__all__ = ["DEFAULT_THRESHOLD", "Document", "DocumentError", "Origin", "Score", "score_mask"]

DEFAULT_THRESHOLD = 0.5  # the Predictor's mask threshold unless its prediction records another

if TYPE_CHECKING:  # the readers (pydicom...) and torch load later, off the window's start-up path
    from c5desk.inference import Prediction, Predictor
    from c5desk.inference.prompt import Prompt
    from c5desk.io.frame import Frame


class Document(StoredDocument, LesionList):
    def __init__(
        self,
        frame: Frame,
        origin: Origin | None = None,
        mask: np.ndarray | None = None,
        label: str | None = None,
        category: str | None = None,
        note: str = "",
    ) -> None:
        self.frame, self.origin = frame, origin or Origin()
        self.editor = MaskEditor(np.zeros(frame.shape, bool) if mask is None else mask)
        self.label, self.category, self.note = label, category, note
        self.descriptor_choices: dict[str, str] = {}  # terms a clinician set or confirmed
        self.prediction: Prediction | None = None
        self.frame_id: int | None = self.origin.store_frame_id
        self.recovered_from: str | None = None  # when the autosave of an earlier session was restored
        self._follows_model = mask is None  # the model's mask may replace an untouched empty start
        self._prediction_stored = False
        self._applied_threshold: float | None = None  # the last threshold applied to this prediction
        self._saved = self._snapshot()
        self._scored = _Scored(mask_version=-1)
        # an empty mask has nothing to measure; any other starts pending
        self._measured = _Measured(mask_version=-1 if self.editor.mask.any() else self.editor.version)
        self._autosaved: tuple[object, ...] | None = None
        self.outline = OutlineHistory()  # which mask states prompts made: the provenance of the outline
        self._init_lesions()

    # ---- state -----------------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        return self.editor.mask

    @property
    def dirty(self) -> bool:
        """Something typed or painted, or a lesion added or removed, is not saved yet."""
        if self.lesions_changed:
            return True
        if self.lesion_count == 1:
            return self._lesion_dirty()
        with self.each_lesion() as lesions:
            return any(self._lesion_dirty() for _ in lesions)

    def _lesion_dirty(self) -> bool:
        if self._meta() != self._saved.meta:
            return True
        if self.editor.version == self._saved.mask_version:
            return False
        return not np.array_equal(self.editor.mask, self._saved.mask)

    def _meta(self) -> tuple[str | None, str | None, str, tuple[tuple[str, str], ...]]:
        return self.label, self.category, self.note, tuple(sorted(self.descriptor_choices.items()))

    def _snapshot(self) -> _Saved:
        return _Saved(self.editor.mask.copy(), self.editor.version, self._meta())

    # ---- BI-RADS descriptors ---------------------------------------------------------------------------
    @property
    def descriptors(self) -> dict[str, dict[str, str]]:
        """Every known term of the lesion with its provenance: the clinician's, else the suggestion."""
        if not self.editor.mask.any():
            return {}
        _scored, measured = self._current()
        terms = {name: {"value": value, "source": "model"} for name, value in measured.descriptors.items()}
        chosen = self.descriptor_choices.items()
        terms.update({name: {"value": value, "source": "clinician"} for name, value in chosen})
        return terms

    def set_descriptor(self, name: str, value: str | None) -> None:
        """The clinician's term for one descriptor; None returns it to the model's suggestion."""
        if value is None:
            self.descriptor_choices.pop(name, None)
        else:
            self.descriptor_choices[name] = lexicon.check_value(name, value)

    def confirm_descriptors(self) -> None:
        """The clinician agrees with every suggested term not set by hand yet."""
        for name, entry in self.descriptors.items():
            self.descriptor_choices.setdefault(name, entry["value"])

    @property
    def score(self) -> Score:
        """The latest score and measurements (of an earlier mask version while `pending`). Reading it
        changes nothing: when the mask is the model's own again (undo, accept), the model's score shows."""
        version, own_mask = self.editor.version, self._is_model_mask()
        scored, measured = self._current(own_mask)
        pred = self.prediction
        return Score(
            p_malignant=scored.p_malignant,
            uncertainty=scored.uncertainty,
            spread=scored.spread if scored.mask_version == version else None,
            measurements=measured.measurements,
            calibrated=self.frame.calibrated,
            model_version=pred.model_version if pred is not None else None,
            device=pred.device if pred is not None else None,
            edited=pred is not None and not own_mask,
            pending=self._pending(scored, measured),
            suggested=dict(measured.descriptors),
            out_of_scope=_out_of_scope(pred),
            no_lesion_found=own_mask and _no_lesion_found(pred),
            p_lesion=_p_lesion(pred),
        )

    def _current(self, own_mask: bool | None = None) -> tuple[_Scored, _Measured]:
        """The score and measurements that belong to the mask now: the model's own for its own mask
        (`own_mask`: whether the mask is the model's, when the caller has compared them already)."""
        version, pred = self.editor.version, self.prediction
        stale = pred is not None and self._scored.mask_version != version
        if stale and (own_mask if own_mask is not None else self._is_model_mask()):
            own = _Scored(version, pred.p_malignant, pred.uncertainty, pred.score_spread)
            return own, _Measured(version, pred.measurements, dict(pred.descriptors))
        return self._scored, self._measured

    def _pending(self, scored: _Scored, measured: _Measured) -> bool:
        version = self.editor.version
        return measured.mask_version != version or (
            self.prediction is not None and scored.mask_version != version
        )

    def _is_model_mask(self) -> bool:
        return self.prediction is not None and np.array_equal(self.editor.mask, self.prediction.mask)

    # ---- the model's output ----------------------------------------------------------------------------
    def set_prediction(self, prediction: Prediction) -> bool:
        """Take the model's output; returns True when the current (edited) mask still needs a rescore."""
        if prediction.mask.shape != self.frame.shape:
            raise DocumentError(
                f"the model's mask {prediction.mask.shape} does not fit the frame {self.frame.shape}"
            )
        self.prediction, self._prediction_stored = prediction, False
        self._applied_threshold = None
        untouched = not (self.editor.can_undo or self.editor.in_stroke or self.editor.mask.any())
        if self._follows_model and untouched:
            self.editor.reset(prediction.mask)
            self._saved = self._snapshot()  # the model's proposal is not an unsaved edit
        self._scored = _Scored(mask_version=-1)  # a score from before this model's output is stale
        self._forget_parked_scores()
        return self._pending(*self._current())

    def accept_ai(self) -> str | None:
        """Take the model's mask (one undo step) and its label only when none is set: a clinician's label
        is never overwritten. Returns a note when the kept label differs from the model's verdict. With
        several lesions the outlines are the clinician's: see accept_lesion_verdicts."""
        if self.prediction is None:
            raise DocumentError("there is no model result to accept for this frame")
        if self.lesion_count > 1:
            return self.accept_lesion_verdicts()
        self.editor.apply(self.prediction.mask, "accept AI result")
        verdict = "malignant" if self.prediction.p_malignant >= 0.5 else "benign"
        if self.label is None:
            self.label = verdict
            return None
        if self.label != verdict:
            return f"Kept your label {self.label}; the model says {verdict}"
        return None

    # ---- the probability threshold: previewed, then applied -------------------------------------------
    @property
    def model_threshold(self) -> float:
        """The threshold the model's own mask was made with (the slider's starting point for a frame)."""
        extras = self.prediction.extras if self.prediction is not None else {}
        return float(extras.get("threshold", DEFAULT_THRESHOLD))  # type: ignore[arg-type]

    def threshold_preview(self, level: float) -> np.ndarray:
        """prob >= level, for showing only: the mask and its undo history stay as they are."""
        if self.prediction is None:
            raise DocumentError("no probability map yet: the model has not scored this frame")
        return self.prediction.prob >= float(level)

    def threshold_replaces_edits(self) -> bool:
        """Whether applying a threshold would replace hand work: the mask is neither the model's own
        nor the result of the last applied threshold."""
        if self.prediction is None or self._is_model_mask():
            return False
        level = self._applied_threshold
        return level is None or not np.array_equal(self.editor.mask, self.prediction.prob >= level)

    def apply_threshold(self, level: float) -> bool:
        """Mask = prob >= level, as one undo step; False when that changes nothing."""
        preview = self.threshold_preview(level)
        self._applied_threshold = float(level)
        return self.editor.apply(preview, "threshold")

    # ---- prompts: box, click, pick -------------------------------------------------------------------
    @property
    def provenance(self) -> dict[str, object]:
        """How the mask on screen was made: automatic, prompted (with its prompts) or hand-drawn."""
        model_mask = self.prediction.mask if self.prediction is not None else None
        names = self.editor.undo_names
        return self.outline.provenance(self.editor.mask, names, model_mask, self._applied_threshold)

    def prompt_for(
        self, tool: str, point: tuple[int, int] | None = None, positive: bool = True, box: tuple | None = None
    ) -> Prompt:
        """The prompt a tool use makes: a box alone; a pick = the region at one point, from nothing; a click
        = the current prompt's box and clicks plus this one, refining the mask on screen."""
        from c5desk.inference.prompt import Prompt

        if tool == "box":
            return Prompt(box=box).checked(self.frame.shape)
        if point is None or tool not in PROMPT_TOOLS:
            raise DocumentError(f"a {tool!r} prompt needs a point on the frame")
        if tool == "pick":
            return Prompt(positive=(point,)).checked(self.frame.shape)
        mask, names = self.editor.mask, self.editor.undo_names
        return self.outline.next_click(mask, names, *point, positive).checked(self.frame.shape)

    def apply_prompt(self, tool: str, prompt: Prompt, result: Prediction, version: int | None = None) -> bool:
        """Make the prompted result's mask the mask (one undo step named after the tool), scored as it came;
        False when nothing changed or (with `version`) the mask was edited since the prompt was made."""
        if version is not None and version != self.editor.version:
            return False
        before, names = self.editor.mask.copy(), self.editor.undo_names
        if not self.editor.apply(result.mask, tool):
            return False
        self.outline.record(before, names, tool, prompt, self.editor.mask)
        measured = (result.measurements, dict(result.descriptors))
        p = result.p_malignant if self.prediction is not None else None
        self.apply_rescore(self.editor.version, p, result.uncertainty if p is not None else None, *measured)
        return True

    def prompt(self, predictor: Predictor, tool: str, prompt: Prompt) -> bool:
        """Refine with `prompt` now, on this thread (headless use; the window does it on its worker)."""
        result = predictor.refine(self.frame, prompt, base=self.prediction)
        return self.apply_prompt(tool, prompt, result)

    # ---- rescoring the edited mask ---------------------------------------------------------------------
    def rescore_request(self) -> tuple[int, Frame, np.ndarray] | None:
        """(version, frame, mask copy) to score off the GUI thread; None when the score is current."""
        if not self._pending(*self._current()):
            return None
        return self.editor.version, self.frame, self.editor.mask.copy()

    def apply_rescore(
        self,
        version: int,
        p: float | None,
        uncertainty: float | None,
        measurements: Measurements | None,
        descriptors: dict[str, str] | None = None,
    ) -> bool:
        """Install a score computed for mask `version`; False (ignored) when the mask has changed since."""
        if version != self.editor.version:
            return False
        self._scored = _Scored(version, p, uncertainty)
        self._measured = _Measured(version, measurements, dict(descriptors or {}))
        return True

    def rescore(self, predictor: Predictor | None) -> Score:
        """Score the current mask now, on this thread."""
        request = self.rescore_request()
        if request is not None:
            version, frame, mask = request
            self.apply_rescore(version, *score_mask(predictor, frame, mask))
        return self.score


def _no_lesion_found(prediction: Prediction | None) -> bool:
    """c5desk.inference.presence.no_lesion_found, read here from the extras: importing the inference
    package would load pydicom with the window, which must appear first (tests/test_architecture.py)."""
    return prediction is not None and prediction.extras.get("lesion_found") is False


def _p_lesion(prediction: Prediction | None) -> float | None:
    value = prediction.extras.get("p_lesion") if prediction is not None else None
    return float(value) if isinstance(value, (int, float)) else None


def _out_of_scope(prediction: Prediction | None) -> str:
    """The Predictor's scope check of the frame (c5desk.inference.scope), as the score panel shows it."""
    extras = prediction.extras if prediction is not None else {}
    return "" if extras.get("in_scope", True) else str(extras.get("scope_reason") or "out of scope")
