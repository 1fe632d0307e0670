"""Sending DICOM objects to a peer (C-STORE SCU, pynetdicom): the node's forwarding and Send to PACS.

One association per call, proposing each object's SOP class in its own transfer syntax and the two
uncompressed ones (pynetdicom re-encodes between uncompressed syntaxes when the peer prefers the other).
An association that cannot be made (peer down, refused, no answer) is a NodeError, and nothing counts as
sent; once made, each object's outcome is reported: sent, refused by the peer (retrying will not help), or
lost with the connection (retrying may).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE

from c5desk.node.config import Destination, NodeError

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0
MAX_CONTEXTS = 128  # what one association may propose
_SUCCESS_OR_WARNING = {0x0000, 0xB000, 0xB006, 0xB007}
_BUSY = {0x0110, 0x0213}  # processing failure, resource limitation: the peer may take it later


def retry_may_help(status: int) -> bool:
    """Out of resources (A7xx) and the general "busy" statuses pass; a refusal of the object does not."""
    return 0xA700 <= status <= 0xA7FF or status in _BUSY


@dataclass(frozen=True)
class Failure:
    what: str
    why: str
    permanent: bool  # the peer refused it (sending again will not help), rather than the link failing


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return f"{len(self.sent)} sent, {len(self.failures)} failed"


def send_datasets(
    items: Sequence[tuple[str, Dataset]],
    destination: Destination,
    calling_ae: str,
    timeout_s: float = TIMEOUT_S,
) -> SendReport:
    """C-STORE each (name, dataset) to `destination`; NodeError when no association can be made."""
    report = SendReport()
    if not items:
        return report
    ae = _requesting_ae(calling_ae, [ds for _, ds in items], timeout_s)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        why = "refused the association" if assoc.is_rejected else "did not answer"
        raise NodeError(f"{destination} {why}")
    try:
        for index, (what, ds) in enumerate(items):
            if not assoc.is_established:
                report.failures += [Failure(w, "connection lost", False) for w, _ in items[index:]]
                break
            _store_one(assoc, what, ds, report)
    finally:
        if assoc.is_established:
            assoc.release()
    return report


def _requesting_ae(calling_ae: str, datasets: list[Dataset], timeout_s: float) -> AE:
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    contexts: dict[str, list[str]] = {}
    for ds in datasets:
        syntaxes = contexts.setdefault(str(ds.SOPClassUID), [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        meta = getattr(ds, "file_meta", None)
        own = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
        if own and own not in syntaxes:
            syntaxes.insert(0, own)
    if len(contexts) > MAX_CONTEXTS:
        raise NodeError(f"{len(contexts)} kinds of object cannot be sent in one association")
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, syntaxes)
    return ae


def _store_one(assoc, what: str, ds: Dataset, report: SendReport) -> None:
    try:
        answer = assoc.send_c_store(ds)
    except (ValueError, AttributeError, RuntimeError) as exc:  # no accepted context, an unencodable dataset
        report.failures.append(Failure(what, f"not sent ({exc})", True))
        return
    status = int(answer.get("Status", -1)) if answer else None
    if status is None:
        report.failures.append(Failure(what, "no answer (connection lost or timed out)", False))
    elif status in _SUCCESS_OR_WARNING:
        report.sent.append(what)
    else:
        comment = str(answer.get("ErrorComment", "") or "").strip()
        why = f"refused with status 0x{status:04X}" + (f" ({comment})" if comment else "")
        report.failures.append(Failure(what, why, not retry_may_help(status)))
