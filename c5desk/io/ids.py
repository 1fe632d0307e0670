"""De-identified, stable frame ids: a salted SHA-256 of the SOP Instance UID (or file bytes) + frame index.

The salt is a per-installation random secret, so ids cannot be reversed by hashing known UIDs elsewhere,
yet stay stable across runs on one machine. Nothing identifying (names, paths, dates) ever enters a hash.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from c5desk import settings

SALT_ENV = "C5DESK_SALT"
SALT_FILE_NAME = "salt"
# Used only when the config folder cannot be written: ids stay stable, though not secret.
FALLBACK_SALT = b"c5desk-fixed-salt-v1"
ID_HEX_CHARS = 20
_CHUNK = 1 << 20


def installation_salt() -> bytes:
    """$C5DESK_SALT, else the secret in the config folder's salt (created on first use), else a fixed salt."""
    configured = os.environ.get(SALT_ENV)
    if configured:
        return configured.encode("utf-8")
    path = settings.config_file(SALT_FILE_NAME)
    try:
        existing = path.read_bytes().strip()
        if existing:
            return existing
    except OSError:
        pass
    try:
        return _create_salt(path)
    except OSError:
        return FALLBACK_SALT


def _create_salt(path: Path) -> bytes:
    """Write a new random salt atomically; if another process won the race, use theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode("ascii")
    fd, tmp_name = tempfile.mkstemp(prefix=".salt-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(salt)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)  # fails if the file appeared meanwhile: never overwrite a salt in use
        except FileExistsError:
            existing = path.read_bytes().strip()
            if existing:
                return existing
            os.replace(tmp_name, path)  # an empty leftover file: replace it
        except OSError:
            os.replace(tmp_name, path)  # file systems without hard links
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return salt


def file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes, streamed so large videos do not need to fit in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def source_id(key: bytes | str, index: int, salt: bytes | None = None) -> str:
    """Salted hash of `key` (a SOP Instance UID or a file digest) and the frame index, as hex."""
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    digest = hashlib.sha256()
    for part in (salt if salt is not None else installation_salt(), key_bytes, str(int(index)).encode()):
        digest.update(len(part).to_bytes(8, "little"))  # length-prefixed: no ambiguity between parts
        digest.update(part)
    return digest.hexdigest()[:ID_HEX_CHARS]


def case_key(identity: bytes | str, salt: bytes | None = None) -> str:
    """Salted hash naming a case (a DICOM study, a patient column value, a file) without revealing it.

    Kept apart from source_id by a domain prefix, so a case key never equals a frame id.
    """
    identity_bytes = identity.encode("utf-8") if isinstance(identity, str) else identity
    digest = hashlib.sha256()
    for part in (salt if salt is not None else installation_salt(), b"c5desk-case", identity_bytes):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:ID_HEX_CHARS]


def salt_fingerprint(salt: bytes | None = None) -> str:
    """A short, irreversible fingerprint of the salt: tells whether two installations share one."""
    chosen = salt if salt is not None else installation_salt()
    return hashlib.sha256(b"c5desk-salt-fingerprint\x00" + chosen).hexdigest()[:16]
