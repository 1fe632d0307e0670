"""Seeding a store from a COCO folder: annotations.json with its images (our coco export, or another tool's).

Each image becomes a frame; its annotations are its lesions (store.save_lesions), ordered by the
"lesion" attribute our export writes when every annotation has a distinct one, else by area, largest
first (the main lesion is the largest). A lesion's label is its category's name, which must be benign,
malignant or unsure (any other category is refused, naming the annotation). Attributes are kept when
valid and left out, with a note, when not: "category" (BI-RADS / TI-RADS), "note", "provenance", the
BI-RADS descriptors by name with "descriptor_sources" (a term without a source counts as the model's
suggestion, to be confirmed). The image's "split", "group", "mm_per_px" and "case"/"patient" (hashed
into a case key, never stored as written) are taken the same way.

An image without annotations is an unlabelled frame, unless our export marked it "label": "normal" (a
frame with no lesion). Each image is checked and decoded whole first (file inside the folder and
readable, sizes matching, every annotation usable) and then saved in a savepoint: a bad image or
annotation is reported and nothing of that image is written; the other images are imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.errors import C5Error, ReadError
from c5desk.io import Frame, open_source
from c5desk.io.ids import case_key
from c5desk.store.coco_attributes import frame_fields, lesion_fields
from c5desk.store.coco_masks import decode_segmentation
from c5desk.store.identity import case_key_for
from c5desk.store.importer import BATCH, Cancel, Failure, ImportReport, Progress
from c5desk.store.labelled import inside
from c5desk.store.records import OUTLINED_LABELS, Annotation, LesionDraft, StoreError
from c5desk.store.store import Store

COCO_FILE = "annotations.json"
MAX_JSON_BYTES = 256 * 1024 * 1024  # as c5desk.io.limits caps a file read whole; parsing needs more


class ItemRefused(StoreError):
    """An image not to import, with one reason per bad part: (where, why)."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(why for _, why in reasons))
        self.reasons = reasons


@dataclass
class CocoImage:
    """One image entry of annotations.json with its annotations, as found."""

    entry: dict[str, Any]
    annotations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{COCO_FILE} image {self.entry.get('id')!r} ({self.entry.get('file_name') or 'no file name'})"


@dataclass(frozen=True)
class PreparedImage:
    frame: Frame
    drafts: list[LesionDraft]
    label: str | None  # "normal" for a marked image without lesions; None: unlabelled
    split: str | None
    group: str | None
    case_key: str
    notes: list[str]


def is_coco_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / COCO_FILE).is_file()


def import_coco_folder(
    store: Store,
    folder: str | Path,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    keep_identity: bool = False,
) -> ImportReport:
    """Import every good image of folder/annotations.json; StoreError only when the file as a whole is
    unusable. progress(done, total) after each batch; cancel() is asked between batches."""
    folder = Path(folder)
    report = ImportReport()
    images = _images(_read_document(folder), report)
    seen: dict[str, tuple[str, tuple]] = {}  # source id -> (where, content) of images imported now
    for start in range(0, len(images), BATCH):
        if cancel is not None and cancel():
            report.cancelled = True
            break
        with store.transaction():
            for image in images[start : start + BATCH]:
                _import_image(store, folder, image, seen, report, keep_identity)
        if progress is not None:
            progress(min(start + BATCH, len(images)), len(images))
    store.log_action("import", after={"kind": "coco", "images": len(images), **report.summary()})
    return report


