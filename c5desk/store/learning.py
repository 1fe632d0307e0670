"""Learning part of the store: what to annotate next, which corrections taught most, training examples.

Read-only over the database and the object files, so a training process can use it while the app saves
(WAL readers never block the writer). The ranking itself is c5desk.store.active's.
"""

from __future__ import annotations

from collections.abc import Iterator

from c5desk.store import active, rows
from c5desk.store.db import Database
from c5desk.store.files import ObjectFiles
from c5desk.store.records import LESION_LABELS, StoreError, Suggestion, TrainingExample, check_label

_EXAMPLES_SQL = (
    "SELECT a.*, f.case_id, f.split, f.grp, f.grey_file, f.mm_per_px_x, f.mm_per_px_y"
    f" FROM ({rows.LATEST_ANNOTATIONS_SQL}) a JOIN frames f ON f.id = a.frame_id"
)


class Learning:
    """The active-learning queue and the training set, as the training loop reads them."""

    def __init__(self, db: Database, files: ObjectFiles) -> None:
        self._db = db
        self._files = files

    def next_most_useful(self, limit: int = 10, model_version: str | None = None) -> list[Suggestion]:
        """Unannotated frames, most useful to annotate first (see c5desk.store.active for the score), ranked
        by the predictions of `model_version` (the model in use) where it scored them."""
        return active.next_most_useful(self._db, model_version, limit)

    def hard_examples(self, limit: int = 100) -> list[tuple[int, float]]:
        """(frame_id, change) of annotated frames where clinicians changed the model's output most."""
        return active.hard_examples(self._db, limit)

    def training_examples(
        self, split: str | None = None, labels: tuple[str, ...] = LESION_LABELS
    ) -> Iterator[TrainingExample]:
        """Latest annotations with the given labels (of one split when given), as model-ready arrays.

        The list of examples is a snapshot taken when iteration starts; files are immutable, so saving
        annotations meanwhile (another process) never disturbs an iteration in progress.
        """
        wanted = tuple(check_label(label) for label in labels)
        if not wanted:
            raise StoreError("training_examples needs at least one label")
        marks = ", ".join("?" for _ in wanted)
        sql = (
            f"{_EXAMPLES_SQL} WHERE a.label IN ({marks})"
            + (" AND f.split = ?" if split is not None else "")
            + " ORDER BY a.frame_id"
        )
        snapshot = self._db.rows(sql, (*wanted, *((split,) if split is not None else ())))
        for row in snapshot:
            scale = None if row["mm_per_px_x"] is None else (row["mm_per_px_x"], row["mm_per_px_y"])
            yield TrainingExample(
                frame_id=row["frame_id"],
                case_id=row["case_id"],
                image=self._files.get(row["grey_file"]),
                mask=self._files.get_mask(row["mask_file"]),
                label=row["label"],
                split=row["split"],
                group=row["grp"],
                mm_per_px=scale,
                revision=row["revision"],
            )
