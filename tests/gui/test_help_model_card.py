"""Help → Model card and intended use: the loaded model's card, intended use first; a retrained version
shows its ancestor's card and says so; a bundle without a card says so. Also the shipped bundle's metrics as
the Versions dialog and `c5desk models` describe them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets

from c5desk.gui import help_dialog
from c5desk.gui.actions import ACTIONS
from c5desk.gui.app import create_application
from c5desk.model.bundle import make_random_bundle
from c5desk.model.catalog import Catalog
from c5desk.model.metrics_view import intended_use_first, metrics_text

CARD = """# Model card: random-base

**What it is.** A test model.

## Data
- made up

## Intended use and limits
- **Intended use**: tests only.

## Results
- none
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    models = tmp_path / "models"
    base = make_random_bundle(models / "base", input_size=32, version="random-base")
    (base / "MODEL_CARD.md").write_text(CARD, encoding="utf-8")
    make_random_bundle(models / "v1", input_size=32, version="random-v1", parent="random-base", seed=1)
    make_random_bundle(models / "bare", input_size=32, version="random-bare", seed=2)
    return Catalog(models, tmp_path / "shipped")


def shown_card(monkeypatch, qtbot, catalog: Catalog, bundle: Path | None) -> help_dialog.ModelCardDialog:
    """Open the menu entry's dialog for a window that loaded `bundle`; returns it instead of blocking."""
    create_application()
    opened: list[help_dialog.ModelCardDialog] = []
    monkeypatch.setattr(help_dialog.ModelCardDialog, "exec", lambda self: opened.append(self) or 0)
    window = QtWidgets.QWidget()  # the parts of MainWindow the entry uses
    qtbot.addWidget(window)
    window.models, window.link = SimpleNamespace(catalog=catalog), SimpleNamespace(bundle=bundle)
    [act] = [a for a in ACTIONS if a.key == "model_card"]
    assert act.menu == "Help" and act.text == "Model card and intended use"
    act.run(window)
    [dialog] = opened
    dialog.window_stub = window  # the parent must outlive the test's look at its child
    return dialog


def test_the_card_opens_with_its_intended_use(monkeypatch, qtbot, catalog: Catalog) -> None:
    dialog = shown_card(monkeypatch, qtbot, catalog, catalog.user_dir / "base")
    text = dialog.browser.toPlainText()
    assert text.startswith("Model card: random-base")
    assert text.index("Intended use and limits") < text.index("What it is") < text.index("Results")
    assert dialog.card.found and dialog.card.source == "random-base"


def test_a_retrained_version_shows_its_ancestor_s_card(monkeypatch, qtbot, catalog: Catalog) -> None:
    dialog = shown_card(monkeypatch, qtbot, catalog, catalog.user_dir / "v1")
    text = dialog.browser.toPlainText()
    assert "random-v1 has no model card of its own" in text and "Intended use and limits" in text
    assert dialog.card.source == "random-base"


def test_a_bundle_without_a_card_says_so(monkeypatch, qtbot, catalog: Catalog) -> None:
    dialog = shown_card(monkeypatch, qtbot, catalog, catalog.user_dir / "bare")
    assert "This model bundle has no model card" in dialog.browser.toPlainText()
    assert not dialog.card.found


def test_no_model_at_all_says_so(monkeypatch, qtbot, tmp_path: Path) -> None:
    empty = Catalog(tmp_path / "none", tmp_path / "shipped-none")
    dialog = shown_card(monkeypatch, qtbot, empty, None)
    assert "There is no trained model" in dialog.browser.toPlainText()


def test_the_shipped_card_and_metrics(monkeypatch, qtbot) -> None:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    shipped = Catalog().shipped_default()
    assert metrics_text(shipped) == "Dice 0.853, AUC 0.896 on the test split (383 frames)"  # v2.1's
    dialog = shown_card(monkeypatch, qtbot, Catalog(), shipped.folder)
    first_section = dialog.card.markdown.split("\n## ")[1]
    assert first_section.startswith("Intended use and limits") and "not** a medical device" in first_section


def test_a_card_without_an_intended_use_section_is_left_as_it_is() -> None:
    assert intended_use_first("# Card\n\n## Data\n- x\n") == "# Card\n\n## Data\n- x\n"
