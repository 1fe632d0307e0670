"""`c5desk serve STORE --port P --ae-title AE [--allow AE ...] [--forward AE@HOST:PORT]`: the DICOM node.

A Storage SCP (C-ECHO, C-STORE of ultrasound images, single and multi-frame, in every transfer syntax
this installation decodes): what it receives is imported into STORE de-identified and scored with the
active model (or --model), loaded once; with --forward, each frame's results (DICOM SEG + SR) are sent to
that peer, kept in an outbox and retried while it is unreachable. Only the --allow calling AE titles may
associate (any, when none is given). Prints one line once listening ("listening as AE on port P; model X
on DEVICE"), then runs until Ctrl+C or SIGTERM (exit 0). Bad arguments exit 2; a port in use, an
unreadable store or model exit 1, with one line saying why.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from c5desk.node.config import (
    DEFAULT_AE_TITLE,
    DEFAULT_BIND,
    NodeConfig,
    NodeError,
    check_ae_title,
    check_port,
    listening_line,
    parse_destination,
)
from c5desk.settings import DEVICE_CHOICES

POLL_S = 0.25  # how soon a stop request or a vanished parent is noticed
KEEP_IDENTITY_WARNING = (
    "warning: --keep-identity: forwarded results carry the patient's identity from the received study"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="dataset store folder (created when missing)")
    parser.add_argument(
        "--port", type=checked_type(check_port), default=11112, help="TCP port (0: any free one)"
    )
    parser.add_argument("--ae-title", type=checked_type(check_ae_title), default=DEFAULT_AE_TITLE)
    parser.add_argument(
        "--allow", action="append", default=[], type=checked_type(check_ae_title), metavar="CALLING_AE",
        help="a calling AE title allowed to associate (repeatable; default: any)",
    )  # fmt: skip
    parser.add_argument(
        "--forward", type=checked_type(parse_destination), metavar="AE@HOST:PORT",
        help="send each received frame's results (DICOM SEG + SR) to this peer",
    )  # fmt: skip
    parser.add_argument(
        "--keep-identity", action="store_true",
        help="forwarded results reference the received study (its patient); default: de-identified",
    )  # fmt: skip
    parser.add_argument(
        "--max-frames", type=_positive, metavar="N", help="import at most N frames per object"
    )
    parser.add_argument("--bind", default=DEFAULT_BIND, help="address to listen on (default: all)")
    parser.add_argument("--model", type=Path, help="model bundle folder (default: the active model)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"))
    parser.add_argument(
        "--exit-with-parent", action="store_true",
        help="stop when the process that started this one ends (the app uses it: no orphan node)",
    )  # fmt: skip


def checked_type(check):
    """An argparse type from a NodeError-raising check, so a bad value is a usage error (exit 2)."""

    def convert(text: str):
        try:
            return check(text)
        except NodeError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = check.__name__
    return convert


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from c5desk.inference import make_predictor
    from c5desk.model.catalog import default_bundle
    from c5desk.node import Node
    from c5desk.store import Store

    config = NodeConfig(
        ae_title=args.ae_title, port=args.port, allowed=tuple(args.allow), forward=args.forward,
        keep_identity=args.keep_identity, max_frames=args.max_frames, bind=args.bind,
    )  # fmt: skip
    if args.keep_identity:
        print(KEEP_IDENTITY_WARNING, file=sys.stderr)
    for chatty in ("pynetdicom", "highdicom"):  # a line per PDU or copied module would flood the log file
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stop = _StopRequest()
    with Store.open(args.store, create=True) as store, _stopped_by_signals(stop):
        predictor = make_predictor(args.model or default_bundle(), device=args.device, backend=args.backend)
        node = Node(store, config, predictor)
        port = node.start()
        try:
            print(listening_line(config.ae_title, port, predictor.version, predictor.device), flush=True)
            parent = os.getppid()
            while not stop.requested:
                time.sleep(POLL_S)  # a signal's handler runs between sleeps on every OS
                if args.exit_with_parent and os.getppid() != parent:  # orphaned: the app died
                    print("c5desk serve: the app that started this node has ended", file=sys.stderr)
                    break
        finally:
            node.stop()
    print("c5desk serve: stopped", file=sys.stderr)
    return 0


class _StopRequest:
    """Set by a signal handler, read by the main loop. A plain flag on purpose: a handler runs on the main
    thread between two bytecodes, possibly while that thread holds a lock (an Event's, in Event.wait), so
    a handler that takes a lock (Event.set) can deadlock the process, as seen in the frozen app."""

    requested = False

    def set(self) -> None:
        self.requested = True


@contextmanager
def _stopped_by_signals(stop: _StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (a clean exit 0) while the node runs; the old handlers come back."""
    old = {}
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        for number in (signal.SIGINT, signal.SIGTERM):
            old[number] = signal.signal(number, lambda *_: stop.set())
    try:
        yield
    finally:
        for number, handler in old.items():
            signal.signal(number, handler)
