"""The store's SQLite schema, versioned: MIGRATIONS[i] takes a database from version i to i + 1.

A new version appends a migration (never edits an old one); open() applies the missing ones in one
transaction, and refuses a database written by a newer c5desk.

Privacy by construction: no column can hold a name, a path, a date of the patient or study, or a DICOM
UID. Cases and frames are keyed by salted hashes (c5desk.io.ids); frame metadata is the io package's
non-PHI whitelist.
"""

from __future__ import annotations

import sqlite3

from c5desk.store.records import StoreError

_V1 = """
CREATE TABLE store_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    case_key    TEXT NOT NULL UNIQUE,          -- salted hash of a study / patient value / file
    created_utc TEXT NOT NULL
);
CREATE TABLE frames (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    source_id   TEXT NOT NULL UNIQUE,          -- salted hash of SOP Instance UID or file bytes + index
    frame_index INTEGER NOT NULL CHECK (frame_index >= 0),
    height      INTEGER NOT NULL CHECK (height > 0),
    width       INTEGER NOT NULL CHECK (width > 0),
    mm_per_px_x REAL CHECK (mm_per_px_x > 0),
    mm_per_px_y REAL CHECK (mm_per_px_y > 0),
    region      TEXT,                          -- JSON of c5desk.io.Region, or NULL
    meta        TEXT NOT NULL DEFAULT '{}',    -- JSON, non-PHI metadata only
    image_file  TEXT NOT NULL,                 -- display pixels (content-addressed PNG)
    grey_file   TEXT NOT NULL,                 -- the model's grey input (content-addressed PNG)
    split       TEXT,
    grp         TEXT,
    added_utc   TEXT NOT NULL,
    CHECK ((mm_per_px_x IS NULL) = (mm_per_px_y IS NULL))
);
CREATE INDEX frames_case ON frames(case_id);
CREATE TABLE model_versions (
    id          TEXT PRIMARY KEY,
    parent      TEXT REFERENCES model_versions(id),
    metrics     TEXT NOT NULL DEFAULT '{}',
    active      INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    created_utc TEXT NOT NULL
);
CREATE UNIQUE INDEX model_versions_one_active ON model_versions(active) WHERE active = 1;
CREATE TABLE annotations (
    id            INTEGER PRIMARY KEY,
    frame_id      INTEGER NOT NULL REFERENCES frames(id),
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    label         TEXT NOT NULL CHECK (label IN ('benign', 'malignant', 'normal', 'unsure')),
    category      TEXT,
    note          TEXT NOT NULL DEFAULT '',
    mask_file     TEXT NOT NULL,
    measurements  TEXT,                        -- JSON of Measurements.to_dict(), NULL for an empty mask
    model_version TEXT REFERENCES model_versions(id),
    seg_change    REAL CHECK (seg_change BETWEEN 0 AND 1),  -- 1 - Dice(model mask, final); NULL: no model
    label_flip    INTEGER CHECK (label_flip IN (0, 1)),     -- final lesion label differs from the model's
    user          TEXT NOT NULL,
    created_utc   TEXT NOT NULL,
    UNIQUE (frame_id, revision)
);
CREATE TABLE predictions (
    id            INTEGER PRIMARY KEY,
    frame_id      INTEGER NOT NULL REFERENCES frames(id),
    model_version TEXT NOT NULL REFERENCES model_versions(id),
    p_malignant   REAL NOT NULL CHECK (p_malignant BETWEEN 0 AND 1),
    uncertainty   REAL NOT NULL CHECK (uncertainty BETWEEN 0 AND 1),
    label         TEXT NOT NULL,
    mask_file     TEXT NOT NULL,
    created_utc   TEXT NOT NULL
);
CREATE INDEX predictions_frame ON predictions(frame_id, id);
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    time_utc      TEXT NOT NULL,
    user          TEXT NOT NULL,
    action        TEXT NOT NULL,
    frame_id      INTEGER,
    model_version TEXT,
    before        TEXT,
    after         TEXT
);
CREATE INDEX audit_frame ON audit(frame_id);
"""

# Which model is active is the model catalogue's to say (c5desk.model.catalog), one choice per
# installation; a store keeps the versions its rows refer to and their lineage. The flag a store used to
# keep is dropped, its last value kept in the audit log.
_V2 = """
INSERT INTO audit (time_utc, user, action, model_version, before)
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'c5desk', 'active_model_moved_to_catalogue', id,
           '{"active": "' || id || '"}'
    FROM model_versions WHERE active = 1;
DROP INDEX model_versions_one_active;
ALTER TABLE model_versions DROP COLUMN active;
"""

