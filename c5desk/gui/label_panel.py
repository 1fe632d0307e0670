"""The clinician's statement about a frame: label, optional BI-RADS / TI-RADS category, free-text note."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from c5desk.reading.document import Document

LABELS = ("benign", "malignant", "normal", "unsure")
CATEGORIES = (
    "",
    *(f"BI-RADS {c}" for c in ("1", "2", "3", "4a", "4b", "4c", "5", "6")),
    *(f"TI-RADS {c}" for c in range(1, 6)),
)


class LabelPanel(QtWidgets.QGroupBox):
    changed = QtCore.Signal()  # the user changed label, category or note

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Label", parent)
        self._document: Document | None = None
        layout = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        self.buttons = QtWidgets.QButtonGroup(self)
        self.buttons.setExclusive(True)
        for i, name in enumerate(LABELS):
            button = QtWidgets.QRadioButton(name)
            button.setToolTip(f"{name} (key {i + 1})")
            self.buttons.addButton(button, i)
            row.addWidget(button)
        layout.addLayout(row)
        self.category = QtWidgets.QComboBox()
        self.category.setEditable(True)
        self.category.addItems(CATEGORIES)
        self.category.lineEdit().setPlaceholderText("BI-RADS / TI-RADS category (optional)")
        layout.addWidget(self.category)
        self.note = QtWidgets.QPlainTextEdit()
        self.note.setPlaceholderText("Note")
        self.note.setMaximumHeight(70)
        layout.addWidget(self.note)
        self.buttons.idToggled.connect(self._label_toggled)
        self.category.currentTextChanged.connect(self._category_changed)
        self.note.textChanged.connect(self._note_changed)
        self.setEnabled(False)

    def set_document(self, document: Document | None) -> None:
        """Show a document's label, category and note (without reporting them as changes)."""
        self._document = None
        self.buttons.setExclusive(False)  # lets every button be cleared for an unlabelled frame
        for i, name in enumerate(LABELS):
            self.buttons.button(i).setChecked(document is not None and document.label == name)
        self.buttons.setExclusive(True)
        self.category.setCurrentText(document.category or "" if document else "")
        self.note.setPlainText(document.note if document else "")
        self.setEnabled(document is not None)
        self._document = document

    def shows(self, document: Document) -> bool:
        """Whether the panel already shows this document's label, category and note."""
        checked = self.buttons.checkedId()
        label = LABELS[checked] if checked >= 0 else None
        shown = (label, self.category.currentText().strip() or None, self.note.toPlainText())
        return self._document is document and shown == (document.label, document.category, document.note)

    def set_label(self, label: str) -> None:
        self.buttons.button(LABELS.index(label)).setChecked(True)

    def _label_toggled(self, index: int, checked: bool) -> None:
        if checked and self._document is not None:
            self._document.label = LABELS[index]
            self.changed.emit()

    def _category_changed(self, text: str) -> None:
        if self._document is not None:
            self._document.category = text.strip() or None
            self.changed.emit()

    def _note_changed(self) -> None:
        if self._document is not None:
            self._document.note = self.note.toPlainText()
            self.changed.emit()
