"""P(malignant) per frame of the clips read in this session: what the cine strip paints and what "Go to the
most suspicious frame" seeks to.

Headless (no Qt): the window records the model's own score of each frame as it is predicted (on opening,
during playback, or by "Score all frames"), keyed by the clip (its file) and the frame index. Scores belong
to one model: recording a score of another model version forgets the others, so a strip never mixes models.

    scores.record("clip.dcm", 12, 0.81, "v3")
    scores.most_suspicious("clip.dcm")     # (12, 0.81)
    scores.missing("clip.dcm", 120)        # the frame indices not scored yet
"""

from __future__ import annotations


class ClipScores:
    def __init__(self) -> None:
        self.model_version: str | None = None
        self._scores: dict[str, dict[int, float]] = {}  # clip → frame index → P, in the order recorded

    def record(self, clip: str, index: int, p_malignant: float, model_version: str | None) -> None:
        if model_version != self.model_version:  # another model: the earlier scores are not comparable
            self._scores.clear()
            self.model_version = model_version
        frames = self._scores.setdefault(clip, {})
        frames.pop(int(index), None)  # re-recorded: it becomes the latest
        frames[int(index)] = float(p_malignant)

    def of(self, clip: str | None) -> dict[int, float]:
        """A copy of the clip's scores by frame index (empty when none)."""
        return dict(self._scores.get(clip, {})) if clip is not None else {}

    def get(self, clip: str | None, index: int) -> float | None:
        return self._scores.get(clip, {}).get(int(index)) if clip is not None else None

    def last(self, clip: str | None) -> tuple[int, float] | None:
        """(frame index, P) of the clip's most recently scored frame."""
        frames = self._scores.get(clip, {}) if clip is not None else {}
        return next(reversed(frames.items()), None)

    def most_suspicious(self, clip: str | None) -> tuple[int, float] | None:
        """(frame index, P) of the clip's scored frame with the highest P; the earliest frame on a tie."""
        frames = self._scores.get(clip, {}) if clip is not None else {}
        if not frames:
            return None
        index = min(frames, key=lambda i: (-frames[i], i))
        return index, frames[index]

    def missing(self, clip: str, count: int) -> list[int]:
        """The frame indices of a `count`-frame clip that have no score yet, in order."""
        frames = self._scores.get(clip, {})
        return [i for i in range(count) if i not in frames]

    def forget(self, clip: str) -> None:
        self._scores.pop(clip, None)
