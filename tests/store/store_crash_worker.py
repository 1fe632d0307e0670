"""Helper process for the crash and concurrency tests (not a test module).

    python store_crash_worker.py zygote STORE LOGDIR
        Imports everything once, then for each "go ROUND SEED COMMITS DELAY_MS" line on stdin forks a
        writer child, waits until it reported COMMITS commits (so every round commits something, however
        slow the machine), waits DELAY_MS more, SIGKILLs it, reaps it and prints "dead STATUS". A fresh
        Python start per kill would cost ~0.5 s; a fork costs milliseconds, with the same code path.
    python store_crash_worker.py write STORE LOGDIR COUNT SEED
        Saves COUNT annotations and exits (the concurrency test's writer).

A writer appends "begin frame_id mask_seed" to LOGDIR/commits-ROUND.log before each save and
"commit frame_id revision mask_seed label" only AFTER save_annotation returned, i.e. after the commit:
every commit line must read back identically, and a log ending in "begin" shows a kill mid-write.
"""

from __future__ import annotations

import io
import os
import select
import signal
import sys
import time
from pathlib import Path

import numpy as np
from store_helpers import blob_mask

from c5desk.lesion.measure import measure_mask
from c5desk.store import Store
from c5desk.store.files import encode_png

LABELS = ("benign", "malignant", "unsure")
SHAPE = (48, 64)


def write_annotations(
    store_folder: Path, log_path: Path, seed: int, count: int | None, notify: int | None = None
) -> None:
    rng = np.random.default_rng(seed)
    with Store.open(store_folder) as store, log_path.open("a") as log:
        frame_ids = [record.id for record in store.frames()]
        done = 0
        while count is None or done < count:
            frame_id = int(rng.choice(frame_ids))
            mask_seed = int(rng.integers(0, 2**31))
            label = LABELS[int(rng.integers(0, len(LABELS)))]
            mask = blob_mask(mask_seed, SHAPE)
            log.write(f"begin {frame_id} {mask_seed}\n")
            log.flush()
            if rng.random() < 0.3:
                store.journal_write(frame_id, blob_mask(mask_seed + 1, SHAPE), label, note="autosave")
            saved = store.save_annotation(frame_id, mask, label, note=f"seed {mask_seed}")
            log.write(f"commit {frame_id} {saved.revision} {mask_seed} {label}\n")
            log.flush()
            if notify is not None:
                os.write(notify, b"c")
            done += 1


def warm_up() -> None:
    """Pay first-call costs (OpenCV, measurement, npz) once here rather than in every forked writer."""
    mask = blob_mask(0, SHAPE)
    measure_mask(mask, None)
    encode_png(mask.astype(np.uint8))
    np.savez_compressed(io.BytesIO(), mask=np.packbits(mask))


def zygote(store_folder: Path, log_dir: Path) -> None:
    warm_up()
    for line in sys.stdin:
        command, round_text, seed_text, commits, delay_ms = line.split()
        if command != "go":
            break
        reports, notify = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: runs until killed
            try:
                os.close(reports)
                write_annotations(
                    store_folder, log_dir / f"commits-{round_text}.log", int(seed_text), None, notify
                )
            finally:
                os._exit(3)
        os.close(notify)
        for _ in range(int(commits)):
            if not select.select([reports], [], [], 60)[0] or not os.read(reports, 1):
                break  # the writer died or hung: the test sees its exit status
        time.sleep(float(delay_ms) / 1000)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(reports)
        print(f"dead {status}", flush=True)


if __name__ == "__main__":
    mode, folder, logs = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if mode == "zygote":
        zygote(folder, logs)
    else:
        write_annotations(folder, logs / f"commits-{sys.argv[5]}.log", int(sys.argv[5]), int(sys.argv[4]))
