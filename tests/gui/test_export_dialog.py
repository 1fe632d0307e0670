"""Export dialog over a tiny real store (one annotated frame): each format, errors, cancel, options."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import c5desk.gui.export_dialog as export_dialog
from c5desk.gui.app import create_application
from c5desk.gui.export_dialog import ExportDialog
from c5desk.io import open_source
from c5desk.settings import RESOURCES
from c5desk.store import Store

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


@pytest.fixture
def store(tmp_path: Path):
    store = Store.create(tmp_path / "store")
    with open_source(SAMPLE) as source:
        frame = source.frame(0)
    frame_id = store.add_frame(frame, source_path=SAMPLE)
    mask = np.zeros(frame.grey.shape, dtype=bool)
    mask[40:90, 60:140] = True
    store.save_annotation(frame_id, mask, "benign")
    yield store
    store.close()


@pytest.fixture
def dialog(store: Store, qtbot) -> ExportDialog:
    create_application()
    dlg = ExportDialog(None, store)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def export(dialog: ExportDialog, qtbot, fmt: str, out: Path) -> None:
    dialog.set_format(fmt)
    dialog.dest_edit.setText(str(out))
    dialog.export_button.click()
    assert dialog.is_running() and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60000)


def assert_idle(dialog: ExportDialog) -> None:
    assert dialog.export_button.isEnabled() and dialog.close_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()


def test_lists_every_store_format_and_counts_frames(dialog) -> None:
    formats = [dialog.format_combo.itemData(i) for i in range(dialog.format_combo.count())]
    assert formats == list(export_dialog.FORMATS)
    assert "1 annotated frame" in dialog.status.text()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("masks", "masks"), ("coco", "annotations.json"), ("csv", None), ("labelled-folder", "labels.csv")],
)
def test_each_ml_format_exports_the_frame(dialog, qtbot, tmp_path: Path, fmt: str, expected) -> None:
    out = tmp_path / "out"
    export(dialog, qtbot, fmt, out)
    assert dialog.status.kind == "ok", dialog.status.text()
    assert "Exported 1 of 1 frame" in dialog.status.text()
    assert dialog.summary is not None and dialog.summary.exported == 1
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written
    if expected:
        assert any(name.startswith(expected) for name in written), written
    assert_idle(dialog)


def test_csv_content_names_the_label(dialog, qtbot, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(dialog, qtbot, "csv", out)
    (table,) = list(out.glob("*.csv"))
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["label"] == "benign"


def test_an_occupied_destination_is_an_error_and_the_dialog_keeps_working(dialog, qtbot, tmp_path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine", encoding="utf-8")
    export(dialog, qtbot, "masks", busy)
    assert dialog.status.kind == "error" and "not an empty folder" in dialog.status.text()
    assert (busy / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert_idle(dialog)
    export(dialog, qtbot, "masks", tmp_path / "fresh")
    assert dialog.status.kind == "ok" and (tmp_path / "fresh" / "masks").is_dir()


def test_missing_destination_is_a_message(dialog) -> None:
    dialog.dest_edit.setText("  ")
    dialog.start()
    assert not dialog.is_running() and dialog.status.kind == "error"


def test_dicom_options_only_for_dicom_seg(dialog, qtbot, tmp_path: Path) -> None:
    dialog.set_format("csv")
    assert not dialog.sources_edit.isEnabled() and not dialog.identity_check.isEnabled()
    dialog.set_format("dicom-seg")
    assert dialog.sources_edit.isEnabled() and dialog.identity_check.isEnabled()
    dialog.identity_check.setChecked(True)  # keeping identity needs the original files
    export(dialog, qtbot, "dicom-seg", tmp_path / "seg")
    assert dialog.status.kind == "error" and "--dicom-sources" in dialog.status.text()
    assert not (tmp_path / "seg").exists()
    assert_idle(dialog)


def test_cancel_publishes_nothing(dialog, qtbot, tmp_path: Path, monkeypatch) -> None:
    real = export_dialog.run_export

    def waits_for_cancel(*args, **kwargs):  # hold the worker until the user has pressed Cancel
        deadline = time.monotonic() + 30
        while not kwargs["cancel"]() and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(*args, **kwargs)

    monkeypatch.setattr(export_dialog, "run_export", waits_for_cancel)
    dialog.set_format("masks")
    dialog.dest_edit.setText(str(tmp_path / "out"))
    dialog.export_button.click()
    dialog.cancel_button.click()
    assert not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=30000)
    assert "cancelled" in dialog.status.text() and dialog.status.kind == "warn"
    assert not (tmp_path / "out").exists()
    assert_idle(dialog)


def test_export_is_recorded_in_the_audit_log(dialog, qtbot, store: Store, tmp_path: Path) -> None:
    export(dialog, qtbot, "coco", tmp_path / "coco")
    entries = store.audit_log(action="export")
    assert entries and entries[-1].after["format"] == "coco"
    data = json.loads(next((tmp_path / "coco").glob("*.json")).read_text(encoding="utf-8"))
    assert len(data["images"]) == 1
