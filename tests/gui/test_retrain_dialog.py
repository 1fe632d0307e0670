"""Retrain dialog against a fake training process that speaks the JSON-lines protocol.

The fake (written to tmp_path) emits realistic runs with small sleeps: success, failure, cancel (polite
and stubborn), a crash mid-line and garbage lines. The dialog must plot, judge, activate in a real store,
and never leave a button greyed.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from c5desk.errors import C5Error
from c5desk.gui.app import create_application
from c5desk.gui.dialog_parts import format_eta
from c5desk.gui.process_runner import parse_json_line
from c5desk.gui.retrain_dialog import MIN_CORRECTIONS, RetrainDialog, plain_failure, retrain_blocker
from c5desk.io.frame import Frame
from c5desk.model.bundle import make_random_bundle
from c5desk.model.catalog import Catalog
from c5desk.store import Store

FAKE_TRAINER = textwrap.dedent(
    """
    import json, os, sys, time
    mode, cancel_file, bundle = sys.argv[1], sys.argv[2], sys.argv[3]

    def emit(**event):
        print(json.dumps(event), flush=True)
        time.sleep(0.01)

    emit(event="start", epochs=2, total_steps=6)
    print("loading data... (not JSON)", flush=True)
    print("{broken json", flush=True)
    print("[1, 2, 3]", flush=True)
    print(json.dumps({"event": "step", "epoch": 1, "step": "two", "loss": "NaN?"}), flush=True)
    if mode == "fail":
        emit(event="step", epoch=1, step=1, total_steps=6, loss=0.9, eta_s=5.0)
        print("Traceback: CUDA out of memory", file=sys.stderr, flush=True)
        emit(event="error", message="not enough annotated frames to retrain (3 < 20)")
        sys.exit(1)
    if mode in ("cancel", "stubborn"):
        for step in range(1, 100000):
            if mode == "cancel" and os.path.exists(cancel_file):
                emit(event="cancelled", work="/tmp/retrain-work")
                sys.exit(130)
            emit(event="step", epoch=1, step=step, total_steps=100000, loss=1.0 / step, eta_s=999.0)
            time.sleep(0.03)
    if mode == "crash":
        emit(event="step", epoch=1, step=1, total_steps=6, loss=0.9, eta_s=5.0)
        sys.stdout.write('{"event": "step", "epo')
        sys.stdout.flush()
        os._exit(3)
    for epoch in (1, 2):
        for k in (1, 2, 3):
            step = (epoch - 1) * 3 + k
            emit(event="step", epoch=epoch, step=step, total_steps=6, loss=1.0 / step, eta_s=6.0 - step)
        auc = None if epoch == 1 else 0.81
        emit(event="epoch", epoch=epoch, loss=0.5 / epoch, val={"dice": 0.6 + 0.1 * epoch, "auc": auc},
             eta_s=3.0 * (2 - epoch))
    accepted = mode == "ok"
    emit(event="verdict", accepted=accepted,
         reasons=["corrections Dice +0.050", "replay Dice -0.004 (within 0.010)"] if accepted
         else ["replay Dice fell by 0.080 (more than 0.010)"],
         base={"corrections": {"dice": 0.70, "auc": 0.80}, "replay": {"dice": 0.82}},
         candidate={"corrections": {"dice": 0.75, "auc": 0.83}, "replay": {"dice": 0.816}},
         version="random-cand", bundle=bundle)
    """
)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    make_random_bundle(models / "base", input_size=32, version="random-base")
    make_random_bundle(models / "cand", input_size=32, version="random-cand", parent="random-base", seed=1)
    return models


@pytest.fixture
def setup(tmp_path: Path, bundles: Path, qtbot):
    create_application()
    models = tmp_path / "models"
    shutil.copytree(bundles, models)
    save_corrections(tmp_path / "store", MIN_CORRECTIONS, cases=2)  # just enough to start
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER, encoding="utf-8")

    catalog = Catalog(models, tmp_path / "shipped")

    def make(mode: str, grace_s: float = 5.0, command: list[str] | None = None) -> RetrainDialog:
        command = command or [sys.executable, str(script), mode, "{cancel_file}", str(models / "cand")]
        dialog = RetrainDialog(None, tmp_path / "store", models / "base", catalog, command, grace_s=grace_s)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    make.catalog = catalog
    return make, tmp_path, models


def save_corrections(
    folder: Path, count: int, cases: int, labels: tuple[str, ...] = ("benign",), first_case: int = 0
) -> None:
    """`count` more annotated frames in the store at `folder` (created if needed), spread over `cases`."""
    with Store.open(folder, create=True) as store:
        start = len(store.frames())
        for i in range(start, start + count):
            grey = np.random.default_rng(i).integers(0, 255, (24, 32), dtype=np.uint8)
            frame = Frame(grey, grey.copy(), 0, None, None, f"retrain-test{i:06d}", {"format": "synthetic"})
            frame_id = store.add_frame(frame, case_key=f"case{first_case + i % cases}")
            label = labels[i % len(labels)]
            mask = np.zeros(grey.shape, bool)
            mask[4:12, 6:20] = label != "normal"  # a normal frame's mask is empty
            store.save_annotation(frame_id, mask, label)


def run_to_end(dialog: RetrainDialog, qtbot, timeout_ms: int = 30000) -> None:
    dialog.start_button.click()
    assert dialog.is_running() and not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=timeout_ms)


def assert_idle_buttons(dialog: RetrainDialog) -> None:
    assert dialog.start_button.isEnabled() and dialog.close_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()


def test_successful_run_plots_curves_and_activates_the_new_version(setup, qtbot) -> None:
    make, tmp_path, models = setup
    dialog = make("ok")
    run_to_end(dialog, qtbot)
    assert len(dialog.curves.series["step_loss"][0]) == 6  # the malformed step was skipped, not plotted
    assert dialog.curves.series["epoch_loss"] == ([3.0, 6.0], [0.5, 0.25])
    assert dialog.curves.series["val_dice"][0] == [1.0, 2.0]
    assert dialog.curves.series["val_auc"] == ([2.0], [0.81])  # a null AUC is no point
    assert dialog.curves.progress.value() == dialog.curves.progress.maximum() == 6
    assert dialog.verdict_panel.isVisible() and "Accepted" in dialog.verdict_panel.verdict_line.text()
    rows = {row[0]: row for row in dialog.verdict_panel.cell_texts()}
    assert rows["corrections.dice"] == ["corrections.dice", "0.7", "0.75", "+0.0500"]
    assert "replay Dice" in dialog.verdict_panel.reasons.text()
    assert "loading data" in dialog.details.toPlainText() and "{broken json" in dialog.details.toPlainText()
    assert_idle_buttons(dialog)
    assert dialog.activate_button.isEnabled() and dialog.discard_button.isEnabled()

    with qtbot.waitSignal(dialog.activated, timeout=5000) as signal:
        dialog.activate_button.click()
    assert signal.args == ["random-cand", str(models / "cand")]
    assert make.catalog.active_version() == "random-cand"  # what the app and the CLI load from now on
    with Store.open(tmp_path / "store") as store:
        recorded = {v.id: v for v in store.model_versions()}
        assert (
            set(recorded) == {"random-base", "random-cand"}
            and recorded["random-cand"].parent == "random-base"
        )
        assert store.audit_log(action="activate_model")[-1].after == {"active": "random-cand"}
    assert not dialog.activate_button.isEnabled() and dialog.start_button.isEnabled()
    assert dialog.status.kind == "ok"


def test_failure_shows_the_message_and_reenables_buttons(setup, qtbot) -> None:
    make, _, _ = setup
    dialog = make("fail")
    run_to_end(dialog, qtbot)
    assert dialog.status.kind == "error"
    assert "not enough annotated frames" in dialog.status.text()
    assert "CUDA out of memory" in dialog.details.toPlainText() and dialog.details.isVisible()
    assert_idle_buttons(dialog)
    assert not dialog.activate_button.isEnabled() and not dialog.discard_button.isEnabled()
    run_to_end(dialog, qtbot)  # and it can run again
    assert dialog.status.kind == "error"


def test_cancel_writes_the_cancel_file_and_the_run_stops(setup, qtbot) -> None:
    make, tmp_path, _ = setup
    dialog = make("cancel")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(dialog.curves.series["step_loss"][0]) >= 3, timeout=20000)
    assert dialog.curves.eta_label.text() == "ETA 16 min 39 s"
    dialog.cancel_button.click()
    assert not dialog.cancel_button.isEnabled()  # one cancel is enough
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=20000)
    assert "cancelled" in dialog.status.text()
    assert "SIGINT" not in dialog.details.toPlainText()  # it stopped politely, through the cancel file
    assert "resumes from the last finished epoch" in dialog.status.text()
    assert_idle_buttons(dialog)
    with Store.open(tmp_path / "store") as store:
        assert store.model_versions() == []
    assert make.catalog.active_version() is None


def test_a_process_that_ignores_the_cancel_file_is_interrupted(setup, qtbot) -> None:
    make, _, _ = setup
    dialog = make("stubborn", grace_s=0.3)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(dialog.curves.series["step_loss"][0]) >= 2, timeout=20000)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=20000)
    assert "cancelled" in dialog.status.text() and "SIGINT" in dialog.details.toPlainText()
    assert_idle_buttons(dialog)


def test_a_crash_mid_line_is_reported(setup, qtbot) -> None:
    make, _, _ = setup
    dialog = make("crash")
    run_to_end(dialog, qtbot)
    assert dialog.status.kind == "error" and "exit code 3" in dialog.status.text()
    assert '{"event": "step", "epo' in dialog.details.toPlainText()  # the half line, as text
    assert_idle_buttons(dialog)


def test_a_rejected_version_cannot_be_activated_but_can_be_discarded(setup, qtbot) -> None:
    make, _, models = setup
    dialog = make("reject")
    run_to_end(dialog, qtbot)
    assert "Rejected" in dialog.verdict_panel.verdict_line.text()
    assert not dialog.activate_button.isEnabled() and dialog.discard_button.isEnabled()
    dialog.discard_button.click()
    assert not (models / "cand").exists() and (models / "base").exists()
    assert not dialog.discard_button.isEnabled()
    assert_idle_buttons(dialog)
    assert make.catalog.active_version() is None and "random-cand" not in make.catalog.scan().entries


def test_a_program_that_cannot_start_gives_a_message(setup, qtbot, tmp_path: Path) -> None:
    make, _, _ = setup
    dialog = make("ok", command=[str(tmp_path / "no-such-program")])
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10000)
    assert dialog.status.kind == "error"
    assert "cannot start" in dialog.details.toPlainText()
    assert_idle_buttons(dialog)


def test_closing_stops_a_running_training(setup, qtbot) -> None:
    make, _, _ = setup
    dialog = make("cancel")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(dialog.curves.series["step_loss"][0]) >= 1, timeout=20000)
    dialog.reject()
    assert not dialog.is_running()


def test_default_command_runs_the_training_package(setup) -> None:
    _, tmp_path, models = setup
    dialog = RetrainDialog(None, tmp_path / "store", models / "base", Catalog(models))
    command = dialog.build_command(tmp_path / "cancel")
    assert command[:4] == [sys.executable, "-m", "training", "retrain"]
    assert command[command.index("--cancel-file") + 1] == str(tmp_path / "cancel")
    assert command[command.index("--progress") + 1] == "json"
    dialog.deleteLater()


def test_adapting_to_a_new_domain_passes_its_name_and_needs_one(setup, qtbot) -> None:
    _, tmp_path, models = setup
    dialog = RetrainDialog(None, tmp_path / "store", models / "base", Catalog(models))
    qtbot.addWidget(dialog)
    assert "--domain" not in dialog.build_command(tmp_path / "c")  # improving this model: the default
    dialog.domain_choice.adapt.setChecked(True)
    dialog.domain_choice.name.setText(" thyroid ")
    assert dialog.build_command(tmp_path / "c")[-2:] == ["--domain", "thyroid"]
    dialog.domain_choice.name.setText("  ")
    dialog.check_data = lambda: True  # enough corrections: the name is what is missing
    dialog.start()
    assert not dialog.is_running() and "Name the new domain" in dialog.status.text()


@pytest.mark.slow
def test_the_real_training_package_reports_a_bad_base_as_a_message(setup, qtbot) -> None:
    """The default command, end to end: the training CLI's error event reaches the dialog as a message."""
    pytest.importorskip("training.cli")
    _, tmp_path, models = setup
    dialog = RetrainDialog(None, tmp_path / "store", tmp_path / "no-such-bundle", Catalog(models))
    qtbot.addWidget(dialog)
    run_to_end(dialog, qtbot, timeout_ms=180_000)
    assert dialog.status.kind == "error" and dialog.status.text().startswith("Retraining failed: ")
    assert "no-such-bundle" in dialog.status.text()
    assert_idle_buttons(dialog)


