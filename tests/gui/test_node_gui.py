"""The app side of the DICOM node: its settings (checked by c5desk.node, kept in the prefs), `c5desk serve`
run and stopped as a separate process from the settings dialog, the Received list, and File → Send to
PACS. Peers are real pynetdicom ones (the node tests' scanner and PACS); every wait is on a condition."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_helpers import wait_for_model, wait_for_score
from node.node_helpers import WAIT_S, Pacs, store_all, us_dataset
from pydicom.data import get_testdata_file
from pydicom.uid import ComprehensiveSRStorage, SegmentationStorage
from PySide6 import QtCore

from c5desk.gui.node_process import EXITED, LISTENING, STARTING, STOPPED, NodeProcess, error_line
from c5desk.gui.node_settings import fields_from_prefs, open_node_settings
from c5desk.gui.prefs import DEFAULTS, Prefs
from c5desk.gui.received_list import local_time, row_cells, show_received
from c5desk.gui.send_dialog import SendDialog
from c5desk.node.received import ReceivedFrame
from c5desk.store import Store
from c5desk.store.importer import import_frames

WAIT_MS = int(WAIT_S * 1000)
POSIX = pytest.mark.skipif(os.name != "posix", reason="SIGTERM and pid checks are POSIX")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def python_command(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def node_window(make_window):
    """A window with the tiny model whose node process is stopped at teardown, whatever happened."""
    window = make_window()
    yield window
    assert window.node.stop_and_wait()


# ---- settings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "text", "error", "expected"),
    [
        ("ae_edit", "X" * 17, "ae_title", "longer than 16 characters"),
        ("ae_edit", "  ", "ae_title", "AE title is empty"),
        ("ae_edit", "BACK\\SLASH", "ae_title", "printable ASCII characters, no backslash"),
        ("port_edit", "70000", "port", "out of range (0-65535)"),
        ("port_edit", "11112.5", "port", "is not a whole number"),
        ("forward_edit", "PACS@host", "forward", "is not AE@HOST:PORT"),
        ("forward_edit", "PACS@host:0", "forward", "out of range (1-65535)"),
    ],
)
def test_bad_settings_are_refused_next_to_the_field_and_nothing_is_saved(
    make_window, tmp_path: Path, field: str, text: str, error: str, expected: str
) -> None:
    window = make_window(load_model=False)
    dialog = open_node_settings(window)
    getattr(dialog, field).setText(text)
    assert expected in dialog.errors[error].text()
    assert not dialog.save_button.isEnabled() and not dialog.start_button.isEnabled()
    assert dialog.save() is False and dialog.start() is False
    assert "correct the fields marked in red" in dialog.status.text()
    assert not (tmp_path / "gui.json").exists()
    assert not window.node.is_running()


def test_a_bad_allowed_title_is_refused_and_not_listed(make_window) -> None:
    dialog = open_node_settings(make_window(load_model=False))
    assert "any scanner on the network" in dialog.errors["allowed"].text()
    dialog.allowed_edit.setText("X" * 20)
    assert dialog.add_allowed() is False
    assert "Allowed calling AE title 'XXXXXXXXXXXXXXXXXXXX' is longer" in dialog.errors["allowed"].text()
    assert dialog.allowed_list.count() == 0 and dialog.allowed_edit.text() == "X" * 20


def test_settings_round_trip_through_the_prefs(make_window, tmp_path: Path) -> None:
    window = make_window(load_model=False)
    dialog = open_node_settings(window)
    dialog.ae_edit.setText(" READER1 ")
    dialog.port_edit.setText("104")
    for title in ("SCANNER", "SCANNER2", "SCANNER"):
        dialog.allowed_edit.setText(title)
        assert dialog.add_allowed()
    dialog.forward_edit.setText("PACS@10.0.0.5:11112")
    assert "patient" not in dialog.identity_warning.text()
    dialog.identity_check.setChecked(True)
    assert "carry the patient's name, ID and birth date" in dialog.identity_warning.text()
    assert dialog.save() and "Settings saved" in dialog.status.text()
    saved = Prefs(tmp_path / "gui.json")
    values = [saved[f"node_{key}"] for key in ("ae_title", "port", "allowed", "forward", "keep_identity")]
    assert values == ["READER1", 104, ["SCANNER", "SCANNER2"], "PACS@10.0.0.5:11112", True]
    assert DEFAULTS["node_allowed"] == []  # the shared default was not changed in place
    again = open_node_settings(make_window(load_model=False, prefs=saved))
    assert again.fields() == fields_from_prefs(saved) and again.allowed_list.count() == 2


def test_prefs_drop_node_values_of_the_wrong_kind(tmp_path: Path) -> None:
    path = tmp_path / "gui.json"
    path.write_text('{"node_allowed": ["A", 3, null], "node_port": "104", "node_keep_identity": 1}')
    prefs = Prefs(path)
    assert prefs["node_allowed"] == ["A"]
    assert prefs["node_port"] == 11112 and prefs["node_keep_identity"] is False


# ---- the process ---------------------------------------------------------------------------------------
def test_a_node_that_exits_shows_its_error_line(qtbot) -> None:
    node = NodeProcess()
    line = "c5desk serve: error: cannot listen on port 104 (Permission denied)"
    code = f"import sys; print('loading'); print({line!r}, file=sys.stderr); sys.exit(1)"
    assert node.start(python_command(code))
    qtbot.waitUntil(lambda: not node.is_running(), timeout=WAIT_MS)
    assert node.state == EXITED and node.status_text() == f"Exited: {line}"
    assert error_line(["a", "b"]) == "b" and error_line([]) == ""


def test_a_program_that_cannot_start_is_said_so(qtbot, tmp_path: Path) -> None:
    node = NodeProcess()
    node.start([str(tmp_path / "no-such-c5desk")])
    qtbot.waitUntil(lambda: not node.is_running(), timeout=WAIT_MS)
    assert node.state == EXITED and "cannot start" in node.status_text()


@POSIX
def test_a_node_that_ignores_sigterm_is_killed(qtbot) -> None:
    node = NodeProcess(stop_wait_ms=200)
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('listening as X on port 5; model m on cpu', flush=True); time.sleep(600)"
    )
    assert node.start(python_command(code))
    qtbot.waitUntil(lambda: node.state != STARTING, timeout=WAIT_MS)
    assert node.state == LISTENING and node.port == 5
    pid = node.pid
    node.stop()
    qtbot.waitUntil(lambda: not node.is_running(), timeout=WAIT_MS)
    assert node.state == STOPPED and "killed" in node.status_text() and gone(pid)


@POSIX
def test_closing_the_window_stops_its_node(qtbot, make_window) -> None:
    window = make_window(load_model=False)
    code = "import time; print('listening as X on port 5; model m on cpu', flush=True); time.sleep(600)"
    assert window.node.start(python_command(code))
    qtbot.waitUntil(lambda: window.node.state == LISTENING, timeout=WAIT_MS)
    pid = window.node.pid
    assert window.close()
    assert gone(pid)


@POSIX
@pytest.mark.slow
def test_the_node_runs_in_its_own_process_and_the_app_reads_what_it_receives(
    qtbot, node_window, tmp_path: Path
) -> None:
    window = node_window
    wait_for_model(qtbot, window)  # the node gets the window's model: the tiny test bundle
    window.prefs["node_bind"] = "127.0.0.1"
    dialog = open_node_settings(window)
    dialog.port_edit.setText("0")  # any free port: the status line says which
    dialog.allowed_edit.setText("SCANNER")
    assert dialog.add_allowed() and dialog.start()
    qtbot.waitUntil(lambda: window.node.state != STARTING, timeout=WAIT_MS)
    assert window.node.state == LISTENING, list(window.node.lines)
    port, pid = window.node.port, window.node.pid
    assert f"Listening as C5DESK on port {port}" in dialog.status.text()
    assert pid and pid != os.getpid() and not dialog.start_button.isEnabled()

    (answer,) = store_all(port, [us_dataset("US1_UNCR.dcm")])
    assert int(answer.Status) == 0
    received = window.received_list
    show_received(window)
    qtbot.waitUntil(lambda: received.refresh() and len(received.frame_ids()) == 1, timeout=WAIT_MS)
    assert [received.table.item(0, c).text() for c in (1, 2, 3)] == ["SCANNER", "case-0001", "1"]

    table = received.table
    cell = table.visualRect(table.model().index(0, 2)).center()
    for click in (qtbot.mouseClick, qtbot.mouseDClick):  # as the window system sends a double-click
        click(table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=cell)
    (frame_id,) = received.frame_ids()
    assert window.document is not None and window.document.frame_id == frame_id
    wait_for_score(qtbot, window)
    assert window.reading.accept_ai()  # the app saves while the node process writes to the same dataset
    qtbot.waitUntil(lambda: received.refresh() and "annotated" in table.item(0, 5).text(), timeout=WAIT_MS)
    assert table.item(0, 4).text() != "—"

    window.node.stop_wait_ms = WAIT_MS  # a loaded machine may be slow to stop: this test wants SIGTERM's exit
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not window.node.is_running(), timeout=WAIT_MS)
    assert window.node.state == STOPPED and dialog.status.text() == "Node: Stopped", list(window.node.lines)
    assert gone(pid) and dialog.start_button.isEnabled()


# ---- the Received list ---------------------------------------------------------------------------------
def test_received_list_is_empty_for_a_dataset_without_dicom_frames(make_window, tmp_path: Path) -> None:
    window = make_window(load_model=False)
    with Store.open(tmp_path / "dataset", create=True) as store:
        import_frames(store, [get_testdata_file("US1_UNCR.dcm")])  # imported, not received
    window.actions["received"].trigger()
    assert window.received_dock.isVisible() and window.received_list.frame_ids() == []
    assert "0 frame(s) received" in window.received_list.status.text()
    window.received_list.open_selected()
    assert "Select a received frame" in window.received_list.status.text()
    assert local_time("not a time") == "not a time"


# ---- Send to PACS --------------------------------------------------------------------------------------
@pytest.fixture
def annotated_case(tmp_path: Path) -> str:
    """The window's dataset (before the window opens it) with one annotated frame; its case."""
    with Store.open(tmp_path / "dataset", create=True) as store:
        import_frames(store, [get_testdata_file("US1_UNCR.dcm")])
        (record,) = store.frames()
        mask = np.zeros((record.height, record.width), bool)
        mask[200:260, 300:380] = True
        store.save_annotation(record.id, mask, "malignant")
        return record.case


