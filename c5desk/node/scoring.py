"""The node's one worker thread: import what was received, score it, store the predictions, queue results.

The association has answered "stored" once the object was checked and kept whole in the inbox (server.py,
receive.py); importing (de-identifying, writing the frames) and the model run here, after, so a scanner
sending a long cine never waits for them. The predictor is loaded once, when the node starts, and used by
this thread alone. A job ends by removing its inbox file; a job the node stopped before is taken up again at
the next start (importing is idempotent; a frame already scored by this model version is not scored again).

A failure is logged and ends the job. The inbox file stays for the next start when the disk failed (full,
unwritable); otherwise it goes, its frames staying in the store to be scored in the app.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from c5desk.inference import Predictor
from c5desk.node.inbox import Inbox, provenance
from c5desk.node.receive import Refusal, import_received
from c5desk.store import Store

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 120.0  # the job in hand finishes (one model call per frame) before the node stops

# (frame ids, the received file) -> None: queue the frames' results for forwarding
ResultsHook = Callable[[tuple[int, ...], Path], None]


class Scorer:
    def __init__(
        self,
        store: Store,
        predictor: Predictor,
        inbox: Inbox,
        results: ResultsHook | None = None,
        max_frames: int | None = None,
    ) -> None:
        self._store, self._predictor, self._inbox = store, predictor, inbox
        self._results, self._max_frames = results, max_frames
        self._jobs: deque[Path] = deque()
        self._busy = 0  # jobs queued or in hand
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="c5desk-node-scorer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, received: Path) -> None:
        """Import, score and forward the received file at `received` (in the inbox), in turn."""
        with self._cond:
            self._jobs.append(received)
            self._busy += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once every submitted job is done (False after `timeout` seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Finish the job in hand; queued jobs stay in the inbox for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._jobs))
                if self._stopping:
                    return
                received = self._jobs.popleft()
            try:
                self._process(received)
            except OSError:
                log.exception("a received object could not be processed (disk?); kept for the next start")
            except Exception:
                log.exception("a received object could not be processed; its frames stay unscored")
                self._inbox.remove(received)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _process(self, received: Path) -> None:
        calling_ae, received_utc = provenance(received)
        try:
            frame_ids = import_received(self._store, received, calling_ae, received_utc, self._max_frames)
        except Refusal as refusal:
            log.warning("a received object cannot be imported: %s", refusal.comment)
            self._inbox.remove(received)
            return
        for frame_id in frame_ids:
            self._score(frame_id)
        if self._results is not None:
            self._results(frame_ids, received)
        self._inbox.remove(received)
        log.info("imported and scored %d frame(s) with %s", len(frame_ids), self._predictor.version)

    def _score(self, frame_id: int) -> None:
        if self._store.prediction(frame_id, self._predictor.version) is not None:
            return  # scored before the node last stopped
        result = self._predictor.predict(self._store.frame(frame_id))
        self._store.add_prediction(
            frame_id, result.model_version, result.p_malignant, result.uncertainty, result.mask,
            label=result.label,  # "normal" where the model found no lesion
            descriptors=result.descriptors,  # the model's BI-RADS suggestions, for an AI-only SR
        )  # fmt: skip
