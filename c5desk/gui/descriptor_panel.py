"""BI-RADS lexicon descriptors of the current lesion: the model's suggestions, which the clinician confirms or
changes. A suggested term shows in italics with "suggested"; a term the clinician chose or confirmed shows
"✓ clinician" and is saved with that provenance (Document.set_descriptor / confirm_descriptors)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from c5desk.lesion.lexicon import DESCRIPTORS, TITLES
from c5desk.reading.document import Document

NO_TERM = "—"


class DescriptorPanel(QtWidgets.QGroupBox):
    changed = QtCore.Signal()  # the clinician set, confirmed or reset a term

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("BI-RADS descriptors", parent)
        self._document: Document | None = None
        self._updating = False
        grid = QtWidgets.QGridLayout(self)
        self.combos: dict[str, QtWidgets.QComboBox] = {}
        self.sources: dict[str, QtWidgets.QLabel] = {}
        for row, (name, terms) in enumerate(DESCRIPTORS.items()):
            combo = QtWidgets.QComboBox()
            combo.addItems([NO_TERM, *terms])
            # as wide as a short term, not the longest one ("complex cystic and solid"): the reading
            # column must fit at 1280×720; the open list still shows every term in full
            combo.setSizeAdjustPolicy(
                QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
            combo.setObjectName(f"descriptor_{name}")
            combo.activated.connect(lambda index, name=name: self._chosen(name, index))
            source = QtWidgets.QLabel("")
            grid.addWidget(QtWidgets.QLabel(TITLES[name]), row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(source, row, 2)
            self.combos[name], self.sources[name] = combo, source
        buttons = QtWidgets.QHBoxLayout()
        self.confirm = QtWidgets.QPushButton("Confirm all")
        self.confirm.setToolTip("Take every suggested term as yours (saved as confirmed by a clinician)")
        self.reset = QtWidgets.QPushButton("Back to suggestions")
        self.confirm.clicked.connect(self._confirm_all)
        self.reset.clicked.connect(self._reset_all)
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.reset)
        grid.addLayout(buttons, len(DESCRIPTORS), 0, 1, 3)
        self.show_document(None)

    def show_document(self, document: Document | None) -> None:
        """Show the document's terms (suggested or the clinician's) without reporting a change."""
        self._document = document
        terms = document.descriptors if document is not None else {}
        self._updating = True
        for name, combo in self.combos.items():
            entry = terms.get(name)
            combo.setCurrentText(entry["value"] if entry else NO_TERM)
            clinician = entry is not None and entry["source"] == "clinician"
            font = combo.font()
            font.setItalic(entry is not None and not clinician)
            combo.setFont(font)
            self.sources[name].setText("✓ clinician" if clinician else ("suggested" if entry else ""))
        self._updating = False
        has_lesion = bool(terms)
        self.setEnabled(has_lesion)
        self.setToolTip("" if has_lesion else "Outline a lesion to describe it")
        self.confirm.setEnabled(any(e["source"] == "model" for e in terms.values()))
        self.reset.setEnabled(bool(document is not None and document.descriptor_choices))

    def _chosen(self, name: str, index: int) -> None:
        if self._updating or self._document is None:
            return
        term = self.combos[name].itemText(index)
        self._document.set_descriptor(name, None if term == NO_TERM else term)
        self._changed()

    def _confirm_all(self) -> None:
        if self._document is not None:
            self._document.confirm_descriptors()
            self._changed()

    def _reset_all(self) -> None:
        if self._document is not None:
            for name in list(self._document.descriptor_choices):
                self._document.set_descriptor(name, None)
            self._changed()

    def _changed(self) -> None:
        self.show_document(self._document)
        self.changed.emit()
