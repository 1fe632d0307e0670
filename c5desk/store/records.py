"""What the store hands out: plain, immutable records (no database handles, no Qt), and input validation.

Labels: "benign" and "malignant" are lesion labels (used for training), "normal" means no lesion (the
mask must be empty), "unsure" keeps the outline but takes no side. Categories are BI-RADS or TI-RADS
assessments, normalised to "BI-RADS 4a" / "TI-RADS 3". TI-RADS 4a/4b/4c (Kwak TI-RADS and K-TIRADS, common
in thyroid datasets) are accepted; a TI-RADS letter on another level is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from c5desk.errors import C5Error, StoreError
from c5desk.io.frame import Region
from c5desk.lesion import lexicon

LABELS = ("benign", "malignant", "normal", "unsure")
LESION_LABELS = ("benign", "malignant")
OUTLINED_LABELS = ("benign", "malignant", "unsure")  # what one of several lesions of a frame may be called
OUTLINE_METHODS = ("automatic", "prompted", "hand-drawn")  # how an annotation's outline was made
MAX_NOTE_CHARS = 4000
_CATEGORY = re.compile(r"^(?:(bi-?rads|ti-?rads|tr)\s*)?([0-6])([abc])?$", re.IGNORECASE)
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class FrameRecord:
    """A stored frame: where it came from (salted id only), its geometry, calibration and grouping."""

    id: int
    case_id: int
    case: str  # display name of the case, e.g. "case-0003"
    source_id: str
    frame_index: int
    height: int
    width: int
    mm_per_px: tuple[float, float] | None
    region: Region | None
    meta: dict[str, Any]
    split: str | None
    group: str | None
    image_file: str
    grey_file: str

    @property
    def stem(self) -> str:
        """A file-name stem unique in the store and free of identity: "case-0003_f000012"."""
        return f"{self.case}_f{self.id:06d}"


@dataclass(frozen=True)
class Annotation:
    """One revision of the clinician-final annotation of a frame (the mask is loaded by Store.mask)."""

    id: int
    frame_id: int
    revision: int
    label: str
    category: str | None
    note: str
    mask_file: str
    measurements: dict[str, Any] | None
    model_version: str | None  # the model whose output the clinician corrected, if any
    seg_change: float | None  # 1 - Dice(that model's mask, this mask); None without a model output
    label_flip: bool | None  # this lesion label differs from the model's label
    user: str
    created_utc: str
    # BI-RADS descriptors {name: {"value": term, "source": "model" | "clinician"}} (c5desk.lesion.lexicon)
    descriptors: dict[str, dict[str, str]] = field(default_factory=dict)
    # How the outline was made (check_provenance): {"method": "automatic" | "prompted" | "hand-drawn", ...}
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lesion:
    """One lesion of an annotation revision (position 1 is the main lesion; the mask is loaded by
    Store.lesion_mask)."""

    position: int
    label: str  # benign, malignant or unsure
    category: str | None
    note: str
    mask_file: str
    measurements: dict[str, Any] | None
    descriptors: dict[str, dict[str, str]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LesionDraft:
    """A lesion to save or autosave: its own mask and what the clinician said about it."""

    mask: np.ndarray
    label: str
    category: str | None = None
    note: str = ""
    descriptors: Mapping[str, Any] | None = None
    provenance: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PredictionRecord:
    """A model's output for a frame, stored apart from the clinician's annotation."""

    id: int
    frame_id: int
    model_version: str
    p_malignant: float
    uncertainty: float
    label: str
    mask_file: str
    created_utc: str
    descriptors: dict[str, str] = field(default_factory=dict)  # the model's BI-RADS suggestions

    @property
    def malignancy(self) -> float | None:
        """P(malignant) to report, or None where the model found no lesion (label "normal"): a lesion-free
        frame has no malignancy score (p_malignant is still kept, as the network gave it)."""
        return None if self.label == "normal" else self.p_malignant


@dataclass(frozen=True)
class ModelVersion:
    """A model version the store's rows refer to, with its parent (which version is active is the model
    catalogue's to say, not a dataset's)."""

    id: str
    parent: str | None
    metrics: dict[str, Any]
    created_utc: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time_utc: str
    user: str
    action: str
    frame_id: int | None
    model_version: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class JournalEntry:
    """Unsaved edits of one frame, autosaved; offered for recovery when the store is opened again."""

    frame_id: int
    mask: np.ndarray
    label: str
    category: str | None
    note: str
    base_revision: int  # the saved revision the edits started from (0: none)
    saved_utc: str
    descriptors: dict[str, dict[str, str]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    more_lesions: tuple[LesionDraft, ...] = ()  # lesions 2..n of a frame with several, each with its mask


@dataclass(frozen=True)
class TrainingExample:
    """A labelled frame for training: the model's grey input, the final mask and the label."""

    frame_id: int
    case_id: int
    image: np.ndarray  # (H, W) uint8 grey, what the model sees
    mask: np.ndarray  # (H, W) bool
    label: str
    split: str | None
    group: str | None
    mm_per_px: tuple[float, float] | None
    revision: int