def _read_document(folder: Path) -> dict[str, Any]:
    path = folder / COCO_FILE
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise StoreError(f"{COCO_FILE} is larger than {MAX_JSON_BYTES // 2**20} MiB; not read")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StoreError(f"{folder.name}: no {COCO_FILE} in this folder") from exc
    except OSError as exc:
        raise StoreError(f"{COCO_FILE} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise StoreError(f"{COCO_FILE} is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise StoreError(f"{COCO_FILE} is not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise StoreError(f"{COCO_FILE} is nested too deeply to be COCO") from exc
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise StoreError(f"{COCO_FILE} is not a COCO file: it has no list of images")
    for key in ("annotations", "categories"):
        if not isinstance(document.get(key, []), list):
            raise StoreError(f"{COCO_FILE}: {key} is not a list")
    return document


def _images(document: dict[str, Any], report: ImportReport) -> list[CocoImage]:
    """The image entries with their annotations (each carrying its lesion label); what cannot belong to
    an image is reported here."""
    names = _category_names(document.get("categories", []))
    images: dict[object, CocoImage] = {}
    twice: set[object] = set()
    for index, entry in enumerate(document["images"]):
        key = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(key, int | str) or isinstance(key, bool):
            report.failures.append(Failure(f"{COCO_FILE} image #{index + 1}", "has no id; not imported"))
        elif key in images:
            twice.add(key)
        else:
            images[key] = CocoImage(entry)
    for key in twice:
        report.failures.append(
            Failure(images.pop(key).where, "its id is given to two images; neither imported")
        )
    for index, annotation in enumerate(document.get("annotations", [])):
        where = f"{COCO_FILE} annotation #{index + 1}"
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if not isinstance(annotation, dict):
            report.failures.append(Failure(where, "is not an object"))
        elif isinstance(image_id, int | str) and image_id in images:
            category = annotation.get("category_id")
            annotation = {**annotation, "_label": names.get(category) if isinstance(category, int) else None}
            images[image_id].annotations.append(annotation)
        elif image_id not in twice:
            report.failures.append(
                Failure(where, f"names image {image_id!r}, which {COCO_FILE} does not list")
            )
    return list(images.values())


def _category_names(categories: list[Any]) -> dict[int, str]:
    return {
        category["id"]: str(category.get("name", "")).strip().lower()
        for category in categories
        if isinstance(category, dict) and isinstance(category.get("id"), int)
    }


def _import_image(
    store: Store,
    folder: Path,
    image: CocoImage,
    seen: dict[str, tuple[str, tuple]],
    report: ImportReport,
    keep_identity: bool,
) -> None:
    try:
        prepared = _prepare(folder, image)
        if _repeats(prepared, image.where, seen, report):
            return
        with store.transaction():  # a savepoint: the frame and its lesions together or not at all
            known = store.frame_id_for(prepared.frame.source_id)
            frame_id = store.add_frame(
                prepared.frame, case_key=prepared.case_key, split=prepared.split, group=prepared.group,
                keep_identity=keep_identity,
            )  # fmt: skip
            before = store.annotation(frame_id)
            saved = _save(store, frame_id, prepared)
    except ItemRefused as exc:
        report.failures.extend(Failure(where, why) for where, why in exc.reasons)
        return
    except C5Error as exc:
        report.failures.append(Failure(image.where, str(exc)))
        return
    except OSError as exc:
        report.failures.append(Failure(image.where, f"cannot be written ({exc.strerror or exc})"))
        return
    seen[prepared.frame.source_id] = (image.where, _content(prepared))
    report.notes.extend(Failure(image.where, note) for note in prepared.notes)
    report.frames_added += known is None
    if saved is None or (before is not None and saved.id == before.id):
        report.unchanged += known is not None
    else:
        report.annotations_saved += 1


def _save(store: Store, frame_id: int, prepared: PreparedImage) -> Annotation | None:
    if prepared.drafts:
        return store.save_lesions(frame_id, prepared.drafts, action="import_annotation")
    if prepared.label == "normal":
        empty = np.zeros(prepared.frame.shape, bool)
        return store.save_annotation(frame_id, empty, "normal", action="import_annotation")
    return None  # an unlabelled frame


def _prepare(folder: Path, image: CocoImage) -> PreparedImage:
    """The image read and every annotation decoded and checked (ItemRefused lists what is wrong)."""
    entry, notes = image.entry, []
    frame = _frame(folder, entry)
    height, width = frame.shape
    drafts, refused = [], []
    for index, annotation in enumerate(image.annotations):
        where = f"{COCO_FILE} annotation {annotation.get('id')!r} (image {entry.get('id')!r})"
        try:
            drafts.append(_lesion(annotation, index, (height, width), notes))
        except StoreError as exc:
            refused.append((where, f"{exc}; image not imported"))
    if refused:
        raise ItemRefused(refused)
    label = entry.get("label")
    if label == "normal" and drafts:
        raise StoreError(f"is labelled normal (no lesion) but has {len(drafts)} annotation(s)")
    scale, split, group, case = frame_fields(entry, notes)
    if scale is not None:
        frame = replace(frame, mm_per_px=scale)
    if case:  # the same key a labelled folder's patient column gives
        key = case_key(f"labelled-patient:{case}")
    else:
        key = case_key_for(inside(folder, entry["file_name"], "image"))
    ordered = [draft for _, draft in sorted(drafts, key=lambda pair: pair[0])]
    return PreparedImage(frame, ordered, "normal" if label == "normal" else None, split, group, key, notes)


def _frame(folder: Path, entry: dict[str, Any]) -> Frame:
    name = entry.get("file_name")
    if not isinstance(name, str):
        raise StoreError("has no file_name")
    try:
        with open_source(inside(folder, name, "image")) as source:
            frame = source.frame(0)
    except ReadError as exc:
        raise StoreError(f"image {exc}") from exc
    height, width = frame.shape
    given = entry.get("width", width), entry.get("height", height)
    if given != (width, height):
        raise StoreError(f"{COCO_FILE} says {given[0]}x{given[1]} but the image file is {width}x{height}")
    return frame


def _lesion(
    annotation: dict[str, Any], index: int, shape: tuple[int, int], notes: list[str]
) -> tuple[tuple[int, float, int], LesionDraft]:
    """(order key, draft) of one annotation: by its "lesion" number when it has one, else largest first."""
    label = annotation["_label"]
    if label not in OUTLINED_LABELS:
        category = annotation.get("category_id")
        raise StoreError(
            f"category {label or category!r} is not a lesion label (benign, malignant or unsure)"
        )
    mask = decode_segmentation(annotation.get("segmentation"), *shape)
    if not mask.any():
        raise StoreError("its segmentation is empty")
    attributes = annotation.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    category, note, descriptors, provenance = lesion_fields(attributes, notes)
    number = attributes.get("lesion")
    numbered = isinstance(number, int) and not isinstance(number, bool)
    order = (0 if numbered else 1, number if numbered else -float(mask.sum()), index)
    return order, LesionDraft(mask, label, category, note, descriptors, provenance)


def _repeats(
    prepared: PreparedImage, where: str, seen: dict[str, tuple[str, tuple]], report: ImportReport
) -> bool:
    """The same picture as an image imported earlier: reported, never a new revision."""
    if prepared.frame.source_id not in seen:
        return False
    first, content = seen[prepared.frame.source_id]
    if content == _content(prepared):
        report.duplicates.append(Failure(where, f"the same image and lesions as {first}: imported once"))
    else:
        report.failures.append(Failure(where, f"the same image as {first} with other lesions: {first} kept"))
    return True


def _content(prepared: PreparedImage) -> tuple:
    lesions = tuple(
        (draft.label, draft.category, draft.note, np.packbits(draft.mask).tobytes())
        for draft in prepared.drafts
    )
    return prepared.label, prepared.split, prepared.group, prepared.case_key, lesions
