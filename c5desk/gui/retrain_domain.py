"""The retrain dialog's first question: improve this model (same domain) or adapt it to a new, named one.

Improving is gated on not forgetting (replay); adapting starts a new line of versions for that domain,
judged on its own held-out corrections (training/domains.py; `training retrain --domain NAME`).
"""

from __future__ import annotations

from PySide6 import QtWidgets


class DomainChoice(QtWidgets.QGroupBox):
    """Improve this model (same domain, gated on not forgetting) or adapt it to a new, named domain."""

    def __init__(self, domains: list[str]) -> None:
        super().__init__("What are these corrections?")
        layout = QtWidgets.QGridLayout(self)
        self.improve = QtWidgets.QRadioButton(
            f"Improve this model ({', '.join(domains)}): it must not get worse on its original data"
        )
        self.adapt = QtWidgets.QRadioButton("Adapt to a new domain (another organ or a scanner kept apart):")
        self.name = QtWidgets.QLineEdit(placeholderText="e.g. thyroid", maxLength=40)
        self.adapt.setToolTip(
            "A new line of versions for this domain, judged on its own held-out corrections; how it does on"
            " the original data is reported but does not block it."
        )
        self.improve.setChecked(True)
        self.name.setEnabled(False)
        self.adapt.toggled.connect(self.name.setEnabled)
        layout.addWidget(self.improve, 0, 0, 1, 2)
        layout.addWidget(self.adapt, 1, 0)
        layout.addWidget(self.name, 1, 1)

    def domain(self) -> str | None:
        """The --domain argument: None to improve; the typed name to adapt ("" when none was typed)."""
        return self.name.text().strip() if self.adapt.isChecked() else None
