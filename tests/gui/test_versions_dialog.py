"""Versions dialog over the model catalogue, a real store and real bundles: list, activate, roll back, refuse
what cannot load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets

from c5desk.gui.app import create_application
from c5desk.gui.versions_dialog import OVERRIDDEN_TINT, VersionsDialog
from c5desk.model.bundle import make_random_bundle
from c5desk.model.catalog import Catalog
from c5desk.store import Store


@pytest.fixture(scope="module")
def bundle_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    make_random_bundle(models / "base", input_size=32, version="random-base")
    make_random_bundle(models / "v1", input_size=32, version="random-v1", parent="random-base", seed=1)
    make_random_bundle(
        models / "orphan", input_size=32, version="random-orphan", parent="random-gone", seed=2
    )
    broken = models / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json", encoding="utf-8")
    (broken / "model.safetensors").write_bytes(b"")
    return models


@pytest.fixture
def setup(tmp_path: Path, bundle_template: Path, qtbot, monkeypatch):
    create_application()
    models = tmp_path / "models"
    shutil.copytree(bundle_template, models)
    catalog = Catalog(models, tmp_path / "shipped")  # none shipped here
    store = Store.create(tmp_path / "store")
    catalog.activate("random-base", store)
    store.register_model_version("random-lost", parent="random-base")  # its bundle is gone
    dialog = VersionsDialog(None, catalog, store)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog, store, catalog
    store.close()


def table(dialog: VersionsDialog) -> dict[str, list[str]]:
    t = dialog.table
    return {
        t.item(r, 1).text(): [t.item(r, c).text() for c in range(t.columnCount())]
        for r in range(t.rowCount())
    }


def test_shipped_bundles_are_listed_beside_retrained_ones(tmp_path, qtbot, monkeypatch) -> None:
    """A retrained version can roll back to the model that came with the app."""
    create_application()
    shipped = tmp_path / "shipped"
    make_random_bundle(shipped / "factory", input_size=32, version="random-factory")
    with Store.create(tmp_path / "store") as store:
        dialog = VersionsDialog(None, Catalog(tmp_path / "user-models", shipped), store)
        qtbot.addWidget(dialog)
        row = table(dialog)["random-factory"]
        assert row[0] == "● active" and row[6] == "factory (shipped)"  # the only one: the default


def test_lists_installed_versions_and_the_dataset_s(setup) -> None:
    dialog, _, _ = setup
    rows = table(dialog)
    assert set(rows) == {"random-base", "random-v1", "random-orphan", "random-lost"}
    assert rows["random-base"][0] == "● active" and rows["random-v1"][0] == ""
    assert rows["random-base"][7] == "yes" and rows["random-v1"][7] == ""  # recorded on activation
    assert rows["random-v1"][3] == "random-base" and rows["random-v1"][6] == "v1 (user)"
    assert rows["random-lost"][6] == "— missing"
    assert dialog.status.kind == "warn" and "broken" in dialog.status.text()
    assert not dialog.rollback_button.isEnabled()  # base has no parent and was never replaced


def test_activate_a_bundle_then_roll_back_to_its_parent(setup, qtbot) -> None:
    dialog, store, catalog = setup
    dialog.select_version("random-v1")
    assert dialog.activate_button.isEnabled()
    with qtbot.waitSignal(dialog.activated, timeout=3000) as signal:
        dialog.activate_button.click()
    assert signal.args == ["random-v1", str(catalog.user_dir / "v1")]
    assert catalog.active_version() == "random-v1"
    recorded = {v.id: v for v in store.model_versions()}
    assert recorded["random-v1"].parent == "random-base"  # the dataset keeps the lineage
    [entry] = store.audit_log(action="activate_model")[-1:]
    assert entry.before == {"active": "random-base"} and entry.after == {"active": "random-v1"}
    assert table(dialog)["random-v1"][0] == "● active" and table(dialog)["random-v1"][7] == "yes"
    assert dialog.rollback_button.isEnabled()
    with qtbot.waitSignal(dialog.activated, timeout=3000) as signal:
        dialog.rollback_button.click()
    assert signal.args == ["random-base", str(catalog.user_dir / "base")]
    assert catalog.active_version() == "random-base"
    assert "Rolled back to random-base" in dialog.status.text()


def test_roll_back_without_parent_returns_to_the_previous_active(setup, qtbot) -> None:
    dialog, _, catalog = setup
    assert dialog.activate_version("random-orphan")  # its parent is not installed
    assert catalog.active_version() == "random-orphan"
    assert catalog.rollback_target() == "random-base"
    dialog.roll_back()
    assert catalog.active_version() == "random-base"


def test_a_version_without_bundle_is_not_activated(setup, qtbot) -> None:
    dialog, _, catalog = setup
    dialog.select_version("random-lost")
    with qtbot.assertNotEmitted(dialog.activated):
        dialog.activate_button.click()
    assert dialog.status.kind == "error" and "not installed" in dialog.status.text()
    assert catalog.active_version() == "random-base"
    assert dialog.refresh_button.isEnabled() and dialog.close_button.isEnabled()


def test_the_active_model_is_marked_with_its_measured_metrics(tmp_path, qtbot, monkeypatch) -> None:
    """Issue 13: the model in use is bold and marked, with Dice/AUC and the data they were measured on, even
    when $C5DESK_MODEL names a folder outside the catalogue; `c5desk models` describes it the same way."""
    from c5desk.commands.models import format_table
    from c5desk.model.metrics_view import listing_with_active

    create_application()
    elsewhere = make_random_bundle(tmp_path / "elsewhere" / "mine", input_size=32, version="random-mine")
    (elsewhere / "evaluation").mkdir()
    metrics = {"dice": 0.8337, "auc": 0.8707, "n": 383, "split": "test"}
    (elsewhere / "evaluation" / "test_metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    monkeypatch.setenv("C5DESK_MODEL", str(elsewhere))
    with Store.create(tmp_path / "store") as store:
        store.register_model_version("random-mine")  # the dataset names it too: one row, not two
        catalog = Catalog(tmp_path / "user-models", tmp_path / "shipped")
        dialog = VersionsDialog(None, catalog, store)
        qtbot.addWidget(dialog)
        row = table(dialog)["random-mine"]
        described = "Dice 0.834, AUC 0.871 on the test split (383 frames)"
        assert row[0] == "● active" and row[5] == described and row[7] == "yes"
        index = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 1).text() == row[1])
        assert all(dialog.table.item(index, c).font().bold() for c in range(len(row)))
        assert dialog.active_label.text() == f"Active model: random-mine — {described}"
        listing, active = listing_with_active(catalog)
        assert described in format_table(list(listing.entries.values()), active)


FAILED_GATE = {  # as training.gate.GateReport.to_json() writes it, published with --publish-anyway
    "verdict": "failed",
    "overridden": True,
    "thresholds": {"margin": 0.0, "tolerance": 0.02, "min_per_class": 10},
    "seed": 0,
    "checks": [
        {"part": "corrections", "metric": "dice", "status": "passed", "n": 12, "allowed": 0.0,
         "difference": 0.04, "interval": [0.01, 0.07], "note": "improved"},
        {"part": "replay", "metric": "dice", "status": "failed", "n": 20, "allowed": 0.02,
         "difference": -0.06, "interval": [-0.09, -0.03], "note": "worse"},
        {"part": "replay", "metric": "auc", "status": "not judged", "n": 20, "allowed": 0.02,
         "difference": None, "interval": None, "note": "not enough benign (n=3) frames to judge"},
    ],
}  # fmt: skip


def test_an_overridden_bundle_is_marked_and_activated_only_when_confirmed(setup, qtbot, messages) -> None:
    """Issue 14: a bundle published with the retrain gate failed (--publish-anyway) never looks like one
    that passed; activating it asks first, and "No" leaves the active model as it was."""
    dialog, _store, catalog = setup
    forced = make_random_bundle(catalog.user_dir / "forced", input_size=32, version="random-forced")
    spec = json.loads((forced / "model.json").read_text())
    spec["metrics"] = {"gate": FAILED_GATE}
    (forced / "model.json").write_text(json.dumps(spec))
    dialog.refresh()
    row = table(dialog)["random-forced"]
    shown = "GATE OVERRIDDEN (gate failed: corrections Dice +0.040 [+0.010, +0.070]; replay Dice −0.060"
    assert shown in row[5]
    index = next(
        r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 1).text() == "random-forced"
    )
    assert dialog.table.item(index, 3).background().color() == OVERRIDDEN_TINT
    assert not dialog.table.item(index, 1).icon().isNull()
    assert "GATE OVERRIDDEN" not in table(dialog)["random-v1"][5]
    messages.answer = QtWidgets.QMessageBox.StandardButton.No
    assert dialog.activate_version("random-forced") is False
    assert catalog.active_version() == "random-base" and "not activated" in dialog.status.text()
    assert "GATE OVERRIDDEN" in messages.of("question")[-1]
    messages.answer = QtWidgets.QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(dialog.activated, timeout=3000):
        assert dialog.activate_version("random-forced") is True
    assert catalog.active_version() == "random-forced"
    assert len(messages.of("question")) == 2
    dialog.select_version("random-v1")
    with qtbot.waitSignal(dialog.activated, timeout=3000):
        dialog.activate_button.click()  # a version that passed (or predates the gate) is never asked about
    assert len(messages.of("question")) == 2
