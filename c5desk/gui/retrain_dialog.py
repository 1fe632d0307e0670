"""Model → Retrain…: retrain in a separate process with live curves, then keep or discard the new model.

Training never runs in the GUI process (a crash or an out-of-memory there must not cost the clinician's
work); it reports JSON lines (see c5desk.gui.process_runner) that become loss/validation curves, a
progress bar and an ETA. At the end the gate's verdict and old-vs-new metrics are shown, and the user
activates the new version (the model catalogue makes it the active model; the dataset records it with
its parent) or discards its bundle.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from c5desk.errors import BundleError, C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row
from c5desk.gui.process_runner import JsonLinesProcess
from c5desk.gui.retrain_domain import DomainChoice
from c5desk.gui.training_curves import TrainingCurves
from c5desk.gui.verdict_panel import VerdictPanel
from c5desk.model.bundle import read_spec
from c5desk.model.catalog import Catalog
from c5desk.store import Store

CANCEL_EXIT_CODE = 130
CLOSE_WAIT_MS = 3000
# training/retrain_cli.py's --min-corrections default: c5desk never imports training, a test keeps them equal.
# Training uses every saved annotation of the store, whatever its label, and holds some back by case.
MIN_CORRECTIONS = 4
TOO_FEW = re.compile(r"only (\d+) corrected frame\(s\); retraining needs at least (\d+)")
JARGON = re.compile(r"usage:|Traceback|python -m|(^|\s)--[a-z]", re.IGNORECASE)


def too_few_text(have: int, need: int) -> str:
    return (
        f"Retraining needs at least {need} corrected frames with a lesion label; this dataset has {have}. "
        f"Correct {need - have} more frame{'s' if need - have != 1 else ''} and save them."
    )


ONE_CASE = (
    "Retraining keeps some corrected frames aside to check the new model, so they must come from at least "
    "two cases (patients); all of this dataset's come from one. Correct and save frames of another case."
)


def retrain_blocker(store_folder: Path, minimum: int = MIN_CORRECTIONS) -> str | None:
    """Why `training retrain` would refuse this dataset (checked before starting), in the app's words."""
    if not store_folder.is_dir():
        return f"There is no dataset at {store_folder} yet: correct frames and save them first."
    try:
        with Store.open(store_folder) as store:
            annotated = {a.frame_id for a in store.annotations()}
            cases = {r.group or f"case{r.case_id}" for r in store.frames() if r.id in annotated}
    except C5Error as exc:
        return f"The dataset cannot be read: {exc}"
    if len(annotated) < minimum:
        return too_few_text(len(annotated), minimum)
    return ONE_CASE if len(cases) < 2 else None


def plain_failure(message: str) -> str:
    """The training process's error as a sentence for the user: its command-line wording translated."""
    too_few = TOO_FEW.search(message)
    if too_few:
        return too_few_text(int(too_few.group(1)), int(too_few.group(2)))
    if "single patient/case" in message:
        return ONE_CASE
    if "no replay sample" in message:
        return (
            "This model cannot be retrained here: it carries no sample of its original training data, so "
            "retraining could make it forget unnoticed. Retrain from the model that came with the app."
        )
    if JARGON.search(message):
        return "The training program could not run with the settings it was given; see Details for the error."
    return message.strip().rstrip(".") + "."


def spec_domains(training: dict[str, Any]) -> list[str]:
    """What a bundle is for (training.domains.base_domains' rule; c5desk never imports training)."""
    domains = training.get("domains")
    if isinstance(domains, list) and domains and all(isinstance(d, str) and d for d in domains):
        return list(domains)
    data = training.get("data") if isinstance(training.get("data"), dict) else {}
    return [v for v in (training.get("domain"), data.get("folder")) if isinstance(v, str) and v][:1] or ["—"]


