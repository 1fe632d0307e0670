"""Active learning: which frame a clinician should annotate next, and which corrections taught the most.

How much a clinician changed the model's output is measured once, when the annotation is saved, against
the prediction of the model version the clinician corrected (else the frame's newest prediction):
  seg_change = 1 - Dice(model mask, final mask)   (two empty masks agree: 0)
  label_flip = the final lesion label (benign/malignant) differs from the model's label
  change     = max(seg_change, label_flip)        (0: accepted as is, 1: outline or verdict overturned)

next most useful frames (unannotated only, since they are the ones needing a clinician), best first:
  score = uncertainty + case_change
where uncertainty is that of the frame's prediction by the model in use (else its newest), and
case_change the mean change clinicians made on the already annotated frames of the same case (study):
frames of a study where the model was overruled are likely where it is wrong again. Frames never scored
come after all scored ones (their usefulness is unknown), ordered by case_change, then frame id.

Frames with several lesions (store.lesions): the model gives one mask and one verdict per frame, so
  seg_change is measured on the union of the lesion masks (a lesion the model missed, or one it
             outlined that the clinician removed, lowers the Dice like any other outline correction);
  label_flip compares the model's verdict with the frame's verdict: malignant when any lesion is, else
             benign when any is (lesions called unsure do not count; all unsure: not comparable). Saving
             stores the flip that way (Annotations._save); it is recomputed here from the lesions and the
             prediction the clinician corrected too, so the ranking never depends on how a row was saved:
             a benign main lesion beside a malignant one the model called malignant is no overturned
             verdict, a malignant second lesion the model called benign is one.
Hard examples of equal change put frames with more lesions first (more to learn from one frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from c5desk.lesion.overlap import dice as dice  # re-exported: callers and tests use active.dice
from c5desk.store.db import Database
from c5desk.store.records import LESION_LABELS, Suggestion


def correction(
    model_mask: np.ndarray, model_label: str, final_mask: np.ndarray, final_label: str
) -> tuple[float, bool | None]:
    """(seg_change, label_flip) of a final annotation against a model output; flip None: not comparable."""
    seg_change = min(1.0, max(0.0, 1.0 - dice(model_mask, final_mask)))
    flip = final_label != model_label if final_label in LESION_LABELS else None
    return seg_change, flip


def frame_verdict(lesion_labels: Sequence[str]) -> str | None:
    """The verdict of a frame's lesions that a model's one verdict is compared with (see above)."""
    for label in ("malignant", "benign"):
        if label in lesion_labels:
            return label
    return None


# The latest annotation of each frame with its change; label_flip recomputed for several lesions (above).
_LATEST_SQL = """
lesion_counts AS (
    SELECT annotation_id, COUNT(*) AS n, MAX(label = 'malignant') AS malignant,
        MAX(label = 'benign') AS benign
    FROM lesions GROUP BY annotation_id
),
latest_read AS (
    SELECT a.frame_id, a.seg_change, a.label_flip, COALESCE(lc.n, 0) AS lesions,
        CASE WHEN lc.malignant THEN 'malignant' WHEN lc.benign THEN 'benign' END AS verdict,
        CASE WHEN lc.n > 1 THEN COALESCE(
            (SELECT p.label FROM predictions p WHERE p.frame_id = a.frame_id
             AND p.model_version = a.model_version ORDER BY p.id DESC LIMIT 1),
            (SELECT p.label FROM predictions p WHERE p.frame_id = a.frame_id ORDER BY p.id DESC LIMIT 1)
        ) END AS model_label
    FROM annotations a LEFT JOIN lesion_counts lc ON lc.annotation_id = a.id
    WHERE a.revision = (SELECT MAX(b.revision) FROM annotations b WHERE b.frame_id = a.frame_id)
),
latest AS (
    SELECT frame_id, seg_change, lesions, CASE
        WHEN lesions <= 1 THEN label_flip
        WHEN verdict IS NULL OR model_label IS NULL THEN NULL
        ELSE verdict <> model_label END AS label_flip
    FROM latest_read
)"""

_RANK_SQL = f"""
WITH {_LATEST_SQL},
case_change AS (
    SELECT f.case_id, AVG(MAX(COALESCE(l.seg_change, 0), COALESCE(l.label_flip, 0))) AS change
    FROM latest l JOIN frames f ON f.id = l.frame_id
    WHERE l.seg_change IS NOT NULL OR l.label_flip IS NOT NULL
    GROUP BY f.case_id
),
chosen AS (
    SELECT p.frame_id, p.uncertainty, ROW_NUMBER() OVER (
        PARTITION BY p.frame_id ORDER BY (p.model_version IS ?) DESC, p.id DESC) AS rank
    FROM predictions p
)
SELECT f.id, c.uncertainty, COALESCE(cc.change, 0.0) AS case_change
FROM frames f
LEFT JOIN chosen c ON c.frame_id = f.id AND c.rank = 1
LEFT JOIN case_change cc ON cc.case_id = f.case_id
WHERE NOT EXISTS (SELECT 1 FROM annotations a WHERE a.frame_id = f.id)
ORDER BY c.uncertainty IS NULL, COALESCE(c.uncertainty, 0) + COALESCE(cc.change, 0) DESC, f.id
LIMIT ?
"""

_HARD_SQL = f"""
WITH {_LATEST_SQL}
SELECT l.frame_id, MAX(COALESCE(l.seg_change, 0), COALESCE(l.label_flip, 0)) AS change
FROM latest l
WHERE l.seg_change IS NOT NULL OR l.label_flip IS NOT NULL
ORDER BY change DESC, l.lesions DESC, l.frame_id
LIMIT ?
"""


def next_most_useful(db: Database, model_version: str | None, limit: int) -> list[Suggestion]:
    suggestions = []
    for frame_id, uncertainty, case_change in db.rows(_RANK_SQL, (model_version, max(0, int(limit)))):
        reasons = []
        if uncertainty is None:
            reasons.append("not scored by any model yet")
        else:
            reasons.append(f"model uncertainty {uncertainty:.2f}")
        if case_change > 0:
            reasons.append(f"clinicians changed the model's output by {case_change:.0%} on this case")
        score = (uncertainty or 0.0) + case_change
        suggestions.append(Suggestion(int(frame_id), float(score), uncertainty, float(case_change), reasons))
    return suggestions


def hard_examples(db: Database, limit: int) -> list[tuple[int, float]]:
    """Annotated frames by how much the clinician changed the model's output: (frame_id, change)."""
    return [(int(f), float(c)) for f, c in db.rows(_HARD_SQL, (max(0, int(limit)),))]
