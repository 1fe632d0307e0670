"""The DICOM node: a Storage SCP (pynetdicom) that imports, scores and forwards what scanners send.

    node = Node(store, NodeConfig(ae_title="C5DESK", port=11112, allowed=("SCANNER",)), predictor)
    node.start()              # listening; returns the port (useful with port 0)
    ...
    node.stop()               # no new associations; the job in hand finishes; the rest waits on disk

Associations: only the allowed calling AE titles (when any are listed) and only for our own AE title are
accepted; others are rejected at association (pynetdicom's require_calling_aet / require_called_aet).
Every storage SOP class is negotiated, in each transfer syntax this installation decodes, so that a
non-image object is answered with a DIMSE status (receive.py) rather than an opaque negotiation failure.

A C-STORE is handled on its association's thread: the object is kept whole in the inbox (fsynced) and
checked, every frame decoded (receive.py), and only then is success returned; importing it de-identified,
scoring and forwarding follow on the worker thread (scoring.py, forward.py). No exception leaves a
handler: a failure is a status and a line in the log (with the calling AE title and the reason, never the
patient). A peer that drops the connection mid-transfer never reaches the handler, so nothing of it is
written.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pydicom
from pydicom import Dataset, uid
from pydicom.pixels import get_decoder
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from c5desk.inference import Predictor
from c5desk.node.config import NodeClaim, NodeConfig, NodeError, node_folder
from c5desk.node.forward import Forwarder, Outbox, queue_results
from c5desk.node.inbox import Inbox
from c5desk.node.receive import OUT_OF_RESOURCES, PROCESSING_FAILURE, Refusal, check_received
from c5desk.node.scoring import Scorer
from c5desk.store import Store

log = logging.getLogger(__name__)
TIMEOUT_S = 60.0  # ACSE, DIMSE and idle-network timeouts: a silent peer is dropped after this
JOIN_TIMEOUT_S = 60.0
SUCCESS = 0x0000


def decodable_transfer_syntaxes() -> list[str]:
    """Transfer syntaxes whose pixel data this installation decodes (what c5desk.io can read)."""
    found = []
    for syntax in uid.AllTransferSyntaxes:
        try:
            if get_decoder(uid.UID(syntax)).is_available:
                found.append(str(syntax))
        except (NotImplementedError, ValueError):
            continue
    return found


def build_ae(config: NodeConfig) -> AE:
    ae = AE(ae_title=config.ae_title)
    syntaxes = decodable_transfer_syntaxes()
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, syntaxes)
    ae.add_supported_context(Verification)
    ae.require_calling_aet = list(config.allowed)
    ae.require_called_aet = True
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_S
    return ae


def status(code: int, comment: str = "") -> Dataset:
    answer = Dataset()
    answer.Status = code
    if comment:
        answer.ErrorComment = comment[:64]
    return answer


class Node:
    def __init__(self, store: Store, config: NodeConfig, predictor: Predictor) -> None:
        self.store, self.config, self.predictor = store, config, predictor
        folder = node_folder(store.folder)
        self.inbox = Inbox(folder / "inbox")
        self.outbox: Outbox | None = None
        self.forwarder: Forwarder | None = None
        if config.forward is not None:
            self.outbox = Outbox(folder / "outbox", folder / "refused")
            self.forwarder = Forwarder(self.outbox, config.forward, config.ae_title, config.retry_s)
        results = self._queue_results if self.outbox is not None else None
        self.scorer = Scorer(store, predictor, self.inbox, results, config.max_frames)
        self._ae = build_ae(config)
        self._server = None
        self._claim: NodeClaim | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise NodeError("the node is not running")
        return int(self._server.server_address[1])

    def start(self) -> int:
        """Listen (NodeError when the port cannot be had); take up what an earlier run left; the port."""
        with self._lock:
            if self._server is not None:
                raise NodeError("the node is running already")
            self._claim = NodeClaim(node_folder(self.store.folder))
            self.inbox.sweep_temporaries()
            # listed before listening: what arrives from now on is submitted by its own handler
            left = self.inbox.pending()
            try:
                self._server = self._ae.start_server(
                    (self.config.bind, self.config.port), block=False, evt_handlers=self._handlers()
                )
            except OSError as exc:
                self._claim.release()
                raise NodeError(f"cannot listen on port {self.config.port} ({exc.strerror or exc})") from exc
            self.scorer.start()
            if self.forwarder is not None:
                self.forwarder.start()  # sends what an earlier run left in the outbox
            for path in left:
                self.scorer.submit(path)
        log.info("DICOM node %s listening on port %d", self.config.ae_title, self.port)
        return self.port

    def stop(self) -> None:
        """Stop listening, let running associations end, finish the job in hand; idempotent."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        associations = list(server.active_associations)
        server.shutdown()
        for assoc in associations:
            assoc.abort()
            assoc.join(JOIN_TIMEOUT_S)
        self.scorer.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        if self._claim is not None:
            self._claim.release()
        log.info("DICOM node %s stopped", self.config.ae_title)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once everything received so far is scored and its results queued."""
        return self.scorer.wait_idle(timeout)

    def _handlers(self) -> list:
        return [
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_ABORTED, self._on_aborted),
        ]

    def _on_echo(self, event: evt.Event) -> int:
        log.info("C-ECHO from %s", event.assoc.requestor.ae_title)
        return SUCCESS

    def _on_store(self, event: evt.Event) -> Dataset | int:
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            frames = self._receive(event.encoded_dataset(include_meta=True), calling)
        except Refusal as refusal:
            log.warning("C-STORE from %s refused (0x%04X): %s", calling, refusal.status, refusal.comment)
            return status(refusal.status, refusal.comment)
        except Exception:
            log.exception("C-STORE from %s failed", calling)
            return status(PROCESSING_FAILURE, "internal error (see the node's log)")
        log.info("C-STORE from %s: %d frame(s) received", calling, frames)
        return SUCCESS

    def _receive(self, data: bytes, calling: str) -> int:
        """Keep the object whole, check it, hand it to the worker; its frame count, or a Refusal."""
        try:
            path = self.inbox.write(data, calling)
        except OSError as exc:
            raise Refusal(OUT_OF_RESOURCES, f"cannot be kept ({exc.strerror or exc})") from exc
        try:
            frames = check_received(path, self.config.max_frames)
        except BaseException:
            self.inbox.remove(path)
            raise
        self.scorer.submit(path)
        return frames

    def _queue_results(self, frame_ids: tuple[int, ...], received: Path) -> None:
        assert self.outbox is not None and self.forwarder is not None
        source = pydicom.dcmread(received) if self.config.keep_identity else None
        queue_results(self.store, self.outbox, frame_ids, source)
        self.forwarder.kick()

    def _on_rejected(self, event: evt.Event) -> None:
        requestor = event.assoc.requestor
        log.warning(
            "association from %s (%s) rejected: calling or called AE title not accepted",
            requestor.ae_title, requestor.address,
        )  # fmt: skip

    def _on_aborted(self, event: evt.Event) -> None:
        log.info("association from %s aborted", event.assoc.requestor.ae_title)
