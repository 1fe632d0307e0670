"""What a DICOM node is told: its AE title and port, who may call it, where results go.

Checked here, once, so that the command line, the app's settings dialog and the tests refuse the same
things with the same one-line message: an AE title is 1-16 characters of printable ASCII without a
backslash (DICOM PS3.5, AE value representation); a port is 0-65535 (0: any free port, for tests and
scripts that read the chosen port from the "listening" line); a destination is "AE@HOST:PORT".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from c5desk.errors import C5Error

AE_TITLE_MAX = 16
DEFAULT_AE_TITLE = "C5DESK"
DEFAULT_BIND = "0.0.0.0"  # a scanner calls from another machine: listen on every interface
DEFAULT_RETRY_S = 60.0
NODE_FOLDER = "dicom-node"  # inside the store folder: inbox/, outbox/, refused/
LISTENING = "listening as "  # the first line `c5desk serve` prints, once it accepts associations
_LISTENING_LINE = re.compile(r"^listening as (?P<ae>.+) on port (?P<port>\d+);")
_DESTINATION = re.compile(r"^(?P<ae>[^@]+)@(?P<host>\[[^\]]+\]|[^:@\s]+):(?P<port>[^:@]+)$")


class NodeError(C5Error):
    """A node setting, a peer or a send that cannot work as asked (one line for the user)."""


def check_ae_title(text: str, what: str = "AE title") -> str:
    """The AE title without padding; NodeError unless DICOM allows it (1-16 printable ASCII, no '\\')."""
    title = str(text).strip()
    if not title:
        raise NodeError(f"{what} is empty")
    if len(title) > AE_TITLE_MAX:
        raise NodeError(f"{what} {title!r} is longer than {AE_TITLE_MAX} characters")
    if any(not " " <= char <= "~" or char == "\\" for char in title):
        raise NodeError(f"{what} {title!r} may hold only printable ASCII characters, no backslash")
    return title


def check_port(value: int | str, allow_any: bool = True) -> int:
    """A TCP port number (0 means "any free port" where allow_any)."""
    try:
        port = int(str(value).strip())
    except ValueError:
        raise NodeError(f"port {value!r} is not a whole number") from None
    low = 0 if allow_any else 1
    if not low <= port <= 65535:
        raise NodeError(f"port {port} is out of range ({low}-65535)")
    return port


@dataclass(frozen=True)
class Destination:
    """A peer to send to: its AE title, host name or address, and port."""

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, "destination AE title"))
        object.__setattr__(self, "port", check_port(self.port, allow_any=False))
        if not self.host.strip():
            raise NodeError("destination host is empty")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


def parse_destination(text: str) -> Destination:
    """'PACS@10.0.0.5:104' (an IPv6 address in brackets: 'PACS@[::1]:104') → Destination."""
    match = _DESTINATION.match(str(text).strip())
    if match is None:
        raise NodeError(f"destination {text!r} is not AE@HOST:PORT (e.g. PACS@10.0.0.5:104)")
    host = match["host"].strip("[]")
    return Destination(match["ae"], host, check_port(match["port"], allow_any=False))


@dataclass(frozen=True)
class NodeConfig:
    """How `c5desk serve` runs. allowed empty: any calling AE title is accepted."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = 11112
    allowed: tuple[str, ...] = ()
    forward: Destination | None = None
    keep_identity: bool = False  # results reference (and carry) the real received study
    max_frames: int | None = None  # frames imported per received object, from the first
    bind: str = DEFAULT_BIND
    retry_s: float = DEFAULT_RETRY_S  # wait before sending the outbox again after a failure

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title))
        object.__setattr__(self, "port", check_port(self.port))
        allowed = tuple(dict.fromkeys(check_ae_title(t, "allowed calling AE title") for t in self.allowed))
        object.__setattr__(self, "allowed", allowed)
        if self.max_frames is not None and int(self.max_frames) < 1:
            raise NodeError(f"max frames must be at least 1, not {self.max_frames}")
        if not self.retry_s > 0:
            raise NodeError(f"retry interval must be positive, not {self.retry_s}")

    def argv(self, store: str | Path, model: str | Path | None = None) -> list[str]:
        """The `c5desk` arguments that run this node on `store` (how the app starts it, in a process)."""
        args = ["serve", str(store), "--port", str(self.port), "--ae-title", self.ae_title]
        args += ["--bind", self.bind]
        for title in self.allowed:
            args += ["--allow", title]
        if self.forward is not None:
            args += ["--forward", str(self.forward)]
        if self.keep_identity:
            args.append("--keep-identity")
        if self.max_frames is not None:
            args += ["--max-frames", str(self.max_frames)]
        if model is not None:
            args += ["--model", str(model)]
        return args


def node_folder(store_folder: str | Path) -> Path:
    return Path(store_folder) / NODE_FOLDER


class NodeClaim:
    """One node per dataset: a running node holds an exclusive lock on <store>/dicom-node/node.lock (two
    nodes would take up each other's inbox files twice). The OS drops it if the process dies."""

    def __init__(self, folder: Path) -> None:
        from c5desk.store.presence import try_lock

        folder.mkdir(parents=True, exist_ok=True)
        self._handle = (folder / "node.lock").open("a+b")
        if not try_lock(self._handle):
            self._handle.close()
            raise NodeError(
                "another DICOM node (c5desk serve) is running on this dataset already: one node per"
                " dataset; stop it first or give this one another --store"
            )

    def release(self) -> None:
        from c5desk.store.presence import unlock

        if not self._handle.closed:
            unlock(self._handle)
            self._handle.close()


def listening_line(ae_title: str, port: int, model: str, device: str) -> str:
    return f"{LISTENING}{ae_title} on port {port}; model {model} on {device}"


def parse_listening(line: str) -> int | None:
    """The port of a `c5desk serve` "listening" line, None for any other line."""
    match = _LISTENING_LINE.match(line.strip())
    return int(match["port"]) if match else None
