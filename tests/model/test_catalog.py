"""The model catalogue: one answer to "which model?" for the CLI, the app and its dialogs, and retraining."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from c5desk.cli import main as cli_main
from c5desk.errors import BundleError, ModelError
from c5desk.model.bundle import make_random_bundle
from c5desk.model.catalog import STATE_FILE, Catalog, default_bundle, record_lineage
from c5desk.store import Store


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    make_random_bundle(root / "shipped" / "factory", input_size=32, version="random-factory")
    make_random_bundle(
        root / "models" / "base", input_size=32, version="random-base", parent="random-factory"
    )
    make_random_bundle(
        root / "models" / "v1", input_size=32, version="random-v1", parent="random-base", seed=1
    )
    make_random_bundle(root / "elsewhere" / "x", input_size=32, version="random-x", seed=2)
    return root


@pytest.fixture
def catalog(template: Path, tmp_path: Path, monkeypatch) -> Catalog:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return Catalog(tmp_path / "models", tmp_path / "shipped")


def test_scan_lists_user_and_shipped_bundles_but_no_staging_or_broken_ones(catalog: Catalog) -> None:
    staging = catalog.user_dir / ".partial-123-456-v2"  # a publish in progress (fsio.StagedFolder)
    shutil.copytree(catalog.user_dir / "v1", staging)
    broken = catalog.user_dir / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json", encoding="utf-8")
    (broken / "model.safetensors").write_bytes(b"")
    listing = catalog.scan()
    assert set(listing.entries) == {"random-factory", "random-base", "random-v1"}
    created = [e.created for e in listing.entries.values()]
    assert created == sorted(created)  # oldest first
    assert {e.origin for e in listing.entries.values()} == {"shipped", "user"}
    assert len(listing.problems) == 1 and "broken" in listing.problems[0]


def test_the_shipped_default_until_the_user_activates_another(catalog: Catalog) -> None:
    assert catalog.active().version == "random-factory" and catalog.active_version() is None
    catalog.activate("random-v1")
    assert catalog.active().version == "random-v1"
    assert Catalog(catalog.user_dir, catalog.shipped_dir).active().folder == catalog.user_dir / "v1"
    shutil.rmtree(catalog.user_dir / "v1")  # the activated bundle disappeared: the default applies again
    assert catalog.active().version == "random-factory"
    with pytest.raises(ModelError, match="not installed"):
        catalog.activate("random-v1")


def test_default_pointer_and_the_environment_override(catalog: Catalog, monkeypatch, template) -> None:
    make_random_bundle(catalog.shipped_dir / "second", input_size=32, version="random-second", seed=3)
    with pytest.raises(ModelError, match="no trained model"):
        catalog.active()  # two shipped bundles and no DEFAULT: refuse to guess
    (catalog.shipped_dir / "DEFAULT").write_text("second\n", encoding="utf-8")
    assert catalog.active().version == "random-second"
    monkeypatch.setenv("C5DESK_MODEL", str(template / "elsewhere" / "x"))
    assert catalog.active().version == "random-x" and catalog.active().origin == "override"


def test_nothing_installed_is_said_plainly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    monkeypatch.setattr("c5desk.model.catalog.SHIPPED_MODELS", tmp_path / "none")
    with pytest.raises(ModelError, match="no trained model"):
        default_bundle()


def test_rollback_goes_to_the_parent_else_the_previous_activation(catalog: Catalog, template) -> None:
    assert catalog.rollback_target() is None
    catalog.activate("random-v1")
    assert catalog.rollback_target() == "random-base"  # its parent
    catalog.register(template / "elsewhere" / "x")  # a bundle kept outside, no parent
    catalog.activate("random-x")
    assert catalog.rollback_target() == "random-v1"  # the one active before it
    history = json.loads((catalog.user_dir / STATE_FILE).read_text())["history"]
    assert [h["version"] for h in history] == ["random-v1", "random-x"]


def test_register_discard_and_what_cannot_be_discarded(catalog: Catalog, template) -> None:
    outside = template / "elsewhere" / "x"
    assert catalog.register(outside).origin == "registered"
    assert "random-x" in Catalog(catalog.user_dir, catalog.shipped_dir).scan().entries  # remembered
    assert "left in place" in catalog.discard("random-x") and outside.is_dir()
    assert "random-x" not in catalog.scan().entries
    catalog.activate("random-base")
    with pytest.raises(ModelError, match="active model"):
        catalog.discard("random-base")
    with pytest.raises(ModelError, match="came with the app"):
        catalog.discard("random-factory")
    assert "deleted" in catalog.discard("random-v1") and not (catalog.user_dir / "v1").exists()
    with pytest.raises(BundleError):
        catalog.register(catalog.user_dir / "no-such-bundle")


def test_a_damaged_state_file_never_blocks_the_app(catalog: Catalog) -> None:
    catalog.user_dir.mkdir(parents=True, exist_ok=True)
    (catalog.user_dir / STATE_FILE).write_text('{"format_version": 1, "active": 7, "history": "x"}')
    assert catalog.active().version == "random-factory" and catalog.rollback_target() is None
    (catalog.user_dir / STATE_FILE).write_bytes(b"\xff\x00")
    catalog.activate("random-base")
    assert catalog.active_version() == "random-base"


def test_an_unwritable_models_folder_is_a_clear_error(template: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    catalog = Catalog(blocker / "models", template / "shipped")
    assert catalog.active().version == "random-factory"  # reading still works
    with pytest.raises(ModelError, match="cannot save the model choice"):
        catalog.activate("random-factory")


def _activate_many(user_dir: str, shipped_dir: str, version: str) -> None:
    catalog = Catalog(user_dir, shipped_dir)
    for _ in range(10):
        catalog.activate(version)


def test_concurrent_activations_lose_no_history(catalog: Catalog) -> None:
    """The app and a retrain process may write the state at once: every change is kept."""
    context = multiprocessing.get_context("spawn")
    args = [(str(catalog.user_dir), str(catalog.shipped_dir), v) for v in ("random-base", "random-v1")]
    workers = [context.Process(target=_activate_many, args=a) for a in args]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    history = json.loads((catalog.user_dir / STATE_FILE).read_text())["history"]
    assert len(history) == 20 and catalog.active_version() in ("random-base", "random-v1")


def test_activation_records_lineage_and_audit_in_the_dataset(catalog: Catalog, tmp_path: Path) -> None:
    with Store.create(tmp_path / "store") as store:
        catalog.activate("random-v1", store)
        recorded = {v.id: v.parent for v in store.model_versions()}
        assert recorded == {
            "random-factory": None,
            "random-base": "random-factory",
            "random-v1": "random-base",
        }
        [entry] = store.audit_log(action="activate_model")
        assert entry.model_version == "random-v1" and entry.after == {"active": "random-v1"}
        spec = catalog.get("random-base").spec
        assert record_lineage(store, spec).id == "random-base"  # idempotent


def test_models_command_lists_marks_and_activates(tmp_path: Path, template, monkeypatch, capsys) -> None:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    monkeypatch.setenv("C5DESK_CONFIG", str(tmp_path / "config"))
    monkeypatch.setattr("c5desk.model.catalog.SHIPPED_MODELS", template / "shipped")
    shutil.copytree(template / "models", tmp_path / "config" / "data" / "models")
    assert cli_main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["VERSION", "FROM", "TRAINED", "ON", "CREATED", "KEY", "METRICS"]
    marked = [line for line in lines[1:4] if line.startswith("*")]
    assert len(marked) == 1  # bundles made within one second may list in any order
    assert marked[0].startswith("*  random-factory  shipped")  # the active one, marked
    assert cli_main(["models", "--activate", "random-v1"]) == 0
    assert cli_main(["models", "--default"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == str(tmp_path / "config" / "data" / "models" / "v1")
    assert cli_main(["models", "--json"]) == 0
    listed = {row["version"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["random-v1"]["active"] and listed["random-v1"]["parent"] == "random-base"
    assert cli_main(["models", "--rollback"]) == 0 and Catalog().active_version() == "random-base"
    assert cli_main(["models", "--activate", "nope"]) == 1
    assert "not installed" in capsys.readouterr().err


def test_a_bundles_domains_are_what_the_model_line_shows() -> None:
    from c5desk.model.metrics_view import training_domains

    assert training_domains({"domains": ["busbra", "thyroid"], "data": {"folder": "x"}}) == "busbra, thyroid"
    assert training_domains({"data": {"folder": "busbra"}}) == "busbra"  # the shipped bundle
    assert training_domains({"domain": "fetal_head"}) == "fetal_head"
    assert training_domains({"domains": [1, None]}) == ""  # model.json is a file anyone could edit
    assert training_domains("not a mapping") == ""
