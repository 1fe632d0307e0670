"""The log file: what the app and the commands did, for a support engineer — never who the patient is.

`setup_logging(program)` once per process (the `c5desk` commands, the app, `python -m training`): a rotating
c5desk.log in the per-user log folder (settings.log_dir(); 2 MiB × 5 files), each line with the time, process,
program, level and logger. Uncaught exceptions, Qt slots included, are logged with their traceback.

Same rules as the dataset store: no names, no paths that could name a patient, no DICOM UIDs. Code logs salted
source ids, counts, model versions and devices; as a second line of defence every message (and every line of a
traceback except its code locations) is redacted: absolute paths, file names of frame and data files and UIDs
become <path>, <file> and <uid>.

A windowed app may have no stderr at all (sys.stderr is None in a frozen Windows GUI): it is replaced by
os.devnull, so that nothing else fails writing to it.
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import os
import re
import sys
import traceback
from pathlib import Path

from c5desk import settings

LOG_FILE = "c5desk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(process)d %(program)s %(levelname)s %(name)s: %(message)s"
_REDACTIONS = (
    (re.compile(r"[A-Za-z]:[\\/][^\s'\"]*"), "<path>"),  # C:\Users\...
    (re.compile(r"\\\\[^\s'\"]+"), "<path>"),  # \\server\share\...
    (re.compile(r"(?<![\w.<])/[^\s'\"]+"), "<path>"),  # /home/... (not "mm/px", not "1/2")
    (
        re.compile(
            r"[^\s'\"/\\<>]+\.(?:dcm|dicom|dic|ima|png|jpe?g|tiff?|bmp|gif|avi|mp4|mov|mkv|wmv|mpe?g|npz|nii|csv)\b",
            re.IGNORECASE,
        ),
        "<file>",
    ),
    (re.compile(r"\b\d+(?:\.\d+){4,}\b"), "<uid>"),  # DICOM UIDs: 1.2.840.10008....
)

log = logging.getLogger(__name__)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)
        record.msg, record.args = redact(record.getMessage()), None
        record.program = getattr(record, "program", _program)
        return super().format(record)

    def formatException(self, ei) -> str:
        """The traceback with its code locations kept and everything else (the messages) redacted."""
        lines = "".join(traceback.format_exception(*ei)).splitlines()
        kept = (line if line.lstrip().startswith('File "') else redact(line) for line in lines)
        return "\n".join(kept)


_program = "c5desk"
_handler: logging.Handler | None = None


def setup_logging(program: str) -> Path | None:
    """Log to the per-user log file from now on (once per process); returns the file, None if unwritable."""
    global _program, _handler
    _program = program
    _no_missing_streams()
    if _handler is not None:
        return Path(_handler.baseFilename)  # type: ignore[attr-defined]
    path = settings.log_dir() / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
    except OSError:
        return None  # a read-only home must not stop the app; stderr still shows errors
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    _handler = handler
    return path


def _log_uncaught(kind, value, tb) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    log.critical("uncaught exception", exc_info=(kind, value, tb))
    if sys.stderr is not None:
        sys.__excepthook__(kind, value, tb)


def _no_missing_streams() -> None:
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115  (lives as long as the app)
