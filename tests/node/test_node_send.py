"""Send to PACS (File → Send to PACS…, `c5desk send`) and the node's settings: what is sent, what is
refused and said so, and the one-line errors for bad AE titles, ports and destinations."""

from __future__ import annotations

import numpy as np
import pytest
from node_helpers import Pacs
from pydicom.data import get_testdata_file
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage, SegmentationStorage

from c5desk.cli import main
from c5desk.node import Destination, NodeConfig, NodeError, parse_destination, send_results, sendable_frames
from c5desk.node.config import check_ae_title, listening_line, parse_listening
from c5desk.store.importer import import_frames

SOURCE = "US1_UNCR.dcm"


@pytest.fixture
def pacs():
    peer = Pacs()
    yield peer
    peer.stop()


@pytest.fixture
def annotated(store):
    """Two frames from one file and another: the first annotated, the others with nothing to report."""
    import_frames(store, [get_testdata_file(SOURCE), get_testdata_file("OBXXXX1A.dcm")])
    first, second = (record.id for record in store.frames())
    record = store.frame_record(first)
    mask = np.zeros((record.height, record.width), bool)
    mask[200:260, 300:380] = True
    store.save_annotation(first, mask, "malignant", "BI-RADS 4b")
    return store, first, second


def test_send_results_sends_seg_sr_and_the_capture(annotated, pacs) -> None:
    store, first, second = annotated
    assert sendable_frames(store) == [first]
    report = send_results(store, [first, second], Destination("PACS", "127.0.0.1", pacs.port))
    classes = sorted(str(ds.SOPClassUID) for ds in pacs.wait_for(3))
    assert classes == sorted([SecondaryCaptureImageStorage, SegmentationStorage, ComprehensiveSRStorage])
    assert len(report.sent) == 3
    (failure,) = report.failures
    assert "neither an annotation nor a model result" in failure.why and failure.permanent


def test_send_results_can_reference_the_original_files(annotated, pacs) -> None:
    import pydicom

    store, first, _ = annotated
    original = pydicom.dcmread(get_testdata_file(SOURCE))
    report = send_results(
        store, [first], Destination("PACS", "127.0.0.1", pacs.port), dicom_sources=[get_testdata_file(SOURCE)]
    )
    assert report.ok
    for ds in pacs.wait_for(2):
        assert ds.StudyInstanceUID == original.StudyInstanceUID


def test_send_to_a_peer_that_is_down_is_one_clear_error(annotated) -> None:
    store, first, _ = annotated
    pacs = Pacs()
    port = pacs.port
    pacs.stop()
    with pytest.raises(NodeError, match=f"PACS@127.0.0.1:{port} did not answer"):
        send_results(store, [first], Destination("PACS", "127.0.0.1", port))


def test_send_command(annotated, pacs, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, _ = annotated
    code = main(["send", str(store.folder), "--to", f"PACS@127.0.0.1:{pacs.port}", "--all"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 sent, 0 failed" in out
    assert len(pacs.wait_for(3)) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PACS", "not AE@HOST:PORT"),
        ("PACS@host", "not AE@HOST:PORT"),
        ("PACS@host:0", "out of range"),
        ("PACS@host:http", "not a whole number"),
        ("A_TITLE_FAR_TOO_LONG@host:104", "longer than 16"),
    ],
)
def test_bad_destinations_say_why(text: str, message: str) -> None:
    with pytest.raises(NodeError, match=message):
        parse_destination(text)


def test_destinations_and_settings_round_trip() -> None:
    assert str(parse_destination("PACS@10.0.0.5:104")) == "PACS@10.0.0.5:104"
    assert parse_destination("PACS@[::1]:11112") == Destination("PACS", "::1", 11112)
    config = NodeConfig(
        ae_title=" NODE ", port=104, allowed=("A", "B", "A"), forward=parse_destination("P@h:1")
    )
    assert config.ae_title == "NODE" and config.allowed == ("A", "B")
    args = config.argv("/data/store")
    assert args[:2] == ["serve", "/data/store"] and args.count("--allow") == 2 and "P@h:1" in args
    assert parse_listening(listening_line("NODE", 4242, "m-1", "cpu")) == 4242
    assert parse_listening("warning: something else") is None


@pytest.mark.parametrize("title", ["", "   ", "X" * 17, "BACK\\SLASH", "TAB\tHERE", "ÜMLAUT"])
def test_bad_ae_titles_are_refused(title: str) -> None:
    with pytest.raises(NodeError):
        check_ae_title(title)