def test_protocol_helpers() -> None:
    assert parse_json_line(b'{"event": "step", "loss": 1}\n') == {"event": "step", "loss": 1}
    assert parse_json_line(b"[1]") is None and parse_json_line("{nope") is None
    assert parse_json_line('{"loss": 1}') is None and parse_json_line(b"\xff\xfe") is None
    assert format_eta(42.4) == "ETA 42 s" and format_eta(3725) == "ETA 1 h 02 min"
    assert format_eta(None) == format_eta("soon") == format_eta(float("nan")) == "ETA —"


def test_the_minimum_is_training_s(tmp_path: Path) -> None:
    """The dialog mirrors training's --min-corrections (c5desk never imports training) and its wording."""
    pytest.importorskip("torch")
    import argparse

    from training import retrain as rt
    from training import retrain_cli

    parser = argparse.ArgumentParser()
    retrain_cli.add_arguments(parser)
    assert parser.get_default("min_corrections") == MIN_CORRECTIONS
    labels = ("benign", "malignant", "normal")  # training counts every saved label
    save_corrections(tmp_path / "store", MIN_CORRECTIONS - 1, cases=2, labels=labels)
    with pytest.raises(C5Error) as refused:  # what training itself says about this very dataset
        rt.split_corrections(rt.load_corrections(tmp_path / "store", 32), 0.25, 0, MIN_CORRECTIONS)
    assert plain_failure(str(refused.value)) == retrain_blocker(tmp_path / "store")


