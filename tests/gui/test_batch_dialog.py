"""Score-folder dialog with a random test bundle over a few PNGs: table, sort, filter, open, cancel, the
model kept between runs, and closing that never drops a run or a table unasked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtCore, QtWidgets

from c5desk.gui import batch_parts
from c5desk.gui.app import create_application
from c5desk.gui.batch_dialog import ScoreFolderDialog
from c5desk.gui.results_table import SORT_ROLE
from c5desk.model.bundle import make_random_bundle
from c5desk.store.files import encode_png

TIMEOUT_MS = 120_000
B = QtWidgets.QMessageBox.StandardButton
LEFT = QtCore.Qt.MouseButton.LeftButton


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
def make(bundle: Path, qtbot, messages):
    """Dialogs whose questions `messages` answers (never a blocking box), closed unasked at the end."""
    create_application()

    def build(model: Path | None = bundle, parent=None, **engine) -> ScoreFolderDialog:
        engine = engine or {"device": "cpu", "backend": "torch"}
        dialog = ScoreFolderDialog(parent, model, **engine)
        qtbot.addWidget(dialog, before_close_func=lambda d: d.done(0))
        dialog.show()
        return dialog

    return build


@pytest.fixture
def loads(monkeypatch) -> list[tuple]:
    """Every model load the dialog asks for (each one still loads)."""
    seen: list[tuple] = []
    real = batch_parts.load

    def counted(*args):
        seen.append(args)
        return real(*args)

    monkeypatch.setattr(batch_parts, "load", counted)
    return seen


def headers(dialog: ScoreFolderDialog) -> list[str]:
    horizontal = QtCore.Qt.Orientation.Horizontal
    display = QtCore.Qt.ItemDataRole.DisplayRole
    return [dialog.model.headerData(c, horizontal, display) for c in range(dialog.model.columnCount())]


def proxy_column(dialog: ScoreFolderDialog, column: int, role=QtCore.Qt.ItemDataRole.DisplayRole) -> list:
    proxy = dialog.proxy
    return [proxy.index(r, column).data(role) for r in range(proxy.rowCount())]


def run(dialog: ScoreFolderDialog, qtbot, folder: Path, out: Path) -> None:
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(out))
    qtbot.mouseClick(dialog.start_button, LEFT)
    assert dialog.is_running() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT_MS)


def test_scores_a_folder_then_sorts_filters_and_opens(make, qtbot, folder: Path, tmp_path: Path) -> None:
    dialog = make()
    out = tmp_path / "scores.csv"
    run(dialog, qtbot, folder, out)
    assert out.is_file() and dialog.model.rowCount() == 5
    assert dialog.status.kind == "warn" and "4 scored, 1 failed" in dialog.status.text()
    assert dialog.status.text().startswith("Done with errors") and str(out) in dialog.status.text()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.count_label.text() == "5 of 5 rows"
    names = headers(dialog)
    assert names.index("Error") == names.index("Status") + 1  # the reason beside the status, not far right
    P_COLUMN = names.index("P(malignant)")

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
    qtbot.mouseClick(dialog.start_button, LEFT)
    qtbot.mouseClick(dialog.cancel_button, LEFT)  # while the model is still loading
    assert not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT_MS)
    assert dialog.status.text().startswith("Cancelled") and dialog.status.kind == "warn"
    assert dialog.model.rowCount() == 0
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    run(dialog, qtbot, folder, out)
    assert dialog.model.rowCount() == 5
    assert dialog.status.text().startswith("Done")  # a run nobody cancelled is never "Cancelled"


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


def test_closing_asks_then_stops_the_worker(make, qtbot, messages, folder: Path, tmp_path: Path) -> None:
    dialog = make()
    dialog.folder_edit.setText(str(folder))
    dialog.output_edit.setText(str(tmp_path / "scores.csv"))
    qtbot.mouseClick(dialog.start_button, LEFT)
    thread = dialog._thread
    messages.answer = B.No
    qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)  # a stray Esc does not stop the run
    assert "still running" in messages.of("question")[-1]
    assert dialog.isVisible() and thread is not None and not thread.cancel_event.is_set()
    messages.answer = B.Yes
    qtbot.mouseClick(dialog.close_button, LEFT)
    assert not dialog.isVisible() and thread.cancel_event.is_set()
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


def test_a_normal_finish_says_done_and_the_model_stays_loaded(
    make, qtbot, messages, loads: list, folder: Path, tmp_path: Path
) -> None:
    (folder / "broken.png").unlink()
    dialog = make()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    run(dialog, qtbot, folder, first)
    assert dialog.status.kind == "ok"
    assert dialog.status.text().startswith("Done: 4 scored, 0 failed, 0 skipped") and str(first) in (
        dialog.status.text()
    )
    run(dialog, qtbot, folder, first)  # resumed: nothing left to score
    assert dialog.status.text().startswith("Done: 0 scored, 0 failed, 4 skipped")
    run(dialog, qtbot, folder, second)
    assert dialog.status.text().startswith("Done: 4 scored") and dialog.model.rowCount() == 4
    assert len(loads) == 1  # loaded by the first run only

    messages.answer = B.Cancel
    qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
    assert str(second) in messages.of("question")[-1]  # saved already: it says where, nothing to save
    assert dialog.isVisible() and dialog.model.rowCount() == 4
    messages.answer = B.Close
    qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_run_uses_the_windows_loaded_model(
    make, qtbot, loads: list, bundle: Path, folder: Path, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from c5desk.inference import make_predictor

    window = QtWidgets.QWidget()
    qtbot.addWidget(window)
    loaded = make_predictor(bundle, device="cpu", backend="torch")
    window.link = SimpleNamespace(predictor=loaded, bundle=bundle, loading=False)  # as ModelLink has it
    dialog = make(parent=window, device="auto", backend="auto")
    run(dialog, qtbot, folder, tmp_path / "scores.csv")
    assert dialog.status.text().startswith("Done with errors: 4 scored, 1 failed")
    assert loads == []


def test_esc_with_unsaved_results_asks_and_keeps_the_table(
    make, qtbot, messages, monkeypatch, tmp_path: Path
) -> None:
    from c5desk.batch import COLUMNS
    from c5desk.gui.results_table import read_results

    dialog = make()
    rows = [
        {"source": "/x/a.png", "frame": "0", "status": "ok", "p_malignant": "0.2500", "area_px": "120"},
        {"source": "/x/=b.png", "frame": "", "status": "error", "error": "not an image"},
    ]
    dialog.model.set_rows(rows)  # as if the run's CSV had gone since
    messages.answer = B.Cancel
    qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
    assert "not saved" in messages.of("question")[-1]
    assert dialog.isVisible() and dialog.model.rowCount() == 2

    saved = tmp_path / "saved.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    messages.answer = B.Save
    qtbot.mouseClick(dialog.close_button, LEFT)
    assert not dialog.isVisible()
    assert saved.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)  # the batch CSV's format
    assert [(r["source"], r["error"], r["area_px"]) for r in read_results(saved)] == [
        ("/x/a.png", "", "120"),
        ("/x/=b.png", "not an image", ""),
    ]


def test_measurement_headers_and_cells_name_their_units() -> None:
    from c5desk.gui.results_table import ResultsModel, headers

    pixels = {"status": "ok", "area_px": "120", "long_axis_px": "15.50", "short_axis_px": "9.00"}
    calibrated = {"status": "ok", "area_mm2": "7.30", "area_px": "290", "long_axis_mm": "4.10"}
    measured = [h for h in headers([pixels]) if h.startswith(("Area", "Long"))]
    assert measured == ["Long axis (px)", "Area (px²)"]
    assert "Area (mm²)" in headers([calibrated]) and "Area (mm² / px²)" in headers([pixels, calibrated])
    assert "Area" in headers([])  # nothing measured: no unit to name
    model = ResultsModel()
    model.set_rows([pixels, calibrated])
    area = headers([]).index("Area")
    assert [model.index(r, area).data() for r in range(2)] == ["120.0 px²", "7.3 mm²"]


def test_a_new_dialog_on_the_same_window_keeps_the_loaded_model(
    make, qtbot, loads: list, folder: Path, tmp_path: Path
) -> None:
    window = QtWidgets.QWidget()  # no loaded model of its own: the dialog's kept one serves
    qtbot.addWidget(window)
    for name in ("first.csv", "second.csv"):
        dialog = make(parent=window)
        run(dialog, qtbot, folder, tmp_path / name)
        assert dialog.model.rowCount() == 5
        dialog.done(0)
    assert len(loads) == 1


def test_a_kept_model_is_lent_to_one_run_at_a_time() -> None:
    cache, made = batch_parts.PredictorCache(), []

    def load_now() -> object:
        made.append(object())
        return made[-1]

    key = ("b", "cpu", "torch")
    with cache.borrow(key, load_now) as first, cache.borrow(key, load_now) as second:  # two dialogs at once
        assert second is not first
    with cache.borrow(key, load_now) as again:
        assert again is first and len(made) == 2
    with cache.borrow(("other", "cpu", "torch"), load_now) as other:
        assert other is not first and len(made) == 3