@pytest.fixture
def pacs():
    peer = Pacs()
    yield peer
    peer.stop()


def send_and_wait(qtbot, dialog: SendDialog) -> str:
    assert dialog.send()
    qtbot.waitUntil(lambda: not dialog.sending, timeout=WAIT_MS)
    return dialog.status.text()


def test_send_to_pacs_sends_the_checked_cases_seg_and_sr(qtbot, make_window, annotated_case, pacs) -> None:
    window = make_window(load_model=False)
    window.prefs["node_forward"] = f"PACS@127.0.0.1:{pacs.port}"
    window.actions["send_pacs"].trigger()
    dialog = window.findChild(SendDialog)
    assert dialog.destination_edit.text() == f"PACS@127.0.0.1:{pacs.port}"
    assert not dialog.identity_check.isChecked() and dialog.checked_cases() == []
    assert dialog.send() is False and "check at least one case" in dialog.status.text()
    assert dialog.check_case(annotated_case)
    text = send_and_wait(qtbot, dialog)
    assert text == f"To PACS@127.0.0.1:{pacs.port}: 3 sent, 0 failed.", text
    classes = {str(ds.SOPClassUID) for ds in pacs.wait_for(3)}
    assert {SegmentationStorage, ComprehensiveSRStorage} <= classes
    assert dialog.report is not None and dialog.report.ok


