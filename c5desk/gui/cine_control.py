"""The cine part of the main window: play/stop, scoring the shown frame during playback, Score all frames,
the per-frame P(malignant) strip and "go to the most suspicious frame". A mixin of MainWindow (it uses the
window's session, reading controller, model link, clip scorer and panels), kept apart to keep the window's
module readable."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from c5desk.reading.document import Document


class CineMixin:
    @property
    def clip(self) -> str | None:
        """The open file's key in the clip scores (None for a dataset frame)."""
        return str(self.session.path) if self.session.path is not None else None

    def toggle_play(self) -> None:
        if self.cine.playing:
            self._stop_cine()
        elif self.session.frame_count <= 1:
            self.show_status("Nothing to play: this file has a single frame")
        elif self.reading.leave_current():
            self.reading.playing = True
            self.cine.play(self.session.frame.meta.get("frame_time_ms") if self.session.frame else None)
            self._score_shown()

    def _stop_cine(self) -> None:
        was_playing = self.reading.playing
        self.cine.stop()
        self.reading.playing = False
        doc = self.document
        if was_playing and doc is not None:  # the frame stopped at gets the model (unless it has it)
            self.link.rescore(doc)
            if doc.prediction is None or doc.prediction.model_version != self.link.version:
                self.link.predict(doc)

    def _cine_tick(self) -> None:
        frame = self.session.frame
        if frame is None or self.session.path is None:
            self._stop_cine()
            return
        self.reading.go_to((frame.index + 1) % self.session.frame_count)
        self._score_shown()

    def _score_shown(self) -> None:
        """During playback the shown frame is predicted whenever the model is free (frames shown while it
        is busy are skipped: the panel says "scoring…" with the last score)."""
        if self.reading.playing and self.document is not None and self.clip is not None:
            self.scorer.score_shown(self.document, self.clip)

    def _cine_scored(self, document: Document) -> None:
        if document is self.document:
            self._predicted(document)
        else:
            self._show_strip()
            self._refresh_panels()  # "scoring…" now quotes this newer score

    def score_all_frames(self) -> None:
        """Score every frame of the clip on the model's worker; the same command again cancels."""
        if self.scorer.running:
            self.scorer.cancel()
            return
        if self.session.path is None or self.session.frame_count <= 1:
            self.show_status("Score all frames works on a clip: open a multi-frame DICOM or video")
            return
        problem = self.scorer.score_all(self.session.path, self.session.frame_count)
        if problem:
            self.show_status(problem)

    def _clip_progress(self, done: int, total: int) -> None:
        self.actions["score_all"].setText(f"Cancel scoring ({done}/{total})")
        self._show_strip()

    def _clip_scoring_ended(self, summary: str) -> None:
        self.actions["score_all"].setText("Score all frames")
        self.show_status(summary)
        self._show_strip()

    def go_to_most_suspicious(self) -> bool:
        """Seek to the clip's scored frame with the highest P(malignant)."""
        best = self.scores.most_suspicious(self.clip)
        if best is None:
            self.show_status("No frame of this clip is scored yet: Score all frames, or play it")
            return False
        index, p = best
        moved = index == self.session.frame.index or self.reading.go_to(index)
        if moved:
            self.show_status(f"Frame {index + 1}: the most suspicious scored frame (P(malignant) {p:.2f})")
        return moved

    def _show_strip(self) -> None:
        frame = self.session.frame
        self.cine.strip.set_data(
            self.scores.of(self.clip), self.session.frame_count, frame.index if frame else -1
        )

    def _explain_missing_score(self, doc: Document) -> None:
        """A frame not scored yet says "scoring…" (with the clip's last score), never "no model" while a
        model is loaded: a new frame has no prediction until the model, busy or debounced, gets to it."""
        score = doc.score
        if score.p_malignant is not None or not (doc.prediction is None or score.pending):
            return
        if self.link.loading:
            self.score_panel.verdict.setText("P(malignant): waiting for the model to load…")
            return
        if self.link.predictor is None:
            return  # truly no model: the panel says so
        known = self.scores.get(self.clip, doc.frame.index)
        if known is not None:  # scored before (playback, Score all frames): that is this frame's score
            self.score_panel.bar.set_value(known, None, False)
            self.score_panel.verdict.setText(f"P(malignant) {known:.2f} (this frame; outline when stopped)")
            return
        last = self.scores.last(self.clip)
        text = "P(malignant): scoring…"
        if last is not None:
            self.score_panel.bar.set_value(last[1], None, True)
            text += f" (last {last[1]:.2f}, frame {last[0] + 1})"
        self.score_panel.verdict.setText(text)
