"""What the Score-folder dialog keeps between runs and asks before closing.

The model: a run uses the window's own loaded engine when it serves the same bundle (no second load, no second
copy in memory); otherwise the model the last run loaded, kept for the window's lifetime (PredictorCache).
Either way loading happens on the job's thread, never on the GUI thread.

Closing: a running job, or a results table, is never thrown away by a stray Esc; see `may_close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.results_table import save_results

if TYPE_CHECKING:
    from c5desk.inference import Predictor

Key = tuple[str, str, str]  # (bundle folder, device, backend)
Q = QtWidgets.QMessageBox
B = QtWidgets.QMessageBox.StandardButton
TITLE = "Score a folder"
HOLDER_NAME = "c5desk-batch-predictors"


def load(bundle: Path, device: str, backend: str) -> Predictor:
    """Build a predictor (slow: 10–25 s for a real bundle). Called on the job's thread only."""
    from c5desk.inference import make_predictor

    return make_predictor(bundle, device=device, backend=backend)


class PredictorCache:
    """The last loaded model, kept so that the next run starts at once.

    A Predictor is not thread-safe (it keeps a frame's features for rescoring), so a run borrows it
    exclusively; a second dialog running meanwhile loads its own, which is not kept.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._key: Key | None = None
        self._predictor: Predictor | None = None
        self._busy = False

    @contextmanager
    def borrow(self, key: Key, load_now: Callable[[], Predictor]) -> Iterator[Predictor]:
        """On the job's thread: the kept predictor for `key`, else one loaded now (and kept)."""
        with self._guard:
            mine, self._busy = not self._busy, True
            kept = self._predictor if mine and self._key == key else None
            if mine and kept is None:
                self._key = self._predictor = None  # the old model's memory goes before the new one loads
        try:
            predictor = kept if kept is not None else load_now()
            if mine and kept is None:
                with self._guard:
                    self._key, self._predictor = key, predictor
            yield predictor
        finally:
            if mine:
                with self._guard:
                    self._busy = False


class _Holder(QtCore.QObject):
    """Ties a PredictorCache to a window: the model is released with the window."""

    def __init__(self, parent: QtCore.QObject) -> None:
        super().__init__(parent)
        self.setObjectName(HOLDER_NAME)
        self.cache = PredictorCache()


def cache_for(owner: QtCore.QObject) -> PredictorCache:
    """The cache of `owner` (the dialog's window, else the dialog itself), made on first use."""
    found = owner.findChild(QtCore.QObject, HOLDER_NAME, QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
    holder = found if isinstance(found, _Holder) else _Holder(owner)
    return holder.cache


def window_predictor(window: QtCore.QObject | None, bundle: Path) -> Predictor | None:
    """A Predictor over the window's loaded engine when it serves `bundle`, else None.

    A Predictor of its own (its per-frame state is not thread-safe); the engine underneath only runs the
    network, which PyTorch and ONNX Runtime both allow from two threads.
    """
    from c5desk.inference import Predictor

    link = getattr(window, "link", None)
    loaded = getattr(link, "predictor", None)
    if not isinstance(loaded, Predictor) or getattr(link, "loading", True) or link.bundle is None:
        return None
    if Path(link.bundle).resolve() != bundle.resolve():
        return None
    return Predictor(loaded.spec, loaded.engine, tta=loaded.tta, threshold=loaded.threshold, note=loaded.note)


# ---- closing -----------------------------------------------------------------------------------------
def may_close(dialog: QtWidgets.QWidget, running: bool, rows: list[dict[str, str]], csv: Path | None) -> bool:
    """Whether the dialog may close now; asks first when that would stop a run or lose a table.

    Results already in the run's CSV are not asked about again: the question says where they are.
    """
    if running:
        where = f" The rows scored so far stay in {csv}; scoring again with it resumes." if csv else ""
        text = f"Scoring is still running. Stop it and close?{where}"
        return Q.question(dialog, TITLE, text, B.Yes | B.No, B.No) == B.Yes
    if not rows:
        return True
    if csv is not None and csv.is_file():
        text = f"The {len(rows)} results are saved in {csv}. Close the results table?"
        return Q.question(dialog, TITLE, text, B.Close | B.Cancel, B.Close) == B.Close
    text = f"The {len(rows)} results shown are not saved in any CSV. Save them as a CSV before closing?"
    answer = Q.question(dialog, TITLE, text, B.Save | B.Discard | B.Cancel, B.Save)
    if answer == B.Save:
        return save_as(dialog, rows)
    return answer == B.Discard


def save_as(dialog: QtWidgets.QWidget, rows: list[dict[str, str]]) -> bool:
    """Ask for a file name and write the rows there (the batch CSV's format); False if not saved."""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(dialog, "Save results as CSV", "", "CSV files (*.csv)")
    if not path:
        return False
    try:
        save_results(Path(path), rows)
    except (OSError, C5Error) as exc:
        Q.warning(dialog, TITLE, f"Could not save {path}: {exc}")
        return False
    return True
