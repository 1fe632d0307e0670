"""Main window: a frame view with a cine slider over a headless Session."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.errors import C5Error
from c5desk.io.frame import Frame
from c5desk.session import Session


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.session = session or Session()
        self.setWindowTitle("c5desk")
        self.resize(1100, 800)
        self.setAcceptDrops(True)
        self._build_view()
        self._build_menu()
        self.statusBar().showMessage("Open a frame, DICOM or video (Ctrl+O)")

    def _build_view(self) -> None:
        self.view = pg.GraphicsLayoutWidget()
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("bottom")
        self.plot.hideAxis("left")
        self.image_item = pg.ImageItem()
        self.plot.addItem(self.image_item)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.show_frame)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.addWidget(self.view, stretch=1)
        layout.addWidget(self.slider)
        self.setCentralWidget(central)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = file_menu.addAction("&Open…")
        open_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_file)
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open frame, DICOM or video")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open a file; a bad one gives a message and leaves the current frame on screen."""
        try:
            frame = self.session.open(path)
        except C5Error as exc:
            self.report_error("Cannot open file", str(exc))
            return False
        count = self.session.frame_count
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self._render(frame)
        return True

    def show_frame(self, index: int) -> None:
        try:
            self._render(self.session.go_to(index))
        except C5Error as exc:
            self.report_error("Cannot decode frame", str(exc))

    def _render(self, frame: Frame) -> None:
        self.image_item.setImage(frame.pixels, autoLevels=True)
        self.plot.autoRange()
        scale = f"{frame.mm_per_px[0]:.4f} mm/px" if frame.mm_per_px else "uncalibrated (measurements in px)"
        name = self.session.path.name if self.session.path else ""
        self.statusBar().showMessage(f"{name} — frame {frame.index + 1}/{self.session.frame_count} — {scale}")

    def report_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message)
        QtWidgets.QMessageBox.warning(self, title, message)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.open_path(urls[0].toLocalFile())