# BI-RADS lexicon descriptors (c5desk.lesion.lexicon): JSON per annotation ({name: {value, source}}, the
# source saying whether the model suggested it or a clinician set it) and per prediction ({name: value}).
_V3 = """
ALTER TABLE annotations ADD COLUMN descriptors TEXT;
ALTER TABLE predictions ADD COLUMN descriptors TEXT;
"""

# How an outline was made (automatic, prompted with its prompt, or hand-drawn), JSON per annotation; and the
# scale a user set on uncalibrated frames by marking a known distance, one per scope (a scanner or a source).
_V4 = """
ALTER TABLE annotations ADD COLUMN provenance TEXT;
CREATE TABLE calibrations (
    id            INTEGER PRIMARY KEY,
    scope         TEXT NOT NULL UNIQUE,        -- what it applies to, e.g. "scanner:<model>" or "source:<id>"
    mm_per_px_x   REAL NOT NULL CHECK (mm_per_px_x > 0),
    mm_per_px_y   REAL NOT NULL CHECK (mm_per_px_y > 0),
    detail        TEXT NOT NULL,               -- JSON: the marked points, the typed distance, the frame
    user          TEXT NOT NULL,
    created_utc   TEXT NOT NULL
);
"""

# Two frames showing one lesion in orthogonal planes (transverse and sagittal), for its three diameters and
# ellipsoid volume (c5desk.lesion.calipers); stored once per pair, frame_a < frame_b.
_V5 = """
CREATE TABLE view_links (
    id          INTEGER PRIMARY KEY,
    frame_a     INTEGER NOT NULL REFERENCES frames(id),
    frame_b     INTEGER NOT NULL REFERENCES frames(id),
    created_utc TEXT NOT NULL,
    CHECK (frame_a < frame_b),
    UNIQUE (frame_a, frame_b)
);
CREATE INDEX view_links_b ON view_links(frame_b);
"""

# Several lesions per frame. Each annotation revision keeps its lesions here, position 1 being the main
# lesion; the annotation row stays the frame's summary: the union of the lesion masks (what segmentation
# trains on and corrections are measured with) and the main lesion's label, category, note, measurements,
# descriptors and provenance. A revision with an empty mask (a label alone, or "normal") has no lesion.
# Stores written before this version had one lesion per revision: it is copied here as position 1.
_V6 = """
CREATE TABLE lesions (
    id            INTEGER PRIMARY KEY,
    annotation_id INTEGER NOT NULL REFERENCES annotations(id),
    position      INTEGER NOT NULL CHECK (position >= 1),
    label         TEXT NOT NULL CHECK (label IN ('benign', 'malignant', 'unsure')),
    category      TEXT,
    note          TEXT NOT NULL DEFAULT '',
    mask_file     TEXT NOT NULL,
    measurements  TEXT,
    descriptors   TEXT,
    provenance    TEXT,
    UNIQUE (annotation_id, position)
);
INSERT INTO lesions (annotation_id, position, label, category, note, mask_file, measurements, descriptors,
                     provenance)
    SELECT id, 1, label, category, note, mask_file, measurements, descriptors, provenance
    FROM annotations WHERE measurements IS NOT NULL AND label IN ('benign', 'malignant', 'unsure');
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """0 for an empty database, else the recorded schema version."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    if exists.fetchone() is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION inside the caller's write transaction; return the old version."""
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"this store has schema version {version}, newer than this c5desk understands ({SCHEMA_VERSION});"
            " update c5desk to open it"
        )
    if version == 0:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (0)")
    for step in range(version, SCHEMA_VERSION):
        for statement in _statements(MIGRATIONS[step]):
            conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = ?", (step + 1,))
    return version


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit the caller's transaction).

    SQLite itself says where a statement ends (sqlite3.complete_statement), so a ';' inside a string
    literal, a comment or a trigger body (BEGIN ...; ... END;) does not end one. Text after the last ';'
    is a final statement, as sqlite3 would run it.
    """
    *pieces, rest = script.split(";")
    statements, pending = [], ""
    for piece in pieces:
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    statements.append((pending + rest).strip())
    return [statement for statement in statements if statement.rstrip(";").strip()]
