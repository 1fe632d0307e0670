"""View → Cases: the dataset (and the open folder) as a tree with each frame's reading status; filters; open.

Grouped by the source's group (patient/cohort) where it gave one, else by case; a group of several cases lists
them; frames carry their side (L/R) where the frame's meta says. The rows and statuses are the headless
c5desk.store.browse's (one query). The open folder's files are matched to the dataset by their source id, read
lazily here, one file per event-loop turn, so a large folder never freezes the window.

Refreshed by its button, when shown, after Save / Accept and after a dataset or folder is opened (the window
has no "saved" signal; saves by a Save/Discard prompt show at the next refresh).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row
from c5desk.store import browse
from c5desk.store.browse import CHECKING, RECEIVED, STATUSES, BrowseRow

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow
    from c5desk.store import Store

COLUMNS = ("Case / frame", "Status", "P(malignant)", "Label", "Category", "Dice change")
FILTERS = (("All frames", None), *((status.capitalize() if status != "AI only" else status, status)
           for status in STATUSES), ("Received over DICOM", RECEIVED))  # fmt: skip
KEY = QtCore.Qt.ItemDataRole.UserRole  # ("frame", id) | ("file", path) | ("group", text)
Item = QtWidgets.QTreeWidgetItem
EXPAND_UP_TO = 400  # rows shown; more start collapsed (expanding thousands of items is slow)
TYPING_MS = 250  # the tree follows the search text once typing pauses (10 000 rows take ~0.5 s to list)


def row_cells(row: BrowseRow) -> list[str]:
    side = f"{row.side} · " if row.side else ""
    view = f" ({row.view})" if row.view else ""
    name = row.case if row.path is not None else f"{side}frame {row.frame_index + 1}{view}"
    score = "—" if row.p_malignant is None else f"{row.p_malignant:.2f}"
    label = row.label or (f"{row.model_label} (AI)" if row.model_label else "—")
    change = "—" if row.seg_change is None else f"{row.seg_change:.0%}"
    return [name, row.status_text(), score, label, row.category or "—", change]


def counts_text(rows: list[BrowseRow]) -> str:
    counts = browse.status_counts(row for row in rows if row.status != CHECKING)
    parts = " · ".join(f"{n} {name}" for name, n in counts.items())
    checking = sum(row.status == CHECKING for row in rows)
    return f"{len(rows)} frame(s): {parts}" + (f" · {checking} being checked" if checking else "")


class FolderIds:
    """Source ids of the open folder's files, read one at a time; a changed file is read again."""

    def __init__(self, done: Callable[[], None], parent: QtCore.QObject) -> None:
        self.ids: dict[Path, str | None] = {}
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._queue: list[Path] = []
        self._done = done
        self._timer = QtCore.QTimer(parent, singleShot=True, interval=0)  # dies with the widget
        self._timer.timeout.connect(self._next)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def want(self, files: list[Path]) -> None:
        for path in files:
            if self._stamps.get(path) != _stamp(path):
                self.ids.pop(path, None)
        self._queue = [path for path in files if path not in self.ids]
        if self._queue:
            self._timer.start()

    def _next(self) -> None:
        if not self._queue:
            return
        path = self._queue.pop(0)
        self._stamps[path], self.ids[path] = _stamp(path), browse.file_source_id(path)
        if self._queue:
            self._timer.start()
        else:
            self._done()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_mtime_ns, info.st_size)


