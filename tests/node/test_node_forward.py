"""Forwarding (issue 16): each received frame's results reach the PACS as a DICOM SEG and an SR that
highdicom reads, de-identified or referencing the received study; a PACS that is down gets them later
(on a retry, or from the next run), and one that refuses them does not block the rest."""

from __future__ import annotations

import highdicom as hd
import pytest
from node_helpers import WAIT_S, Pacs, running_node, store_all, us_dataset
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage, SegmentationStorage

from c5desk.node import Destination
from c5desk.node.config import node_folder


@pytest.fixture
def pacs():
    peer = Pacs()
    yield peer
    peer.stop()


def _by_class(datasets) -> dict[str, list]:
    found: dict[str, list] = {}
    for ds in datasets:
        found.setdefault(str(ds.SOPClassUID), []).append(ds)
    return found


def test_results_are_forwarded_deidentified_as_seg_and_sr(store, lesion_model, pacs) -> None:
    source = us_dataset("US1_UNCR.dcm")
    destination = Destination("PACS", "127.0.0.1", pacs.port)
    with running_node(store, lesion_model, forward=destination) as node:
        assert int(store_all(node.port, [source])[0].Status) == 0
        assert node.wait_idle(WAIT_S)
        received = _by_class(pacs.wait_for(3))
        assert node.forwarder.flush()  # waits for the send in hand; the outbox is then empty
    (capture,) = received[SecondaryCaptureImageStorage]
    (seg,) = received[SegmentationStorage]
    (sr,) = received[ComprehensiveSRStorage]
    segmentation = hd.seg.Segmentation.from_dataset(seg)
    assert segmentation.get_source_image_uids()[0][2] == capture.SOPInstanceUID
    report = hd.sr.ComprehensiveSR.from_dataset(sr)
    assert report.SOPInstanceUID == sr.SOPInstanceUID
    for ds in (capture, seg, sr):
        assert ds.PatientName != source.PatientName
        assert ds.StudyInstanceUID != source.StudyInstanceUID
        assert ds.StudyInstanceUID == capture.StudyInstanceUID
    assert list((node_folder(store.folder) / "outbox").iterdir()) == []


def test_with_keep_identity_results_reference_the_received_image(store, lesion_model, pacs) -> None:
    source = us_dataset("US1_UNCR.dcm")
    destination = Destination("PACS", "127.0.0.1", pacs.port)
    with running_node(store, lesion_model, forward=destination, keep_identity=True) as node:
        assert int(store_all(node.port, [source])[0].Status) == 0
        received = _by_class(pacs.wait_for(2))
    assert SecondaryCaptureImageStorage not in received
    (seg,) = received[SegmentationStorage]
    (sr,) = received[ComprehensiveSRStorage]
    assert hd.seg.Segmentation.from_dataset(seg).get_source_image_uids()[0][2] == source.SOPInstanceUID
    for ds in (seg, sr):
        assert ds.StudyInstanceUID == source.StudyInstanceUID
        assert ds.PatientName == source.PatientName


def test_a_pacs_that_is_down_gets_the_results_on_retry(store, lesion_model) -> None:
    pacs = Pacs()
    port = pacs.port
    pacs.stop()  # its port is known; nobody listens on it now
    with running_node(store, lesion_model, forward=Destination("PACS", "127.0.0.1", port)) as node:
        assert int(store_all(node.port, [us_dataset("US1_UNCR.dcm")])[0].Status) == 0
        assert node.wait_idle(WAIT_S)
        assert not node.forwarder.flush()  # down: kept
        assert len(node.outbox.pending()) == 1
        pacs = Pacs(port)
        try:
            assert node.forwarder.flush()
            assert len(pacs.wait_for(3)) == 3
        finally:
            pacs.stop()


def test_results_left_by_a_run_are_sent_by_the_next(store, lesion_model) -> None:
    pacs = Pacs()
    port = pacs.port
    pacs.stop()
    destination = Destination("PACS", "127.0.0.1", port)
    with running_node(store, lesion_model, forward=destination) as node:
        assert int(store_all(node.port, [us_dataset("OBXXXX1A_rle_2frame.dcm")])[0].Status) == 0
        assert node.wait_idle(WAIT_S)
    assert len(node.outbox.pending()) == 2  # one job per frame, on disk
    pacs = Pacs(port)
    try:
        with running_node(store, lesion_model, forward=destination) as again:
            assert len(pacs.wait_for(6)) == 6  # sent at start, nobody asking
            assert again.forwarder.flush()
    finally:
        pacs.stop()


def test_results_the_pacs_refuses_are_set_aside_and_a_busy_pacs_is_retried(store, lesion_model) -> None:
    pacs = Pacs(answer=0xA700)  # out of resources: may take them later
    try:
        destination = Destination("PACS", "127.0.0.1", pacs.port)
        with running_node(store, lesion_model, forward=destination) as node:
            assert int(store_all(node.port, [us_dataset("US1_UNCR.dcm")])[0].Status) == 0
            assert node.wait_idle(WAIT_S)
            assert not node.forwarder.flush()
            assert len(node.outbox.pending()) == 1
            pacs.answer = 0xC000  # cannot understand: sending again will not help
            assert node.forwarder.flush()  # nothing left to retry
    finally:
        pacs.stop()
    refused = node_folder(store.folder) / "refused"
    assert len(list(refused.iterdir())) == 1
