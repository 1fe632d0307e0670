"""The node as a scanner sees it (issue 16): C-ECHO; C-STORE of ultrasound, single and multi-frame, in
several transfer syntaxes, imported de-identified and scored; unknown callers rejected at association;
non-image and corrupt objects refused with a DIMSE status, the node serving on; a peer dropping the
connection mid-transfer leaves nothing behind."""

from __future__ import annotations

import copy
import threading

import pydicom
from node_helpers import (
    NODE_AE,
    WAIT_S,
    associate,
    drop_mid_transfer,
    echo,
    files_under,
    running_node,
    store_all,
    us_dataset,
)
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    BasicTextSRStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

from c5desk.inference.presence import with_presence
from c5desk.node import received_frames
from c5desk.node.config import node_folder

# Explicit VR (single frame), JPEG 2000, RLE multi-frame (Ultrasound Multi-frame Image Storage), implicit
# VR; and a deflated copy (_deflated)
SENT = ("US1_UNCR.dcm", "US1_J2KR.dcm", "OBXXXX1A_rle_2frame.dcm", "gdcm-US-ALOKA-16.dcm")
IDENTITY = (b"CompressedSamples", b"NAME^PATIENT", b"BAPTIST")


def _deflated(folder) -> Dataset:
    """US1_UNCR as another instance, in Deflated Explicit VR Little Endian."""
    ds = us_dataset("US1_UNCR.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(folder / "deflated.dcm", enforce_file_format=True)
    return pydicom.dcmread(folder / "deflated.dcm")


def test_ultrasound_is_stored_deidentified_and_scored(store, predictor, tmp_path) -> None:
    datasets = [us_dataset(name) for name in SENT] + [_deflated(tmp_path)]
    with running_node(store, predictor) as node:
        assert echo(node.port) == 0x0000
        statuses = store_all(node.port, datasets)
        assert [int(status.Status) for status in statuses] == [0, 0, 0, 0, 0]
        assert node.wait_idle(WAIT_S)
    frames = store.frames()
    assert len(frames) == 6  # one + one + two + one + one
    assert {record.frame_index for record in frames} == {0, 1}
    for record in frames:
        assert record.meta["received"]["calling_ae"] == "SCANNER"
        assert record.meta["pixels_cleaned"] is True
        assert store.prediction(record.id, predictor.version) is not None
    listed = received_frames(store)
    assert len(listed) == 6 and all(item.p_malignant is not None for item in listed)
    assert files_under(node_folder(store.folder) / "inbox") == []  # received files go once done with
    for path in files_under(store.folder):
        data = path.read_bytes()
        assert not any(value in data for value in IDENTITY), path.name


class _FindsNoLesion:
    """The node's predictor answering "no lesion found", as model v2 does on a lesion-free frame."""

    def __init__(self, predictor) -> None:
        self._predictor = predictor

    def __getattr__(self, name: str):
        return getattr(self._predictor, name)

    def predict(self, frame, **kwargs):
        return with_presence(self._predictor.predict(frame, **kwargs), present=0.0)


def test_a_frame_with_no_lesion_found_is_kept_as_such_without_a_malignancy_score(store, predictor) -> None:
    with running_node(store, _FindsNoLesion(predictor)) as node:
        assert [int(status.Status) for status in store_all(node.port, [us_dataset("US1_UNCR.dcm")])] == [0]
        assert node.wait_idle(WAIT_S)
    (record,) = store.frames()
    assert store.prediction(record.id, predictor.version).label == "normal"
    (item,) = received_frames(store)
    assert item.p_malignant is None and item.label == "normal" and item.model_version == predictor.version


def test_an_object_sent_twice_is_stored_once(store, predictor) -> None:
    ds = us_dataset("US1_UNCR.dcm")
    with running_node(store, predictor) as node:
        assert [int(s.Status) for s in store_all(node.port, [ds, copy.deepcopy(ds)])] == [0, 0]
        assert node.wait_idle(WAIT_S)
    assert len(store.frames()) == 1
    assert len(store.predictions(store.frames()[0].id)) == 1


def test_unknown_calling_or_called_ae_is_rejected_at_association(store, predictor) -> None:
    with running_node(store, predictor) as node:
        stranger = associate(node.port, calling="INTRUDER")
        assert stranger.is_rejected
        misdialled = associate(node.port, called="OTHERNODE")
        assert misdialled.is_rejected
        assert echo(node.port) == 0x0000


def _not_an_image() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = BasicTextSRStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.Modality = "Doe^Jane", "SR"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _image_without_pixels() -> Dataset:
    ds = us_dataset("US1_UNCR.dcm")
    del ds.PixelData
    return ds


def _truncated_pixels() -> Dataset:
    ds = us_dataset("US1_UNCR.dcm")
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    return ds


def _garbled_jpeg2000() -> Dataset:
    ds = us_dataset("US1_J2KR.dcm")
    ds.PixelData = ds.PixelData[:200] + b"\x00" * (len(ds.PixelData) - 200)
    return ds


def test_bad_objects_are_refused_with_a_status_and_the_node_serves_on(store, predictor) -> None:
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    bad = [_not_an_image(), _image_without_pixels(), ct, _truncated_pixels(), _garbled_jpeg2000()]
    with running_node(store, predictor) as node:
        statuses = [store_all(node.port, [ds])[0] for ds in bad]  # one association each
        assert echo(node.port) == 0x0000
        assert int(store_all(node.port, [us_dataset("US1_UNCR.dcm")])[0].Status) == 0  # still storing
        assert node.wait_idle(WAIT_S)
    codes = [int(status.Status) for status in statuses]
    assert codes[:3] == [0xA900, 0xA900, 0xA900]
    assert all(0xC000 <= code <= 0xCFFF for code in codes[3:]), [hex(c) for c in codes]
    assert "not an image" in str(statuses[0].ErrorComment)
    assert "ultrasound" in str(statuses[2].ErrorComment)
    assert all(status.get("ErrorComment") for status in statuses)
    assert len(store.frames()) == 1  # the good one alone
    assert files_under(node_folder(store.folder) / "inbox") == []


def test_a_peer_dropping_mid_transfer_leaves_nothing_and_the_node_serves_on(store, predictor) -> None:
    ds = us_dataset("US1_UNCR.dcm")  # ~900 kB: about 60 PDUs, of which 3 are sent
    with running_node(store, predictor) as node:
        drop_mid_transfer(node.port, ds)
        assert echo(node.port) == 0x0000
        assert int(store_all(node.port, [ds])[0].Status) == 0
        assert node.wait_idle(WAIT_S)
    assert len(store.frames()) == 1  # the whole second sending, nothing of the first
    assert files_under(node_folder(store.folder) / "inbox") == []


def test_a_file_left_in_the_inbox_is_taken_up_at_start(store, predictor) -> None:
    inbox = node_folder(store.folder) / "inbox"
    inbox.mkdir(parents=True)
    name = f"r{0:020d}-000000-{b'SCANNER'.hex()}.dcm"
    pydicom.dcmread(get_testdata_file("US1_UNCR.dcm")).save_as(inbox / name, enforce_file_format=True)
    (inbox / ".tmp-1-2-partial.dcm").write_bytes(b"half an object")  # a crashed write
    with running_node(store, predictor) as node:
        assert node.wait_idle(WAIT_S)
    (record,) = store.frames()
    assert record.meta["received"]["calling_ae"] == "SCANNER"
    assert store.prediction(record.id) is not None
    assert [path.name for path in files_under(inbox)] == [".tmp-1-2-partial.dcm"]  # young: a live write?


def test_a_full_disk_or_an_unforeseen_error_is_a_status_not_a_crash(store, predictor, monkeypatch) -> None:
    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    def broken(*_args):
        raise RuntimeError("a bug")

    ds = us_dataset("US1_UNCR.dcm")
    with running_node(store, predictor) as node:
        monkeypatch.setattr(node.inbox, "write", disk_full)
        full = store_all(node.port, [ds])[0]
        monkeypatch.undo()
        monkeypatch.setattr("c5desk.node.server.check_received", broken)
        failed = store_all(node.port, [ds])[0]
        monkeypatch.undo()
        assert echo(node.port) == 0x0000
        assert int(store_all(node.port, [ds])[0].Status) == 0
        assert node.wait_idle(WAIT_S)
    assert (int(full.Status), str(full.ErrorComment)) == (0xA700, "cannot be kept (No space left on device)")
    assert int(failed.Status) == 0x0110
    assert len(store.frames()) == 1
    assert files_under(node_folder(store.folder) / "inbox") == []


def test_several_scanners_at_once(store, predictor) -> None:
    names = ("US1_UNCR.dcm", "OBXXXX1A_rle_2frame.dcm", "gdcm-US-ALOKA-16.dcm")
    answers: dict[str, int] = {}

    with running_node(store, predictor) as node:

        def send(name: str) -> None:
            answers[name] = int(store_all(node.port, [us_dataset(name)])[0].Status)

        threads = [threading.Thread(target=send, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S)
        assert node.wait_idle(WAIT_S)
    assert answers == dict.fromkeys(names, 0)
    assert len(store.frames()) == 4


def test_one_node_per_dataset_a_second_is_refused_until_the_first_stops(store, predictor) -> None:
    import pytest

    from c5desk.node import Node
    from c5desk.node.config import NodeConfig, NodeError

    second = Node(store, NodeConfig(ae_title=NODE_AE, port=0, bind="127.0.0.1"), predictor)
    with running_node(store, predictor) as first:
        with pytest.raises(NodeError, match="one node per dataset"):
            second.start()
        assert echo(first.port) == 0x0000  # the running node is untouched
    second.start()  # the first has stopped: its claim is gone
    try:
        assert echo(second.port) == 0x0000
    finally:
        second.stop()