class CaseBrowser(QtWidgets.QWidget):
    open_frame = QtCore.Signal(int)  # a dataset frame id
    open_file = QtCore.Signal(object)  # a Path of the open folder

    def __init__(self, store: Callable[[], Store | None], files: Callable[[], list[Path]]) -> None:
        super().__init__()
        self._store, self._files = store, files
        self._stored: list[BrowseRow] = []
        self._folder_ids = FolderIds(self.render, self)
        self.filter = QtWidgets.QComboBox()
        for text, value in FILTERS:
            self.filter.addItem(text, value)
        self.search = QtWidgets.QLineEdit(placeholderText="Case or group…", clearButtonEnabled=True)
        self.counts, self.status = QtWidgets.QLabel(), StatusLine()
        self.counts.setWordWrap(True)
        self.tree = QtWidgets.QTreeWidget(columnCount=len(COLUMNS), uniformRowHeights=True)
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.itemActivated.connect(self._activated)  # double-click or Enter
        self.filter.currentIndexChanged.connect(self.render)
        self._typing = QtCore.QTimer(self, singleShot=True, interval=TYPING_MS)
        self._typing.timeout.connect(self.render)
        self.search.textChanged.connect(self._typing.start)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.filter)
        bar.addWidget(self.search, stretch=1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.counts)
        layout.addWidget(self.tree, stretch=1)
        layout.addWidget(self.status)
        layout.addLayout(button_row([(QtWidgets.QPushButton("Refresh"), self.refresh)]))
        self._later = QtCore.QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self.refresh)

    # ---- reading --------------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the dataset again (and the open folder's list); False, with the reason, when it cannot."""
        store = self._store()
        try:
            self._stored = browse.browse_rows(store) if store is not None else []
        except C5Error as exc:
            self.status.show_message(f"Cannot read the dataset: {exc}", "error")
            return False
        if store is None:
            self.status.show_message("The dataset is not available (see the status bar).", "error")
        else:
            self.status.show_message("Double-click a frame (or press Enter) to open it.")
        self._folder_ids.want(self._files())
        self.render()
        return store is not None

    def refresh_later(self) -> None:
        """Refresh once control returns to the event loop, if the browser is on screen."""
        if self.isVisible():
            self._later.start()

    @property
    def checking(self) -> int:
        """Folder files whose source id is still being read."""
        return self._folder_ids.pending

    def rows(self) -> list[BrowseRow]:
        """The folder's files (when a folder is open) and the dataset's frames, before filtering."""
        files = self._files()
        folder = browse.folder_rows(files, self._folder_ids.ids, self._stored) if files else []
        return [*folder, *self._stored]

    def shown_rows(self) -> list[BrowseRow]:
        wanted, text = self.filter.currentData(), self.search.text()
        return [row for row in self.rows() if browse.matches(row, wanted, text)]

    # ---- the tree -------------------------------------------------------------------------------------
    def render(self) -> None:
        shown = self.shown_rows()
        selected, (known, expanded) = self._selected_key(), self._expansion()
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        folder = [row for row in shown if row.path is not None]
        if folder:
            self._add_group("Open folder", folder, by_case=False)
        groups: dict[str, list[BrowseRow]] = {}
        for row in shown:
            if row.path is None:
                groups.setdefault(row.group_key, []).append(row)
        for key, rows in groups.items():
            self._add_group(f"group {key}" if rows[0].group else key, rows, by_case=True)
        self._restore(selected, known, expanded, expand_new=len(shown) <= EXPAND_UP_TO)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self.tree.setUpdatesEnabled(True)
        # a folder file already in the dataset is counted once, as a dataset frame
        self.counts.setText(counts_text([r for r in self.rows() if r.path is None or not r.in_dataset]))

    def _add_group(self, title: str, rows: list[BrowseRow], by_case: bool) -> None:
        top = _item(None, [title, f"{len(rows)} frame(s)"], ("group", title))
        self.tree.addTopLevelItem(top)
        cases: dict[str, list[BrowseRow]] = {}
        for row in rows:
            cases.setdefault(row.case if by_case else "", []).append(row)
        for case, members in cases.items():
            parent = top
            if by_case and (len(cases) > 1 or title != case):
                parent = _item(top, [case, f"{len(members)} frame(s)"], ("group", f"{title}/{case}"))
            for row in sorted(members, key=lambda r: (r.side or "~", r.frame_index)):
                key = ("file", str(row.path)) if row.path is not None else ("frame", row.frame_id)
                _item(parent, row_cells(row), key)

    def _selected_key(self) -> object:
        item = self.tree.currentItem()
        return item.data(0, KEY) if item is not None else None

    def _expansion(self) -> tuple[set[object], set[object]]:
        """Keys of the items listed now, and of those expanded (kept as the user left them)."""
        items = list(_walk(self.tree.invisibleRootItem()))
        return {item.data(0, KEY) for item in items}, {i.data(0, KEY) for i in items if i.isExpanded()}

    def _restore(self, selected: object, known: set[object], expanded: set[object], expand_new: bool) -> None:
        for item in _walk(self.tree.invisibleRootItem()):
            key = item.data(0, KEY)
            item.setExpanded(key in expanded if key in known else expand_new)
            if key == selected:
                self.tree.setCurrentItem(item)

    def items(self) -> list[Item]:
        """The frame and file items of the tree, top to bottom."""
        return [i for i in _walk(self.tree.invisibleRootItem()) if i.data(0, KEY)[0] in ("frame", "file")]

    def _activated(self, item: Item, _column: int = 0) -> None:
        kind, value = item.data(0, KEY)
        if kind == "frame":
            self.open_frame.emit(int(value))
        elif kind == "file":
            self.open_file.emit(Path(value))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()


def _item(parent: Item | None, cells: list[str], key: tuple[str, object]) -> Item:
    item = Item(cells) if parent is None else Item(parent, cells)
    item.setData(0, KEY, key)
    return item


def _walk(root: Item):
    for index in range(root.childCount()):
        child = root.child(index)
        yield child
        yield from _walk(child)


# ---- the window ---------------------------------------------------------------------------------------
def _open_file(window: MainWindow, path: Path) -> bool:
    """A folder file: stepped to within the open folder (which stays open), else opened on its own."""
    files = window.session.files
    if path in files:
        return window.reading.open_file_at(files.index(path))
    return window.open_path(path)


def install_case_browser(window: MainWindow) -> CaseBrowser:
    """The Cases dock (hidden until View → Cases), wired to the window; once per window."""
    existing = getattr(window, "case_browser", None)
    if existing is not None:
        return existing
    browser = CaseBrowser(lambda: window.reading.ensure_store(quiet=True), lambda: list(window.session.files))
    dock = QtWidgets.QDockWidget("Cases", window)
    dock.setObjectName("dock_cases")
    dock.setWidget(browser)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    dock.hide()
    browser.open_frame.connect(window.open_store_frame)
    browser.open_file.connect(lambda path: _open_file(window, path))
    for key in ("save", "accept_ai", "open_store", "open_folder"):
        if key in window.actions:  # connected after the action's own slot: runs once it is done
            window.actions[key].triggered.connect(browser.refresh_later)
    window.frame_list.model().rowsInserted.connect(browser.refresh_later)  # a folder was opened
    window.case_browser, window.cases_dock = browser, dock
    return browser


def show_case_browser(window: MainWindow) -> None:
    """View → Cases: the dock shown (installed first if the window has not yet), raised and refreshed."""
    browser = install_case_browser(window)
    window.cases_dock.show()
    window.cases_dock.raise_()
    browser.refresh()
