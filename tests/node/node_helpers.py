"""Peers for the node's tests, all pynetdicom: a scanner (C-ECHO, C-STORE), a PACS (a Storage SCP that
collects what it is sent), a lesion-finding stand-in for the model, and a raw-socket peer that drops the
connection mid-transfer. Every wait is on an explicit condition with a generous timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import Verification

from c5desk.node import Node, NodeConfig
from c5desk.store import Store

WAIT_S = 120.0  # generous: the suite runs on a loaded two-core machine
NODE_AE = "C5DESK"
SCANNER_AE = "SCANNER"


def us_dataset(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name))


@contextmanager
def running_node(store: Store, predictor, **settings) -> Iterator[Node]:
    """A node on a free loopback port (port 0), stopped afterwards whatever happens."""
    settings = {"ae_title": NODE_AE, "port": 0, "bind": "127.0.0.1", "allowed": (SCANNER_AE,), **settings}
    node = Node(store, NodeConfig(**settings), predictor)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def associate(port: int, datasets: list[Dataset] = (), calling: str = SCANNER_AE, called: str = NODE_AE):
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = WAIT_S
    ae.add_requested_context(Verification)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    return ae.associate("127.0.0.1", port, ae_title=called)


def echo(port: int, calling: str = SCANNER_AE) -> int | None:
    """The C-ECHO status, None when the association is refused."""
    assoc = associate(port, calling=calling)
    if not assoc.is_established:
        return None
    try:
        return int(assoc.send_c_echo().Status)
    finally:
        assoc.release()


def store_all(port: int, datasets: list[Dataset], calling: str = SCANNER_AE) -> list[Dataset]:
    """C-STORE each dataset in one association; the status datasets."""
    assoc = associate(port, datasets, calling=calling)
    assert assoc.is_established
    try:
        return [assoc.send_c_store(ds) for ds in datasets]
    finally:
        assoc.release()


class Pacs:
    """A Storage SCP that keeps what it receives; answer() sets the status it replies with."""

    def __init__(self, port: int = 0, answer: int = 0x0000) -> None:
        self.received: list[Dataset] = []
        self.answer = answer
        self._cond = threading.Condition()
        ae = AE(ae_title="PACS")
        ae.supported_contexts = StoragePresentationContexts
        self._server = ae.start_server(
            ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )
        self.port = int(self._server.server_address[1])

    def _on_store(self, event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        with self._cond:
            if self.answer == 0x0000:
                self.received.append(ds)
            self._cond.notify_all()
        return self.answer

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Dataset]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()


class LesionModel:
    """Stands in for a Predictor: an ellipse in the middle of every frame, P(malignant) 0.8."""

    version = "test-lesion-1"
    device = "cpu"
    backend = "test"

    def predict(self, frame):
        h, w = frame.shape
        yy, xx = np.mgrid[:h, :w]
        mask = ((yy - h / 2) / (h / 6)) ** 2 + ((xx - w / 2) / (w / 6)) ** 2 <= 1
        return _Result(self.version, 0.8, 0.1, mask, {"shape": "oval"}, "malignant")


@dataclass(frozen=True)
class _Result:
    model_version: str
    p_malignant: float
    uncertainty: float
    mask: np.ndarray
    descriptors: dict[str, str]
    label: str  # the model's verdict, as a Prediction's


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def drop_mid_transfer(port: int, ds: Dataset, pdus_sent: int = 3) -> None:
    """Associate, send the C-STORE command and the first PDUs of the dataset, then close the socket."""
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.pdu import A_ASSOCIATE_RQ, P_DATA_TF

    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    try:
        sock.sendall(_association_request(A_ASSOCIATE_RQ, ds).encode())
        header = _read_exactly(sock, 6)
        assert header[0] == 0x02, f"association not accepted (PDU type {header[0]})"
        _read_exactly(sock, int.from_bytes(header[2:6], "big"))
        request = C_STORE()
        request.MessageID = 1
        request.AffectedSOPClassUID = ds.SOPClassUID
        request.AffectedSOPInstanceUID = ds.SOPInstanceUID
        request.Priority = 2
        request.DataSet = BytesIO(encode(ds, False, True))  # explicit VR little endian, as negotiated
        message = C_STORE_RQ()
        message.primitive_to_message(request)
        for number, primitive in enumerate(message.encode_msg(1, 16382)):
            if number >= pdus_sent:
                break
            pdu = P_DATA_TF()
            pdu.from_primitive(primitive)
            sock.sendall(pdu.encode())
    finally:
        sock.close()


def _association_request(pdu_class, ds: Dataset):
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        MaximumLengthNotification,
    )
    from pynetdicom.presentation import build_context

    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = SCANNER_AE
    primitive.called_ae_title = NODE_AE
    context = build_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    context.context_id = 1
    primitive.presentation_context_definition_list = [context]
    length = MaximumLengthNotification()
    length.maximum_length_received = 16382
    implementation = ImplementationClassUIDNotification()
    implementation.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.3.0.4"
    primitive.user_information = [length, implementation]
    pdu = pdu_class()
    pdu.from_primitive(primitive)
    return pdu


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data