def test_too_few_corrections_are_explained_before_starting(tmp_path: Path, bundles: Path, qtbot) -> None:
    create_application()
    save_corrections(tmp_path / "store", 1, cases=1)
    dialog = RetrainDialog(
        None, tmp_path / "store", bundles / "base", Catalog(tmp_path / "models"), ["false"]
    )
    qtbot.addWidget(dialog)
    dialog.show()
    wanted = (
        f"Retraining needs at least {MIN_CORRECTIONS} corrected frames with a lesion label; this dataset has "
        f"1. Correct {MIN_CORRECTIONS - 1} more frames and save them."
    )
    assert dialog.status.text() == wanted and dialog.status.kind == "warn"
    assert not dialog.start_button.isEnabled() and dialog.start_button.toolTip() == wanted
    dialog.start()  # even called directly, nothing starts
    assert not dialog.is_running()
    save_corrections(tmp_path / "store", MIN_CORRECTIONS - 1, cases=1)  # enough frames, but one case
    assert not dialog.check_data() and "at least two cases" in dialog.status.text()
    save_corrections(tmp_path / "store", 1, cases=1, first_case=1)  # a frame of another case
    assert dialog.check_data() and dialog.start_button.isEnabled()
    assert "retraining can start" in dialog.status.text()


def test_a_missing_dataset_is_explained(tmp_path: Path, bundles: Path, qtbot) -> None:
    create_application()
    dialog = RetrainDialog(None, tmp_path / "none", bundles / "base", Catalog(tmp_path / "models"), ["false"])
    qtbot.addWidget(dialog)
    assert "no dataset" in dialog.status.text() and not dialog.start_button.isEnabled()


def test_training_errors_become_sentences() -> None:
    assert plain_failure("only 2 corrected frame(s); retraining needs at least 4") == (
        "Retraining needs at least 4 corrected frames with a lesion label; this dataset has 2. "
        "Correct 2 more frames and save them."
    )
    assert "at least two cases" in plain_failure("the corrections come from a single patient/case; ...")
    for jargon in (
        "usage: python -m training retrain [-h] --base BASE\nerror: the following arguments are required: "
        "--data",
        "/tmp/x: is a file; --out names the folder the new bundle goes in",
        'Traceback (most recent call last):\n  File "x.py", line 1',
    ):
        text = plain_failure(jargon)
        assert "--" not in text and "usage" not in text and "Traceback" not in text and "Details" in text
    assert plain_failure("model.json is missing") == "model.json is missing."
