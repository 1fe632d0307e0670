"""Score-folder dialog with a random test bundle over a few PNGs: table, sort, filter, open, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtCore

from c5desk.gui.app import create_application
from c5desk.gui.batch_dialog import ScoreFolderDialog
from c5desk.gui.results_table import SORT_ROLE
from c5desk.model.bundle import make_random_bundle
from c5desk.store.files import encode_png

P_COLUMN = 4
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("model") / "random", input_size=32)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "frames"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        blob = rng.integers(0, 255, (48, 56), dtype=np.uint8)
        blob[10 + i : 30 + i, 12:40] //= 4  # a dark "lesion", different in each frame
        (images / f"img_{i}.png").write_bytes(encode_png(blob))
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    return images


@pytest.fixture
def make(bundle: Path, qtbot):
    create_application()

    def build(model: Path | None = bundle) -> ScoreFolderDialog:
        dialog = ScoreFolderDialog(None, model, device="cpu", backend="torch")
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return build


def proxy_column(dialog: ScoreFolderDialog, column: int, role=QtCore.Qt.ItemDataRole.DisplayRole) -> list:
    proxy = dialog.proxy
    return [proxy.index(r, column).data(role) for r in range(proxy.rowCount())]


def run(dialog: ScoreFolderDialog, qtbot, folder: Path, out: Path) -> None:
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(out))
    dialog.start_button.click()
    assert dialog.is_running() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT_MS)


def test_scores_a_folder_then_sorts_filters_and_opens(make, qtbot, folder: Path, tmp_path: Path) -> None:
    dialog = make()
    out = tmp_path / "scores.csv"
    run(dialog, qtbot, folder, out)
    assert out.is_file() and dialog.model.rowCount() == 5
    assert dialog.status.kind == "warn" and "4 scored, 1 failed" in dialog.status.text()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.count_label.text() == "5 of 5 rows"

    dialog.table.sortByColumn(P_COLUMN, QtCore.Qt.SortOrder.DescendingOrder)
    keys = proxy_column(dialog, P_COLUMN, SORT_ROLE)
    scored = [k for k in keys if k != float("-inf")]
    assert len(scored) == 4 and scored == sorted(scored, reverse=True) and len(set(scored)) > 1
    assert keys[-1] == float("-inf")  # the failed file sorts after every score
    dialog.table.sortByColumn(P_COLUMN, QtCore.Qt.SortOrder.AscendingOrder)
    assert proxy_column(dialog, P_COLUMN, SORT_ROLE)[1:] == sorted(scored)

    dialog.label_combo.setCurrentIndex(dialog.label_combo.findData("error"))
    assert proxy_column(dialog, 0) == ["broken.png"] and dialog.count_label.text() == "1 of 5 rows"
    dialog.label_combo.setCurrentIndex(0)
    dialog.filter_edit.setText("IMG_2")
    assert proxy_column(dialog, 0) == ["img_2.png"]

    index = dialog.proxy.index(0, 1)
    rect = dialog.table.visualRect(index)
    qtbot.mouseClick(dialog.table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(dialog.open_requested, timeout=3000) as signal:
        qtbot.mouseDClick(dialog.table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
    assert signal.args == [str(folder / "img_2.png"), 0]


def test_cancel_stops_and_a_second_run_resumes(make, qtbot, folder: Path, tmp_path: Path) -> None:
    dialog = make()
    out = tmp_path / "scores.csv"
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(out))
    dialog.start_button.click()
    dialog.cancel_button.click()  # while the model is still loading
    assert not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT_MS)
    assert "Cancelled" in dialog.status.text() and dialog.model.rowCount() == 0
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    run(dialog, qtbot, folder, out)
    assert dialog.model.rowCount() == 5


def test_without_a_model_it_says_so_and_does_not_run(make, folder: Path) -> None:
    dialog = make(None)
    assert "No trained model" in dialog.status.text() and dialog.status.kind == "error"
    assert not dialog.start_button.isEnabled() and dialog.close_button.isEnabled()
    dialog.folder_edit.setText(str(folder))
    dialog.start()
    assert not dialog.is_running()


def test_bad_inputs_give_messages(make, qtbot, tmp_path: Path) -> None:
    dialog = make()
    dialog.folder_edit.setText(str(tmp_path / "missing"))
    dialog.start()
    assert not dialog.is_running() and dialog.status.kind == "error"
    (tmp_path / "frames").mkdir()
    (tmp_path / "old.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # someone else's CSV
    run(dialog, qtbot, tmp_path / "frames", tmp_path / "old.csv")
    assert dialog.status.kind == "error" and "other columns" in dialog.status.text()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_closing_stops_the_worker(make, qtbot, folder: Path, tmp_path: Path) -> None:
    dialog = make()
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(tmp_path / "scores.csv"))
    dialog.start_button.click()
    thread = dialog._thread
    dialog.reject()
    assert thread is not None and thread.cancel_event.is_set()
    qtbot.waitUntil(lambda: not thread.isRunning(), timeout=TIMEOUT_MS)


def test_a_job_outlives_its_destroyed_dialog_safely(
    bundle: Path, qtbot, folder: Path, tmp_path: Path
) -> None:
    """A window closing under a running dialog destroys it without done(): the job must end on its own."""
    import shiboken6

    from c5desk.gui import task_runner

    create_application()
    dialog = ScoreFolderDialog(None, bundle, device="cpu", backend="torch")
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(tmp_path / "scores.csv"))
    dialog.start()
    thread = dialog._thread
    shiboken6.delete(dialog)
    assert thread in task_runner._live
    qtbot.waitUntil(lambda: thread not in task_runner._live, timeout=TIMEOUT_MS)
    assert (tmp_path / "scores.csv").is_file()


def test_a_reader_that_stopped_early_is_an_error_not_a_finish(make) -> None:
    from c5desk.batch import Summary

    dialog = make()
    dialog._folder = Path(".")  # as a started run sets it
    dialog._on_done((Summary(ok=1, errors=3, aborted="not enough memory"), []))
    assert dialog.status.kind == "error"
    assert "Reading stopped early (not enough memory)" in dialog.status.text()


def test_the_table_shows_names_as_written_not_as_quoted_for_spreadsheets(tmp_path: Path) -> None:
    from c5desk.batch import Failed
    from c5desk.batch.results import ResultWriter
    from c5desk.gui.results_table import read_results

    out = tmp_path / "r.csv"
    writer = ResultWriter(out, None, None)
    writer.failure(Failed("=HYPERLINK(1).png", "", "bad"))
    writer.close()
    assert "'=HYPERLINK(1).png" in out.read_text(encoding="utf-8")
    assert [row["source"] for row in read_results(out)] == ["=HYPERLINK(1).png"]
