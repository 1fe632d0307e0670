"""Prompted and lesion-free evaluation (`evaluate --prompts none|box|clicks`), through the app's Predictor.

    none    auc_reference_mask: P(malignant) re-scored on the REFERENCE mask (Predictor.rescore), i.e. the
            score a clinician sees after correcting the outline (and the BUS-BRA benchmark's protocol, which
            classifies reference-mask crops), over benign/malignant rows; false_lesion_rate: the share of
            lesion-free rows (label normal, empty reference) given any outline.
    box     box_dice, box_iou: Predictor.predict(frame, prompt=Prompt(box=...)) with the reference mask's
            bounding box, each side moved by up to BOX_JITTER of the box's size (seeded per row, so runs
            repeat exactly).
    clicks  the RITM protocol: the first click at the centre of the reference lesion (the deepest point of
            the largest error region of an empty mask); each next click at the deepest point of the larger
            error region of the current mask — positive in a missed part, negative in a false one — refined
            with Predictor.refine from the previous mask. dice_at_k for k = 1..5; noc85 / noc90: the mean
            number of clicks to reach Dice 0.85 / 0.90, counted as MAX_CLICKS when never reached.
Rows without a reference lesion take no part in box and click metrics. `PromptEvaluation` watches the rows
as training.evaluate runs them (its `observe` hook), so the automatic prediction is made once per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from c5desk.inference import Prediction, Predictor
from c5desk.inference.prompt import Prompt
from c5desk.store.labelled import LabelledRow
from training import metrics as M

MODES = ("none", "box", "clicks")
BOX_JITTER = 0.1  # each side of the reference box moves by up to this share of the box's width or height
MAX_CLICKS = 20  # RITM's cap; a frame never reaching the target counts as this many clicks
REPORTED_CLICKS = (1, 2, 3, 4, 5)
CLASS_OF = {"benign": 0, "malignant": 1}


@dataclass
class PromptEvaluation:
    """Collects one mode's per-row figures while the rows are evaluated; summary() gives the JSON keys."""

    mode: str
    seed: int = 0
    max_clicks: int = MAX_CLICKS
    reference_scores: list[tuple[float, int]] = field(default_factory=list)  # (p on reference mask, 0/1)
    lesion_free: list[bool] = field(default_factory=list)  # outlined something?
    box: list[tuple[float, float]] = field(default_factory=list)  # (dice, iou)
    clicks: list[list[float]] = field(default_factory=list)  # Dice after click 1, 2, ... per lesion row

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"prompts must be one of {', '.join(MODES)}, not {self.mode!r}")

    def observe(self, predictor: Predictor, row: LabelledRow, prediction: Prediction) -> None:
        """One evaluated row: its decoded frame and reference, and the automatic prediction."""
        lesion = bool(row.mask.any())
        if self.mode == "none":
            if not lesion and row.label == "normal":
                self.lesion_free.append(bool(prediction.mask.any()))
            elif lesion and row.label in CLASS_OF:
                p = predictor.rescore(row.frame, row.mask)[0]
                self.reference_scores.append((float(p), CLASS_OF[row.label]))
        elif lesion and self.mode == "box":
            box = jittered_box(row.mask, np.random.default_rng([self.seed, row.line]))
            mask = predictor.refine(row.frame, Prompt(box=box), base=prediction).mask
            self.box.append((M.dice(mask, row.mask), M.iou(mask, row.mask)))
        elif lesion:
            self.clicks.append(click_dices(lambda p: predictor.refine(row.frame, p, base=prediction).mask,
                                           row.mask, self.max_clicks))  # fmt: skip

    def summary(self) -> dict[str, object]:
        if self.mode == "none":
            return self._none_summary()
        if self.mode == "box":
            values = np.array(self.box, float).reshape(-1, 2)
            return {"prompts": "box", "box_jitter": BOX_JITTER, "n_prompted": len(values),
                    "box_dice": M.nanmean(values[:, 0]), "box_iou": M.nanmean(values[:, 1])}  # fmt: skip
        out: dict[str, object] = {
            "prompts": "clicks",
            "n_prompted": len(self.clicks),
            "max_clicks": self.max_clicks,
        }
        for k in REPORTED_CLICKS:
            out[f"dice_at_{k}"] = M.nanmean(np.array([d[min(k, len(d)) - 1] for d in self.clicks], float))
        for target in (0.85, 0.90):
            counts = [clicks_to_reach(d, target, self.max_clicks) for d in self.clicks]
            out[f"noc{round(target * 100)}"] = M.nanmean(np.array(counts, float))
        return out

    def _none_summary(self) -> dict[str, object]:
        scores = np.array([s for s, _ in self.reference_scores], float)
        labels = np.array([y for _, y in self.reference_scores], int)
        auc = M.roc_auc(scores, labels) if len(labels) else float("nan")
        outlined = np.array(self.lesion_free, float)
        return {"prompts": "none", "auc_reference_mask": auc, "n_reference_mask": len(labels),
                "false_lesion_rate": M.nanmean(outlined), "n_lesion_free": len(outlined)}  # fmt: skip