class RetrainDialog(QtWidgets.QDialog):
    """`command` replaces the training command (tests); "{cancel_file}" in it becomes the cancel file."""

    activated = QtCore.Signal(str, str)  # version, bundle folder

    def __init__(
        self,
        parent: QtWidgets.QWidget | None,
        store_folder: Path,
        base_bundle: Path,
        catalog: Catalog,
        command: list[str] | None = None,
        *,
        grace_s: float = 10.0,
    ) -> None:
        super().__init__(parent)
        self.store_folder, self.base_bundle = Path(store_folder), Path(base_bundle)
        self.catalog = catalog
        self.models_dir = catalog.user_dir  # where `training retrain` publishes: the catalogue finds it there
        self._command = list(command) if command is not None else None
        self.runner = JsonLinesProcess(self, grace_s=grace_s)
        self.runner.event.connect(self._on_event)
        self.runner.text.connect(self._append_details)
        self.runner.finished.connect(self._on_finished)
        self._temp_dir: Path | None = None
        self.candidate: tuple[str, Path] | None = None
        self.setWindowTitle("Retrain the model")
        self.resize(900, 700)
        self._blocker: str | None = None
        self._build()
        self._reset_run()
        self.check_data()

    # ---- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        header = QtWidgets.QLabel(self._header_text())
        header.setWordWrap(True)
        layout.addWidget(header)
        self.domain_choice = DomainChoice(self._base_domains())
        layout.addWidget(self.domain_choice)
        self.curves = TrainingCurves()
        layout.addWidget(self.curves, stretch=2)
        self.status = StatusLine()
        layout.addWidget(self.status)
        self.verdict_panel = VerdictPanel()
        layout.addWidget(self.verdict_panel)
        self.details_toggle = QtWidgets.QToolButton(text="Details", checkable=True)
        self.details = QtWidgets.QPlainTextEdit(readOnly=True)
        self.details.setMaximumBlockCount(5000)
        self.details.setVisible(False)
        self.details_toggle.toggled.connect(self.details.setVisible)
        layout.addWidget(self.details_toggle)
        layout.addWidget(self.details, stretch=1)
        layout.addLayout(self._build_buttons())

    def _build_buttons(self) -> QtWidgets.QHBoxLayout:
        self.start_button = QtWidgets.QPushButton("Start retraining")
        self.cancel_button = QtWidgets.QPushButton("Cancel training")
        self.activate_button = QtWidgets.QPushButton("Activate new version")
        self.discard_button = QtWidgets.QPushButton("Discard new version")
        self.close_button = QtWidgets.QPushButton("Close")
        return button_row(
            [
                (self.start_button, self.start),
                (self.cancel_button, self.cancel),
                (self.activate_button, self.activate),
                (self.discard_button, self.discard),
                (self.close_button, self.reject),
            ]
        )

    def _header_text(self) -> str:
        try:
            base = f"<b>{read_spec(self.base_bundle).version}</b>"
        except BundleError as exc:
            base = f"unreadable ({exc})"
        return (
            f"Current model: {base}<br>Training data: {self.store_folder}<br>"
            f"New versions are saved in: {self.models_dir}"
        )

    def _base_domains(self) -> list[str]:
        try:
            return spec_domains(read_spec(self.base_bundle).training)
        except BundleError:
            return ["—"]

    # ---- running ---------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.runner.is_running()

    def build_command(self, cancel_file: Path) -> list[str]:
        if self._command is None:
            # A frozen app is its own `c5desk` command; in a Python install run the training package.
            launcher = (
                [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "training"]
            )
            return [
                *launcher, "retrain",
                "--base", str(self.base_bundle), "--data", str(self.store_folder),
                "--out", str(self.models_dir), "--progress", "json", "--cancel-file", str(cancel_file),
                *(["--domain", domain] if (domain := self.domain_choice.domain()) else []),
            ]  # fmt: skip
        return [arg.replace("{cancel_file}", str(cancel_file)) for arg in self._command]

    def check_data(self) -> bool:
        """Whether the dataset has what retraining needs; if not, Start is off and the status says why."""
        if self.is_running():
            return True
        was_blocked, self._blocker = self._blocker is not None, retrain_blocker(self.store_folder)
        if self._blocker is not None:
            self.status.show_message(self._blocker, "warn")
        elif was_blocked:
            self.status.show_message("The dataset has enough corrected frames; retraining can start.", "ok")
        self.start_button.setToolTip(self._blocker or "")
        self._update_buttons()
        return self._blocker is None

    def changeEvent(self, event: QtCore.QEvent) -> None:
        # Coming back to the dialog after saving more corrections in the window: check again.
        if event.type() == QtCore.QEvent.Type.ActivationChange and self.isActiveWindow():
            self.check_data()
        super().changeEvent(event)

    def start(self) -> None:
        if self.is_running() or not self.check_data():
            return
        if self.domain_choice.domain() == "":
            self.status.show_message(
                "Name the new domain (e.g. thyroid) or choose to improve this model.", "warn"
            )
            return
        self._reset_run()
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self._temp_dir = Path(tempfile.mkdtemp(prefix="c5desk-retrain-"))
        except OSError as exc:
            self.status.show_message(f"Cannot prepare the training run: {exc}", "error")
            return
        self.runner.start(self.build_command(self._temp_dir / "cancel"), self._temp_dir / "cancel")
        if self.is_running():  # a program that cannot start may already have reported so
            self.status.show_message("Retraining in a separate process; the app stays usable meanwhile.")
        self._update_buttons()

    def cancel(self) -> None:
        if self.is_running():
            self.runner.cancel()
            self.status.show_message("Cancelling: the training stops after its current step…", "warn")
            self._update_buttons()

    def _reset_run(self) -> None:
        self._cleanup_temp()
        self.candidate, self.verdict = None, None
        self._error: str | None = None
        self._cancelled = self._resumable = False
        self.curves.reset()
        self.verdict_panel.clear()
        self.details.clear()
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.domain_choice.setEnabled(not running)
        self.start_button.setEnabled(not running and self._blocker is None)
        self.cancel_button.setEnabled(running and not self.runner.cancel_requested)
        ready = self.candidate is not None and not running
        self.activate_button.setEnabled(ready and _publishable(self.verdict))
        self.discard_button.setEnabled(ready)

    # ---- events from the training process ---------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        handler = {
            "start": self.curves.on_start,
            "step": self.curves.on_step,
            "epoch": self.curves.on_epoch,
            "verdict": self._on_verdict,
            "cancelled": self._on_cancelled,
            "error": self._on_error,
        }.get(event["event"])
        if handler is not None:
            handler(event)

    def _on_verdict(self, event: dict[str, Any]) -> None:
        self.verdict = event
        self.verdict_panel.show_verdict(event)

    def _on_cancelled(self, event: dict[str, Any]) -> None:
        self._cancelled = True
        self._resumable = bool(event.get("work"))  # the last finished epoch is kept for the next start

    def _on_error(self, event: dict[str, Any]) -> None:
        self._error = str(event.get("message") or "the training process reported an error")

    def _append_details(self, text: str) -> None:
        self.details.moveCursor(self.details.textCursor().MoveOperation.End)
        self.details.insertPlainText(text)

    def _on_finished(self, code: int, crashed: bool) -> None:
        self._cleanup_temp()
        ok = code == 0 and not crashed
        self.curves.finish(complete=ok and self._error is None and self.verdict is not None)
        if self._error is not None:
            self._fail(f"Retraining failed: {plain_failure(self._error)}")
        elif self._cancelled or code == CANCEL_EXIT_CODE or (self.runner.cancel_requested and not ok):
            resume = " Starting again resumes from the last finished epoch." if self._resumable else ""
            self.status.show_message(f"Retraining cancelled; the active model is unchanged.{resume}", "warn")
        elif not ok:
            self._fail(f"The training process stopped unexpectedly (exit code {code}); see Details.")
        elif self.verdict is None:
            self._fail("The training process ended without a verdict; nothing was changed.")
        else:
            self._offer_candidate(self.verdict)
        self._update_buttons()

    def _fail(self, message: str) -> None:
        self.status.show_message(message, "error")
        self.details_toggle.setChecked(True)

    def _offer_candidate(self, verdict: dict[str, Any]) -> None:
        version, bundle = verdict.get("version"), verdict.get("bundle")
        accepted = verdict.get("accepted") is True
        if isinstance(version, str) and version and isinstance(bundle, str) and bundle:
            folder = Path(bundle) if Path(bundle).is_absolute() else self.models_dir / bundle
            self.candidate = (version, folder)
            if accepted:
                advice = "Activate it, or discard it."
            elif _publishable(verdict):
                advice = "It failed the validation gate (overridden): activate it only if you know why."
            else:
                advice = "It cannot be activated; discard it."
            self.status.show_message(
                f"New version {version} is ready. {advice}", "ok" if accepted else "warn"
            )
        else:
            self.status.show_message("No new version was saved; the active model is unchanged.", "warn")

    # ---- the user's decision ---------------------------------------------------------------------------
    def activate(self) -> None:
        if self.candidate is None or self.is_running():
            return
        version, bundle = self.candidate
        if not (self.verdict or {}).get("accepted") and not self._confirm_override(version):
            return
        try:
            spec = read_spec(bundle)
            if spec.version != version:
                raise BundleError(f"{bundle.name}: the bundle says version {spec.version!r}, not {version!r}")
            if read_spec(self.base_bundle).version not in self.catalog.scan().entries:
                self.catalog.register(self.base_bundle)  # its parent: what a rollback returns to
            entry = self.catalog.register(bundle)
            with Store.open(self.store_folder) as store:
                self.catalog.activate(entry.version, store)
        except (C5Error, OSError) as exc:
            self.status.show_message(f"Cannot activate {version}: {exc}", "error")
            return
        self.candidate = None
        self.status.show_message(f"Version {version} is now active. Roll back from Model → Versions…", "ok")
        self._update_buttons()
        self.activated.emit(version, str(entry.folder))

    def _confirm_override(self, version: str) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self,
            "Gate overridden",
            f"{version} did not pass the validation gate; it was published with the gate overridden.\n"
            "Activate it anyway?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No,
        )
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def discard(self) -> None:
        if self.candidate is None or self.is_running():
            return
        version, bundle = self.candidate
        try:
            installed = self.catalog.scan().entries.get(version)
            if installed is not None and installed.folder.resolve() == bundle.resolve():
                note = self.catalog.discard(version)
            else:
                note = f"{version} was not installed; its folder {bundle} was left in place"
        except (C5Error, OSError) as exc:
            self.status.show_message(f"Cannot discard {version}: {exc}", "error")
            return
        self.candidate = None
        self.status.show_message(f"{note}.", "info")
        self._update_buttons()

    # ---- closing ---------------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        if self.is_running():  # closing stops training: a run nobody watches is never wanted
            self.runner.stop(wait_ms=CLOSE_WAIT_MS)
        self._cleanup_temp()
        super().done(result)

    def _cleanup_temp(self) -> None:
        if getattr(self, "_temp_dir", None) is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _publishable(verdict: dict[str, Any] | None) -> bool:
    """Accepted by the gate, or published with the gate overridden (activated only after a question)."""
    return bool(verdict) and (verdict.get("accepted") is True or verdict.get("overridden") is True)
