"""The DICOM node: receive ultrasound from scanners, import it de-identified, score it, send results back.

    from c5desk.node import Node, NodeConfig, parse_destination
    config = NodeConfig(ae_title="C5DESK", port=11112, allowed=("SCANNER",),
                        forward=parse_destination("PACS@10.0.0.5:104"))
    node = Node(store, config, predictor)     # `c5desk serve` (commands/serve.py) runs exactly this
    node.start(); ...; node.stop()
    received_frames(store)                    # the app's "Received" list
    send_results(store, frame_ids, destination)   # File → Send to PACS…

Modules: config (settings, checked), inbox (received files, whole), receive (file → frames, or a DIMSE
refusal), scoring (the worker thread), scu (C-STORE SCU), forward (the outbox and its sender thread),
server (the pynetdicom Storage SCP), received (what came in), send (results on demand).
All DICOM networking is pynetdicom's; this package holds no protocol code. No Qt.
"""

from __future__ import annotations

from c5desk.node.config import (
    DEFAULT_AE_TITLE,
    Destination,
    NodeConfig,
    NodeError,
    parse_destination,
    parse_listening,
)
from c5desk.node.received import ReceivedFrame, received_frames
from c5desk.node.scu import SendReport
from c5desk.node.send import send_results, sendable_frames
from c5desk.node.server import Node

__all__ = [
    "DEFAULT_AE_TITLE",
    "Destination",
    "Node",
    "NodeConfig",
    "NodeError",
    "ReceivedFrame",
    "SendReport",
    "parse_destination",
    "parse_listening",
    "received_frames",
    "send_results",
    "sendable_frames",
]