def jittered_box(mask: np.ndarray, rng: np.random.Generator, jitter: float = BOX_JITTER) -> tuple[int, ...]:
    """The mask's bounding box (x0, y0, x1, y1, end-exclusive), each side moved by up to `jitter` of the
    box's size, clipped to the frame and never empty."""
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    dx, dy = jitter * (x1 - x0), jitter * (y1 - y0)
    moves = rng.uniform(-1.0, 1.0, 4) * np.array([dx, dy, dx, dy])
    height, width = mask.shape
    bx0 = int(np.clip(round(x0 + moves[0]), 0, width - 1))
    by0 = int(np.clip(round(y0 + moves[1]), 0, height - 1))
    bx1 = int(np.clip(round(x1 + moves[2]), bx0 + 1, width))
    by1 = int(np.clip(round(y1 + moves[3]), by0 + 1, height))
    return bx0, by0, bx1, by1


def next_click(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, bool] | None:
    """(x, y, positive) at the deepest point of the larger error region (RITM); None when there is none.

    Depth is the distance to the nearest pixel outside the error region, the frame's border counting as
    outside, so the click lands in the middle of what is most wrong."""
    missed, extra = truth & ~pred, pred & ~truth
    best: tuple[float, int, int, bool] | None = None
    for region, positive in ((missed, True), (extra, False)):
        if not region.any():
            continue
        depth = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        if best is None or depth[y, x] > best[0]:
            best = (float(depth[y, x]), int(x), int(y), positive)
    return None if best is None else best[1:]  # type: ignore[return-value]


def click_dices(
    segment: Callable[[Prompt], np.ndarray], truth: np.ndarray, max_clicks: int = MAX_CLICKS
) -> list[float]:
    """Dice after each simulated click. Clicking stops once nothing reported can change: Dice 0.90 reached
    and the reported clicks made (the figures only need the first click reaching each target)."""
    truth = np.asarray(truth, bool)
    mask = np.zeros(truth.shape, bool)
    prompt: Prompt | None = None
    dices: list[float] = []
    while len(dices) < max_clicks:
        if len(dices) >= REPORTED_CLICKS[-1] and max(dices) >= 0.90:
            break
        click = next_click(mask, truth)
        if click is None:  # perfect: every later click would leave it so
            dices.append(1.0)
            continue
        x, y, positive = click
        if prompt is None:
            prompt = Prompt(positive=((x, y),)) if positive else Prompt(negative=((x, y),))
        else:
            prompt = prompt.with_click(x, y, positive, previous=mask)
        mask = np.asarray(segment(prompt), bool)
        dices.append(M.dice(mask, truth))
    return dices


def clicks_to_reach(dices: list[float], target: float, cap: int = MAX_CLICKS) -> int:
    """The first click count whose Dice reaches `target`; `cap` when none does."""
    return next((k for k, d in enumerate(dices, start=1) if d >= target), cap)
