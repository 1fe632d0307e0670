"""What a COCO import keeps of an image's and an annotation's extra fields, each checked on its own.

A value that does not pass the store's checks is left out with a note (the image is still imported):
a lesion without a category is better than no lesion. Our coco export writes all of these.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from c5desk.lesion import lexicon
from c5desk.store.records import (
    StoreError,
    check_category,
    check_descriptors,
    check_note,
    check_provenance,
    check_token,
)

T = TypeVar("T")


def lesion_fields(
    attributes: dict[str, Any], notes: list[str]
) -> tuple[str | None, str, dict[str, dict[str, str]], dict[str, Any]]:
    """(category, note, descriptors, provenance) of an annotation's attributes."""
    category = _kept(attributes.get("category"), lambda v: check_category(v), None, "category", notes)
    note = _kept(attributes.get("note"), _note, "", "note", notes)
    provenance = _kept(attributes.get("provenance"), check_provenance, {}, "provenance", notes)
    return category, note, _descriptors(attributes, notes), provenance


def frame_fields(
    entry: dict[str, Any], notes: list[str]
) -> tuple[tuple[float, float] | None, str | None, str | None, str | None]:
    """(mm per pixel, split, group, case or patient) of an image entry."""
    scale = _kept(entry.get("mm_per_px"), _scale, None, "mm_per_px", notes)
    split = _kept(entry.get("split"), lambda v: check_token(v, "split"), None, "split", notes)
    group = _kept(entry.get("group"), lambda v: check_token(v, "group"), None, "group", notes)
    case = entry.get("patient") or entry.get("case")
    return scale, split, group, str(case) if isinstance(case, str | int) and case != "" else None


def _kept(value: object, check: Callable[[Any], T], default: T, what: str, notes: list[str]) -> T:
    if value is None:
        return default
    try:
        return check(value)
    except StoreError as exc:
        notes.append(f"{what} left out: {exc}")
        return default


def _note(value: object) -> str:
    if not isinstance(value, str):
        raise StoreError("a note is text")
    return check_note(value)


def _scale(value: object) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2):
        raise StoreError("mm_per_px must be [x, y]")
    if not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in value):
        raise StoreError("mm_per_px must be two positive numbers")
    return float(value[0]), float(value[1])


def _descriptors(attributes: dict[str, Any], notes: list[str]) -> dict[str, dict[str, str]]:
    """The BI-RADS terms by descriptor name; a term without a source is the model's suggestion."""
    sources = attributes.get("descriptor_sources")
    sources = sources if isinstance(sources, dict) else {}
    kept: dict[str, dict[str, str]] = {}
    for name in lexicon.DESCRIPTORS:
        if attributes.get(name) is None:
            continue
        entry = {"value": attributes[name], "source": sources.get(name, "model")}
        try:
            kept.update(check_descriptors({name: entry}))
        except StoreError as exc:
            notes.append(f"descriptor {name} left out: {exc}")
    return kept