@dataclass(frozen=True)
class Suggestion:
    """A frame proposed for annotation, with why (see c5desk.store.active)."""

    frame_id: int
    score: float
    uncertainty: float | None
    case_disagreement: float
    reasons: list[str] = field(default_factory=list)


def check_label(label: object) -> str:
    text = str(label).strip().lower() if label is not None else ""
    if text not in LABELS:
        raise StoreError(f"unknown label {label!r} (expected one of: {', '.join(LABELS)})")
    return text


def check_category(category: object, system: str | None = None) -> str | None:
    """'4a', 'BI-RADS 4A', 'birads4a' -> 'BI-RADS 4a'; 'TR3' -> 'TI-RADS 3', 'TR4b' -> 'TI-RADS 4b'.

    A bare number takes `system` ("BI-RADS" or "TI-RADS"), else it is stored as the number alone.
    """
    if category is None or (isinstance(category, float) and np.isnan(category)):
        return None
    text = str(category).strip()
    if not text:
        return None
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # "4.0" from a spreadsheet
    match = _CATEGORY.match(text.replace("_", "-"))
    if match is None:
        raise StoreError(f"category {category!r} is not a BI-RADS or TI-RADS assessment (e.g. 'BI-RADS 4a')")
    prefix, number, letter = match.groups()
    named = system if prefix is None else ("BI-RADS" if prefix.lower().startswith("bi") else "TI-RADS")
    value = number + (letter.lower() if letter else "")
    if letter and named == "TI-RADS" and number != "4":
        raise StoreError(f"category {category!r}: only TI-RADS 4 has sub-levels (4a, 4b, 4c)")
    return f"{named} {value}" if named else value


def check_note(note: object) -> str:
    text = "" if note is None else str(note)
    if len(text) > MAX_NOTE_CHARS:
        raise StoreError(f"note is {len(text)} characters long (at most {MAX_NOTE_CHARS})")
    return text


def check_suggestions(values: object) -> dict[str, str]:
    """A model's BI-RADS suggestions {name: term}, every term from the lexicon; StoreError otherwise."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise StoreError(f"descriptors must be a mapping of descriptor to term, not {type(values).__name__}")
    try:
        return {str(name): lexicon.check_value(str(name), term) for name, term in values.items()}
    except C5Error as error:
        raise StoreError(str(error)) from None


def check_descriptors(values: object) -> dict[str, dict[str, str]]:
    """A lesion's descriptors with provenance {name: {"value", "source"}} (plain terms count as "model")."""
    if values is not None and not isinstance(values, Mapping):
        raise StoreError(f"descriptors must be a mapping of descriptor to term, not {type(values).__name__}")
    try:
        return lexicon.check_descriptors(values)
    except C5Error as error:
        raise StoreError(str(error)) from None


def check_provenance(values: object) -> dict[str, Any]:
    """How an outline was made: {} (unknown) or {"method": one of OUTLINE_METHODS, "prompts": [...]}, each
    prompt being c5desk.inference.prompt.Prompt.to_json() with the tool that made it ("box", "click"...)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise StoreError(f"provenance must be a mapping, not {type(values).__name__}")
    data = dict(values)
    if data and data.get("method") not in OUTLINE_METHODS:
        allowed = ", ".join(OUTLINE_METHODS)
        raise StoreError(f"provenance method must be one of {allowed}, not {data.get('method')!r}")
    prompts = data.get("prompts", [])
    if not isinstance(prompts, list) or not all(isinstance(p, Mapping) for p in prompts):
        raise StoreError("provenance prompts must be a list of prompts")
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise StoreError(f"provenance is not plain JSON ({error})") from None
    return data


def check_token(value: object, what: str) -> str | None:
    """Split and group names: short tokens (letters, digits, . _ -), or None when empty."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if not _TOKEN.match(text):
        raise StoreError(f"{what} {text!r} must be 1-32 letters, digits, '.', '_' or '-'")
    return text


def check_mask(mask: object, shape: tuple[int, int], what: str = "mask") -> np.ndarray:
    """A (H, W) boolean copy of a 0/1, 0/255 or boolean mask of exactly `shape`."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise StoreError(f"{what} must be a 2-D array, got shape {array.shape}")
    if tuple(array.shape) != tuple(shape):
        raise StoreError(
            f"{what} is {array.shape[1]}x{array.shape[0]} (width x height)"
            f" but the frame is {shape[1]}x{shape[0]}"
        )
    if array.dtype == bool:
        return array.copy()
    if not np.issubdtype(array.dtype, np.integer):
        raise StoreError(f"{what} must be boolean or integer, got {array.dtype}")
    values = np.unique(array)
    if not set(values.tolist()) <= {0, 1, 255}:
        raise StoreError(f"{what} must hold only 0/1 or 0/255 values")
    return array > 0


def check_probability(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StoreError(f"{what} must be a number, got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise StoreError(f"{what} must lie in [0, 1], got {number}")
    return number
