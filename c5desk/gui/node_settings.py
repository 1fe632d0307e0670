"""File → DICOM node…: the node's settings (kept in the window's prefs), Start/Stop and its status.

Every field is checked by c5desk.node's own checks as it is typed, so the dialog refuses exactly what
`c5desk serve` would refuse, with the same message next to the field; Save and Start stay disabled until
all fields are right. The node itself runs in a separate process (node_process.py) on the window's
dataset, with the model the window uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6 import QtWidgets

from c5desk.gui.dialog_parts import StatusLine, button_row
from c5desk.gui.node_process import EXITED, LISTENING, serve_command
from c5desk.gui.prefs import Prefs
from c5desk.node import NodeConfig, NodeError, parse_destination
from c5desk.node.config import check_ae_title, check_port

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow

IDENTITY_WARNING = (
    "Forwarded results (SEG + SR) will reference the scanner's study and carry the patient's name, ID and "
    "birth date. Use only with a PACS that may hold patient data."
)
ANY_PEER = "No calling AE title listed: any scanner on the network may send to this node."


def sentence(message: str) -> str:
    """c5desk.node's messages start in lower case (they follow "error: "); shown alone, they are sentences."""
    return message[:1].upper() + message[1:]


@dataclass(frozen=True)
class NodeFields:
    """What the dialog holds, as typed."""

    ae_title: str
    port: str
    allowed: tuple[str, ...]
    forward: str
    keep_identity: bool


def check_fields(fields: NodeFields, bind: str) -> tuple[NodeConfig | None, dict[str, str]]:
    """The node's settings, or None and each wrong field's one-line message (by field name)."""
    errors: dict[str, str] = {}
    checks = {
        "ae_title": lambda: check_ae_title(fields.ae_title),
        "port": lambda: check_port(fields.port),
        "forward": lambda: parse_destination(fields.forward) if fields.forward.strip() else None,
    }
    for name, check in checks.items():
        try:
            check()
        except NodeError as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    try:
        config = NodeConfig(
            ae_title=fields.ae_title, port=check_port(fields.port), allowed=fields.allowed,
            forward=parse_destination(fields.forward) if fields.forward.strip() else None,
            keep_identity=fields.keep_identity, bind=bind,
        )  # fmt: skip
    except NodeError as exc:
        return None, {"allowed": str(exc)}
    return config, {}


def fields_from_prefs(prefs: Prefs) -> NodeFields:
    return NodeFields(
        str(prefs["node_ae_title"]), str(prefs["node_port"]), tuple(prefs["node_allowed"]),
        str(prefs["node_forward"]), bool(prefs["node_keep_identity"]),
    )  # fmt: skip


def save_config(prefs: Prefs, config: NodeConfig) -> None:
    prefs["node_ae_title"], prefs["node_port"] = config.ae_title, config.port
    prefs["node_allowed"] = list(config.allowed)  # a new list: the default one is shared
    prefs["node_forward"] = str(config.forward) if config.forward else ""
    prefs["node_keep_identity"] = config.keep_identity
    prefs.save()


