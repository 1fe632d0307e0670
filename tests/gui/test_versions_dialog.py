"""Versions dialog over a real store and real bundles: list, activate, roll back, refuse what cannot load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from c5desk.gui.app import create_application
from c5desk.gui.versions_dialog import VersionsDialog, rollback_target
from c5desk.model.bundle import make_random_bundle
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
    monkeypatch.setattr("c5desk.bundles.SHIPPED_MODELS", tmp_path / "shipped")  # none shipped here
    models = tmp_path / "models"
    shutil.copytree(bundle_template, models)
    store = Store.create(tmp_path / "store")
    store.register_model_version("random-base", metrics={"replay": {"dice": 0.8}}, activate=True)
    store.register_model_version("random-lost", parent="random-base")  # its bundle is gone
    dialog = VersionsDialog(None, store, models)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog, store, models
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
    monkeypatch.setattr("c5desk.bundles.SHIPPED_MODELS", shipped)
    with Store.create(tmp_path / "store") as store:
        dialog = VersionsDialog(None, store, tmp_path / "user-models")
        qtbot.addWidget(dialog)
        assert "random-factory" in table(dialog)


def test_lists_registered_versions_and_bundles(setup) -> None:
    dialog, _, _ = setup
    rows = table(dialog)
    assert set(rows) == {"random-base", "random-v1", "random-orphan", "random-lost"}
    assert rows["random-base"][0] == "● active" and rows["random-v1"][0] == ""
    assert rows["random-base"][4] == "replay.dice=0.8" and rows["random-base"][6] == "registered"
    assert rows["random-v1"][3] == "random-base" and rows["random-v1"][6] == "bundle only"
    assert rows["random-lost"][5] == "— missing"
    assert dialog.status.kind == "warn" and "broken" in dialog.status.text()
    assert not dialog.rollback_button.isEnabled()  # base has no parent and was never replaced


def test_activate_a_bundle_then_roll_back_to_its_parent(setup, qtbot) -> None:
    dialog, store, models = setup
    dialog.select_version("random-v1")
    assert dialog.activate_button.isEnabled()
    with qtbot.waitSignal(dialog.activated, timeout=3000) as signal:
        dialog.activate_button.click()
    assert signal.args == ["random-v1", str(models / "v1")]
    active = store.active_model_version()
    assert active.id == "random-v1" and active.parent == "random-base"
    assert table(dialog)["random-v1"][0] == "● active" and table(dialog)["random-v1"][6] == "registered"
    assert dialog.rollback_button.isEnabled()
    with qtbot.waitSignal(dialog.activated, timeout=3000) as signal:
        dialog.rollback_button.click()
    assert signal.args == ["random-base", str(models / "base")]
    assert store.active_model_version().id == "random-base"
    assert "Rolled back to random-base" in dialog.status.text()


def test_roll_back_without_parent_returns_to_the_previous_active(setup, qtbot) -> None:
    dialog, store, _ = setup
    assert dialog.activate_version("random-orphan")
    orphan = store.active_model_version()
    assert orphan.id == "random-orphan" and orphan.parent is None  # its parent was never registered
    assert rollback_target(store) == "random-base"
    dialog.roll_back()
    assert store.active_model_version().id == "random-base"


def test_a_version_without_bundle_is_not_activated(setup, qtbot) -> None:
    dialog, store, _ = setup
    dialog.select_version("random-lost")
    with qtbot.assertNotEmitted(dialog.activated):
        dialog.activate_button.click()
    assert dialog.status.kind == "error" and "not in" in dialog.status.text()
    assert store.active_model_version().id == "random-base"
    assert dialog.refresh_button.isEnabled() and dialog.close_button.isEnabled()