def test_send_to_a_closed_port_says_so_and_the_window_keeps_working(
    qtbot, make_window, annotated_case
) -> None:
    window = make_window(load_model=False)
    closed = Pacs()
    port = closed.port
    closed.stop()
    window.actions["send_pacs"].trigger()
    dialog = window.findChild(SendDialog)
    assert dialog.check_case(annotated_case)
    assert dialog.send() is False and "enter the destination" in dialog.status.text()
    dialog.destination_edit.setText("PACS@127.0.0.1:0")
    assert dialog.send() is False and "out of range" in dialog.status.text()
    dialog.identity_check.setChecked(True)
    dialog.destination_edit.setText(f"PACS@127.0.0.1:{port}")
    assert dialog.send() is False and "needs the original DICOM files" in dialog.status.text()
    dialog.identity_check.setChecked(False)
    text = send_and_wait(qtbot, dialog)
    assert f"Not sent: PACS@127.0.0.1:{port} did not answer (check that the destination runs" in text
    assert dialog.send_button.isEnabled() and dialog.report is None
    frame_id = window.ensure_store().frames()[0].id
    assert window.open_store_frame(frame_id) and window.document.frame_id == frame_id


def test_received_rows_say_scored_unscored_and_no_lesion_found() -> None:
    def row(p_malignant, label, version):
        item = ReceivedFrame(1, "case-0001", 0, "SCANNER", "not a time", p_malignant, label, version)
        return row_cells(item, None)[4:]

    assert row(0.734, "malignant", "v2") == ["0.73 (malignant)", "scored by v2"]
    assert row(None, "normal", "v2") == ["no lesion found", "scored by v2"]
    assert row(None, None, None) == ["—", "waiting for the model"]
