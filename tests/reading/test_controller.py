"""ReadingController without a display: the decisions the window used to take, driven by a recording view."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.inference import make_predictor
from c5desk.model.bundle import make_random_bundle
from c5desk.reading.controller import CANCEL, DISCARD, SAVE, ImmediateModel, ReadingController
from c5desk.reading.session import Session
from c5desk.store import Store


class RecordingView:
    """A ReadingView that answers the unsaved-edits question with `answer` and remembers what it was told."""

    def __init__(self) -> None:
        self.answer = CANCEL
        self.asked: list[str] = []
        self.errors: list[tuple[str, str]] = []
        self.statuses: list[str] = []
        self.shown = 0
        self.redrawn = 0
        self.waiting: list[int] = []

    def ask_unsaved(self, description: str) -> str:
        self.asked.append(description)
        return self.answer

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def show_status(self, message: str, timeout_ms: int = 0) -> None:
        self.statuses.append(message)

    def show_document(self, fit: bool) -> None:
        self.shown += 1

    def sync_navigation(self) -> None:
        pass

    def refresh(self, mask_changed: bool = False) -> None:
        self.redrawn += mask_changed

    def autosaves_waiting(self, count: int) -> None:
        self.waiting.append(count)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    bundle = make_random_bundle(tmp_path_factory.mktemp("bundle") / "tiny", input_size=64)
    return make_predictor(bundle, device="cpu", backend="torch")


@pytest.fixture
def frames(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(3):
        image = np.full((48, 64), 40 + 50 * i, np.uint8)
        image[5 + i, 5] = 255
        paths.append(tmp_path / "frames" / f"f{i}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        cv2.imwrite(str(paths[-1]), image)
    return paths


@pytest.fixture
def reading(tmp_path: Path, predictor):
    view = RecordingView()
    controller = ReadingController(Session(), view, ImmediateModel(predictor), tmp_path / "dataset")
    yield controller, view
    controller.session.shutdown()


def paint(controller: ReadingController) -> None:
    controller.document.editor.lasso([(5, 5), (30, 5), (30, 25)])
    controller.edited()


def test_opening_shows_the_frame_measures_and_runs_the_model(reading, frames) -> None:
    controller, view = reading
    assert controller.open_path(frames[0])
    doc = controller.document
    assert view.shown >= 1 and doc.prediction is not None and not doc.score.pending
    assert controller.session.store is not None  # opened on the way, for annotations and autosaves
    assert not controller.open_path(frames[0].parent / "missing.png")
    assert view.errors[-1][0] == "Cannot open" and controller.document is doc


def test_unsaved_edits_are_never_dropped_without_asking(reading, frames) -> None:
    controller, view = reading
    controller.open_path(frames[0])
    paint(controller)
    painted = controller.document
    view.answer = CANCEL
    assert not controller.open_path(frames[1]) and controller.document is painted
    view.answer = SAVE  # no label yet: saving refuses, and so does the move
    assert not controller.open_path(frames[1])
    assert "choose a label" in view.errors[-1][1] and controller.document is painted
    assert controller.autosave() and not controller.autosave()  # once per change
    view.answer = DISCARD
    assert controller.open_path(frames[1])
    assert view.asked == [painted.origin.describe()] * 3
    assert controller.session.store.journal_entries() == []  # discarding drops the autosave too


def test_save_and_accept_write_the_dataset(reading, frames, tmp_path: Path) -> None:
    controller, view = reading
    controller.open_path(frames[0])
    paint(controller)
    controller.document.label = "malignant"
    assert controller.save() and not controller.document.dirty
    assert view.statuses[-1].startswith("Saved f0.png frame 1 as revision 1 (malignant)")
    controller.open_path(frames[1])
    assert controller.accept_ai() and view.redrawn == 1  # the accepted mask is drawn, not only scored
    accepted = controller.document
    with Store.open(tmp_path / "dataset") as store:
        saved = store.annotation(accepted.frame_id)
        assert saved.label == accepted.label and np.array_equal(store.mask(accepted.frame_id), accepted.mask)


def test_accept_keeps_the_clinicians_label_and_says_so(reading, frames, tmp_path: Path) -> None:
    controller, view = reading
    controller.open_path(frames[0])
    doc = controller.document
    verdict = "malignant" if doc.prediction.p_malignant >= 0.5 else "benign"
    mine = "benign" if verdict == "malignant" else "malignant"
    doc.label = mine
    assert controller.accept_ai() and doc.label == mine
    assert view.statuses[-1] == f"Kept your label {mine}; the model says {verdict} (saved)"
    with Store.open(tmp_path / "dataset") as store:
        assert store.annotation(doc.frame_id).label == mine


def test_recovering_an_autosave_after_a_crash(reading, frames, tmp_path: Path, predictor) -> None:
    controller, _ = reading
    controller.open_path(frames[2])
    paint(controller)
    controller.autosave()
    painted = controller.document.mask.copy()
    controller.session.shutdown()  # the app dies; the next start opens the same dataset
    view = RecordingView()
    again = ReadingController(Session(), view, ImmediateModel(predictor), tmp_path / "dataset")
    assert again.ensure_store() is not None and view.waiting[-1] == 1
    assert again.recover_autosave()
    assert again.document.dirty and np.array_equal(again.document.mask, painted)
    assert any(s.startswith("Recovered unsaved edits") for s in view.statuses)
    again.session.shutdown()


def test_next_most_useful_ranks_by_the_model_in_use(reading, frames) -> None:
    controller, _ = reading
    ids = []
    for path in frames:
        controller.open_path(path)
        ids.append(controller.document.ensure_in_store(controller.session.store))
    store = controller.session.store
    version = controller.model.version
    store.add_prediction(ids[0], version, 0.5, 0.9, np.zeros((48, 64), bool))
    store.add_prediction(ids[0], "an-older-model", 0.5, 0.1, np.zeros((48, 64), bool))  # newer row
    store.add_prediction(ids[1], version, 0.5, 0.5, np.zeros((48, 64), bool))
    assert controller.next_most_useful() and controller.document.frame_id == ids[0]


def test_a_dataset_that_cannot_open_is_reported(reading, frames, tmp_path: Path) -> None:
    controller, view = reading
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    controller.store_folder = blocker
    assert controller.open_path(frames[0])  # reading works without a dataset ...
    assert view.statuses and "Dataset not available" in " ".join(view.statuses)
    controller.document.label = "benign"
    assert not controller.save()  # ... saving says why, loudly
    assert view.errors[-1][0] == "Cannot open the dataset"


def write_clip(path: Path, count: int) -> Path:
    """A multi-page TIFF: a clip of `count` distinct frames."""
    from PIL import Image

    pages = [Image.fromarray(np.full((48, 64), 20 + 15 * i, np.uint8)) for i in range(count)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def save_shown(controller: ReadingController) -> None:
    controller.document.label = "benign"
    assert controller.save()


def test_next_most_useful_finishes_the_open_clip_then_the_folder(reading, tmp_path: Path) -> None:
    controller, view = reading
    folder = tmp_path / "study"
    write_clip(folder / "a_clip.tif", 3)
    write_clip(folder / "b_single.tif", 1)
    assert controller.open_path(folder) and controller.session.frame_count == 3
    save_shown(controller)  # clip frame 1 annotated
    assert controller.next_most_useful() and controller.session.frame.index == 1  # the clip's next frame
    save_shown(controller)
    controller.session.go_to(0)
    assert controller.next_most_useful() and controller.session.frame.index == 2  # skips annotated frame 2
    save_shown(controller)
    assert controller.next_most_useful()  # the clip is done: the folder's next file
    assert controller.session.path == folder / "b_single.tif"
    save_shown(controller)
    assert not controller.next_most_useful()
    assert view.statuses[-1] == (
        "Every frame of this folder is annotated; the dataset has no more suggestions"
    )


def test_nothing_left_names_what_was_searched() -> None:
    from c5desk.reading.controller import nothing_left_message

    assert nothing_left_message("this folder and clip") == (
        "Every frame of this folder and clip is annotated; the dataset has no more suggestions"
    )
    assert nothing_left_message("this file").startswith("This file is annotated;")
    assert "every frame in it is annotated" in nothing_left_message(None)


def test_a_recovered_store_frame_is_named_by_its_case(reading, frames, tmp_path: Path) -> None:
    controller, view = reading
    controller.open_path(frames[1])
    paint(controller)
    controller.autosave()
    frame_id = controller.document.frame_id
    controller.document.editor.undo()  # nothing unsaved on screen: the edits live in the journal only
    view.answer = DISCARD
    assert controller.recover_autosave()
    case = controller.session.store.frame_record(frame_id).case
    assert controller.document.origin.describe() == f"{case}, frame {frame_id}"
    assert any(s.startswith(f"Recovered unsaved edits of {case}, frame {frame_id},") for s in view.statuses)
    assert not any(" of 1" in s for s in view.statuses)


def test_clip_scores_keep_one_model_and_find_the_most_suspicious() -> None:
    from c5desk.reading.clip_scores import ClipScores

    scores = ClipScores()
    assert scores.most_suspicious("clip") is None and scores.last("clip") is None
    for index, p in ((0, 0.2), (5, 0.9), (3, 0.9), (1, 0.4)):
        scores.record("clip", index, p, "v1")
    assert scores.most_suspicious("clip") == (3, 0.9)  # the earliest on a tie
    assert scores.last("clip") == (1, 0.4) and scores.missing("clip", 6) == [2, 4]
    assert scores.of("other") == {} and scores.get("clip", 5) == 0.9
    scores.record("clip", 2, 0.1, "v2")  # another model: earlier scores are not comparable
    assert scores.of("clip") == {2: 0.1}