class NodeSettingsDialog(QtWidgets.QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_, self.prefs, self.node = window, window.prefs, window.node
        self.setWindowTitle("DICOM node")
        self.resize(560, 520)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self._build_form())
        self.status = StatusLine()
        layout.addWidget(self.status)
        self.start_button, self.stop_button = QtWidgets.QPushButton("Start"), QtWidgets.QPushButton("Stop")
        self.save_button, close = QtWidgets.QPushButton("Save"), QtWidgets.QPushButton("Close")
        buttons = [(self.start_button, self.start), (self.stop_button, self.node.stop),
                   (self.save_button, self.save), (close, self.hide)]  # fmt: skip
        layout.addLayout(button_row(buttons))
        self.show_fields(fields_from_prefs(self.prefs))
        self.node.changed.connect(self._node_changed)
        self._node_changed()

    def _build_form(self) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout()
        self.ae_edit, self.port_edit, self.forward_edit = (QtWidgets.QLineEdit() for _ in range(3))
        self.forward_edit.setPlaceholderText("optional, e.g. PACS@10.0.0.5:104")
        self.port_edit.setToolTip("0: any free port (the status line then says which)")
        self.errors = {name: StatusLine() for name in ("ae_title", "port", "allowed", "forward")}
        form.addRow("AE title:", self.ae_edit)
        form.addRow("", self.errors["ae_title"])
        form.addRow("Port:", self.port_edit)
        form.addRow("", self.errors["port"])
        form.addRow("Allowed calling\nAE titles:", self._build_allowed())
        form.addRow("", self.errors["allowed"])
        form.addRow("Forward results to:", self.forward_edit)
        form.addRow("", self.errors["forward"])
        self.identity_check = QtWidgets.QCheckBox("Keep patient identity in forwarded results")
        self.identity_warning = StatusLine()
        form.addRow("", self.identity_check)
        form.addRow("", self.identity_warning)
        self.store_label = QtWidgets.QLabel()
        self.store_label.setWordWrap(True)
        form.addRow("Received into:", self.store_label)
        for edit in (self.ae_edit, self.port_edit, self.forward_edit):
            edit.textChanged.connect(self.validate)
        self.identity_check.toggled.connect(self.validate)
        return form

    def _build_allowed(self) -> QtWidgets.QVBoxLayout:
        self.allowed_list = QtWidgets.QListWidget()
        self.allowed_list.setMaximumHeight(110)
        self.allowed_edit = QtWidgets.QLineEdit(placeholderText="a scanner's AE title")
        self.allowed_edit.returnPressed.connect(self.add_allowed)
        add, remove = QtWidgets.QPushButton("Add"), QtWidgets.QPushButton("Remove")
        row = button_row([(add, self.add_allowed), (remove, self.remove_allowed)])
        row.insertWidget(0, self.allowed_edit, stretch=1)
        column = QtWidgets.QVBoxLayout()
        column.addWidget(self.allowed_list)
        column.addLayout(row)
        return column

    # ---- the fields ------------------------------------------------------------------------------------
    def show_fields(self, fields: NodeFields) -> None:
        self.ae_edit.setText(fields.ae_title)
        self.port_edit.setText(fields.port)
        self.allowed_list.clear()
        self.allowed_list.addItems(list(fields.allowed))
        self.forward_edit.setText(fields.forward)
        self.identity_check.setChecked(fields.keep_identity)
        self.validate()

    def fields(self) -> NodeFields:
        allowed = tuple(self.allowed_list.item(i).text() for i in range(self.allowed_list.count()))
        return NodeFields(
            self.ae_edit.text(), self.port_edit.text(), allowed, self.forward_edit.text(),
            self.identity_check.isChecked(),
        )  # fmt: skip

    def add_allowed(self) -> bool:
        try:
            title = check_ae_title(self.allowed_edit.text(), "allowed calling AE title")
        except NodeError as exc:
            self.errors["allowed"].show_message(sentence(str(exc)), "error")
            return False
        if title not in self.fields().allowed:
            self.allowed_list.addItem(title)
        self.allowed_edit.clear()
        self.validate()
        return True

    def remove_allowed(self) -> None:
        for item in self.allowed_list.selectedItems():
            self.allowed_list.takeItem(self.allowed_list.row(item))
        self.validate()

    def validate(self) -> NodeConfig | None:
        """Show each field's message; enable Save and Start only when every field is right."""
        config, errors = check_fields(self.fields(), str(self.prefs["node_bind"]))
        for name, line in self.errors.items():
            line.show_message(sentence(errors.get(name, "")), "error")
        if "allowed" not in errors and not self.allowed_list.count():
            self.errors["allowed"].show_message(ANY_PEER, "warn")
        keep = self.identity_check.isChecked()
        self.identity_warning.show_message(IDENTITY_WARNING if keep else "Results are de-identified.",
                                           "warn" if keep else "info")  # fmt: skip
        self.save_button.setEnabled(config is not None)
        self.start_button.setEnabled(config is not None and not self.node.is_running())
        return config

    # ---- saving, starting, stopping --------------------------------------------------------------------
    def save(self) -> bool:
        config = self.validate()
        if config is None:
            self.status.show_message("Not saved: correct the fields marked in red.", "error")
            return False
        save_config(self.prefs, config)
        running = self.node.is_running()
        note = " They apply the next time the node starts (Stop, then Start)." if running else ""
        self.status.show_message("Settings saved." + note, "warn" if running else "ok")
        return True

    def start(self) -> bool:
        """Save, then run the node on the window's dataset (created first: a bad folder is said here)."""
        config = self.validate()
        if self.node.is_running() or config is None or not self.save():
            return False
        window = self.window_
        if window.ensure_store() is None:  # it said why, in a message box
            self.status.show_message("The node needs a dataset: File → Open dataset…", "error")
            return False
        command = serve_command(
            window.store_folder, config, window.link.bundle, window.models.device, window.models.backend
        )
        return self.node.start(command)

    def _node_changed(self) -> None:
        state = self.node.state
        kind = {LISTENING: "ok", EXITED: "error"}.get(state, "info")
        self.status.show_message(f"Node: {self.node.status_text()}", kind)
        self.status.setToolTip("\n".join(list(self.node.lines)[-20:]))  # its last output, for support
        self.stop_button.setEnabled(self.node.is_running())
        self.store_label.setText(str(self.window_.store_folder))
        self.validate()

    def showEvent(self, event) -> None:
        self.store_label.setText(str(self.window_.store_folder))
        super().showEvent(event)


def open_node_settings(window: MainWindow) -> NodeSettingsDialog:
    """The window's one settings dialog, made on first use, shown and raised."""
    dialog = window.findChild(NodeSettingsDialog) or NodeSettingsDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
