"""Crash safety and concurrency, with real processes.

- A writer saving annotations (and autosaving) is killed with SIGKILL at random moments, 200 times. After
  each kill: SQLite integrity and foreign keys are sound, no row names a missing file, the journal reads,
  and every annotation the writer reported as committed reads back bit-identical.
- One process saves annotations in a loop while another iterates training examples, ranks frames and
  registers model versions: nothing is corrupted and neither sees "database is locked".

The crash test's store lives in RAM (/dev/shm) when it can: a killed process leaves exactly the same
file state in the page cache on tmpfs as on a disk (fsync only matters for a power cut, which no test
here simulates), and without the disk's fsync latency 200 rounds take seconds, not half a minute.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.store import DATABASE, Store
from c5desk.store.files import encode_png

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

WORKER = Path(__file__).with_name("store_crash_worker.py")
SHAPE = (48, 64)
KILLS = 200
MAX_DELAY_MS = 30.0
FRAMES = 6


def _store_with_frames(folder: Path) -> None:
    with Store.create(folder) as store:
        for seed in range(FRAMES):
            store.add_frame(synthetic_frame(seed, SHAPE))


def _reported_commits(logs: Path) -> list[tuple[int, int, int, str]]:
    """Complete lines only: a kill while writing the log loses the line, never the commit."""
    commits = []
    for log in sorted(logs.glob("commits-*.log")):
        for line in log.read_text().splitlines(keepends=True):
            if line.startswith("commit ") and line.endswith("\n"):
                _, frame_id, revision, seed, label = line.split()
                commits.append((int(frame_id), int(revision), int(seed), label))
    return commits


def _killed_mid_write(log: Path) -> bool:
    """The writer had begun a save and not reported its commit when it was killed."""
    lines = (
        [line for line in log.read_text().splitlines(keepends=True) if line.endswith("\n")]
        if log.exists()
        else []
    )
    return bool(lines) and lines[-1].startswith("begin ")


@functools.cache
def _expected_file(seed: int) -> str:
    """The content-addressed name the mask of `seed` must have: its PNG bytes' SHA-256."""
    data = encode_png(np.where(blob_mask(seed, SHAPE), 255, 0).astype(np.uint8))
    digest = hashlib.sha256(data).hexdigest()
    return f"objects/{digest[:2]}/{digest}.png"


def _verify(
    folder: Path,
    commits: list[tuple[int, int, int, str]],
    decoded: set[tuple[int, int]],
    rehash: bool = False,
) -> None:
    """Every reported commit is still there with its label, note and mask file, and every row's file
    exists. A commit's mask is decoded through the Store API and compared pixel for pixel the first time
    it is seen; files are immutable and named by their content's SHA-256, so later rounds check that the
    row still names that very file, and rehash=True (the last round) re-reads every file's bytes."""
    with Store.open(folder) as store:
        assert store.check() == []  # integrity_check, foreign keys, every named file present
        store.journal_entries()  # every autosave entry readable (old or new, never torn)
        with sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True) as conn:
            found = conn.execute("SELECT frame_id, revision, label, note, mask_file FROM annotations")
            rows = {(f, r): (label, note, file) for f, r, label, note, file in found}
        for frame_id, revision, seed, label in commits:
            saved = rows.get((frame_id, revision))
            assert saved is not None, f"committed revision {revision} of frame {frame_id} is gone"
            assert saved == (label, f"seed {seed}", _expected_file(seed))
            if (frame_id, revision) not in decoded:
                assert np.array_equal(store.mask(frame_id, revision), blob_mask(seed, SHAPE))
                decoded.add((frame_id, revision))
            elif rehash:
                assert hashlib.sha256((folder / saved[2]).read_bytes()).hexdigest() == Path(saved[2]).stem


@pytest.fixture
def crash_dir(tmp_path):
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="c5desk-crash-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_sigkill_at_random_moments_loses_no_committed_annotation(crash_dir):
    folder, logs = crash_dir / "store", crash_dir / "logs"
    logs.mkdir()
    _store_with_frames(folder)
    zygote = subprocess.Popen(
        [sys.executable, str(WORKER), "zygote", str(folder), str(logs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    rng = random.Random(5)
    decoded: set[tuple[int, int]] = set()
    mid_write = requested = 0
    try:
        for round_number in range(KILLS):
            # After 0-2 reported commits, at a random moment: opening, saving, autosaving, between saves.
            commits, delay_ms = rng.randrange(3), rng.uniform(0.0, MAX_DELAY_MS)
            requested += commits
            zygote.stdin.write(f"go {round_number} {rng.randrange(2**31)} {commits} {delay_ms:.2f}\n")
            zygote.stdin.flush()
            status = int(zygote.stdout.readline().split()[1])
            assert os.WIFSIGNALED(status), f"round {round_number}: the writer stopped by itself ({status})"
            mid_write += _killed_mid_write(logs / f"commits-{round_number}.log")
            _verify(folder, _reported_commits(logs), decoded, rehash=round_number == KILLS - 1)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
    commits = _reported_commits(logs)
    # Not vacuous: many kills landed inside a save, and many saves committed before their kill.
    assert mid_write >= KILLS // 3, f"only {mid_write} kills interrupted a save"
    assert len(commits) >= requested, "a writer died before committing what each round waits for"
    revisions = {(frame_id, revision) for frame_id, revision, _, _ in commits}
    assert len(revisions) == len(commits)  # a reported revision number is never reused


def test_saving_while_another_process_reads_for_training(tmp_path):
    folder, logs = tmp_path / "store", tmp_path / "logs"
    logs.mkdir()
    _store_with_frames(folder)
    with Store.open(folder) as store:
        for record in store.frames()[:3]:
            store.save_annotation(record.id, blob_mask(record.id, SHAPE), "benign")
    writer = subprocess.Popen(
        [sys.executable, str(WORKER), "write", str(folder), str(logs), "60", "7"],
        stderr=subprocess.PIPE,
        text=True,
    )
    passes, saves_seen = 0, set()
    with Store.open(folder) as reader:
        while writer.poll() is None or passes < 3:
            saves_seen.add(len(reader.audit_log(action="save_annotation")))
            examples = list(reader.training_examples(labels=("benign", "malignant", "unsure")))
            assert all(e.mask.shape == SHAPE and e.image.shape == SHAPE for e in examples)
            reader.next_most_useful(limit=5)
            reader.register_model_version(f"trained-{passes}", metrics={"pass": passes})  # a write, too
            passes += 1
    _, errors = writer.communicate(timeout=60)
    assert writer.returncode == 0, errors
    assert "locked" not in errors
    commits = _reported_commits(logs)
    assert len(commits) == 60
    assert len(saves_seen) > 2, "the reader never ran while the writer was saving"
    _verify(folder, commits, set())
    with Store.open(folder) as store:
        assert len(store.model_versions()) == passes
