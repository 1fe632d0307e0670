"""Desktop app responsiveness: time until the window is visible, and brush painting frames per second.

1. Startup: a fresh process (interpreter start included) builds the window, shows it and reports when it is
   exposed; the model loads on the worker thread meanwhile, and the first frame's score arrives after.
   Target: window visible in <= 2 s with the model loading in the background.
2. Brush: a 1024x768 frame; a stroke of real mouse-move events on the canvas's viewport. One displayed frame
   = the move event -> pyqtgraph scene -> stamp on the raster mask -> overlay update of the changed box ->
   the event loop's repaint of the dirty region, timed until that paint has happened. Target: >= 60
   frames/s. Also shown: the worst case where every move repaints the whole viewport. The end of the stroke
   (contour, measurements, rescore request) is timed on its own: it happens once per stroke.

Renders offscreen (QT_QPA_PLATFORM=offscreen: Qt's raster engine, the same one a desktop uses for widgets).
Without a trained bundle the model is a random c5net_tiny at 256 px, which loads like a real one.

    .venv/bin/python benchmarks/bench_gui.py [--bundle PATH] [--moves 600] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTUP_TARGET_S = 2.0
BRUSH_TARGET_FPS = 60.0
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "samples" / "bus_sample.png"

CHILD = r"""
import sys, time, json
t_imports = time.perf_counter()
from pathlib import Path
from c5desk.gui.app import create_application
from c5desk.gui.main_window import MainWindow
app = create_application()
window = MainWindow(bundle=Path(sys.argv[1]), device="cpu")
window.show()
while not (window.windowHandle() and window.windowHandle().isExposed()):
    app.processEvents()
app.processEvents()
print("VISIBLE", flush=True)
t_visible = time.perf_counter()
window.open_path(sys.argv[2])
while window.link.predictor is None and (window.link.loading or window.link.worker.pending):
    app.processEvents(); time.sleep(0.005)
t_model = time.perf_counter()
doc = window.document
while doc.prediction is None and window.link.worker.pending:
    app.processEvents(); time.sleep(0.005)
t_score = time.perf_counter()
print("RESULT " + json.dumps({"model_after_visible_s": t_model - t_visible,
      "score_after_visible_s": t_score - t_visible, "scored": doc.prediction is not None,
      "python_imports_s": t_visible - t_imports}), flush=True)
window.close()
"""


def startup_once(bundle: Path, env: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(bundle), str(SAMPLE)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    result: dict[str, float] = {}
    for line in child.stdout:  # type: ignore[union-attr]
        if line.startswith("VISIBLE"):
            result["visible_s"] = time.perf_counter() - start
        elif line.startswith("RESULT "):
            result.update(json.loads(line[7:]))
    child.wait(timeout=600)
    return result


def bench_startup(bundle: Path, runs: int, config: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "C5DESK_CONFIG": str(config)}
    results = [startup_once(bundle, env) for _ in range(runs + 1)][1:]  # the first run warms the disk cache
    visible = statistics.median(r["visible_s"] for r in results)
    print(f"\nStartup (median of {runs} fresh processes, interpreter start included)")
    print(f"  window visible           {visible:6.2f} s   target <= {STARTUP_TARGET_S:.1f} s   "
          f"ratio {visible / STARTUP_TARGET_S:.2f}x of the budget")  # fmt: skip
    model = statistics.median(r["model_after_visible_s"] for r in results)
    scored = statistics.median(r["score_after_visible_s"] for r in results)
    print(f"  model loaded             {model:6.2f} s after the window appeared (background)")
    print(f"  first frame scored       {scored:6.2f} s after the window appeared")


def bench_brush(moves: int, runs: int, config: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["C5DESK_CONFIG"] = str(config)
    import cv2
    import numpy as np

    from c5desk.gui.app import create_application
    from c5desk.gui.main_window import MainWindow

    frame_path = config / "frame_1024x768.png"
    cv2.imwrite(str(frame_path), cv2.resize(cv2.imread(str(SAMPLE)), (1024, 768)))
    app = create_application()
    window = MainWindow(load_model=False, store_folder=config / "dataset")
    window.resize(1280, 960)
    window.show()
    app.processEvents()
    window.open_path(str(frame_path))
    window.actions["tool_brush"].trigger()
    window.canvas.set_brush_radius(12)
    app.processEvents()
    paints = PaintCounter(window.canvas.viewport())
    print(f"\nBrush painting on a 1024x768 frame ({runs} strokes x {moves} moves, radius 12 px, "
          f"viewport {window.canvas.viewport().width()}x{window.canvas.viewport().height()})")  # fmt: skip
    for label, full in (("event loop (dirty region)", False), ("full viewport repaint", True)):
        per_frame, stroke_end = stroke_times(window, paints, moves, runs, full)
        fps = 1.0 / statistics.mean(per_frame)
        p95 = 1e3 * sorted(per_frame)[int(0.95 * len(per_frame))]
        print(f"  {label:26} {fps:6.1f} frames/s  (target >= {BRUSH_TARGET_FPS:.0f}, ratio "
              f"{fps / BRUSH_TARGET_FPS:.2f}x)  median {1e3 * statistics.median(per_frame):.2f} ms, "
              f"p95 {p95:.2f} ms; end of stroke {1e3 * statistics.median(stroke_end):.1f} ms")  # fmt: skip
    window.document.editor.reset(np.zeros(window.document.frame.shape, bool))  # nothing left to ask about
    window.close()


class PaintCounter:
    """Counts paint events of a widget, to know when a frame has really been drawn."""

    def __init__(self, widget) -> None:
        from PySide6 import QtCore

        class Filter(QtCore.QObject):
            def eventFilter(inner, obj, event) -> bool:
                if event.type() == QtCore.QEvent.Type.Paint:
                    self.count += 1
                return False

        self.count, self.widget = 0, widget
        self._filter = Filter()
        widget.installEventFilter(self._filter)

    def wait_for_paint(self) -> None:
        from PySide6 import QtWidgets

        seen = self.count
        for _ in range(20):
            QtWidgets.QApplication.processEvents()
            if self.count > seen:
                return


def stroke_times(window, paints: PaintCounter, moves: int, runs: int, full: bool) -> tuple[list, list]:
    import numpy as np

    viewport, canvas = window.canvas.viewport(), window.canvas
    per_frame, stroke_end = [], []
    for run in range(runs):
        t = np.linspace(0, 1, moves)
        xs, ys = 100 + 820 * t, 384 + 250 * np.sin(2 * np.pi * (3 * t + run / runs))
        points = [to_viewport(canvas, x, y) for x, y in zip(xs, ys, strict=True)]
        send_mouse(viewport, "press", points[0])
        paints.wait_for_paint()
        for point in points[1:]:
            start = time.perf_counter()
            send_mouse(viewport, "move", point)
            viewport.repaint() if full else paints.wait_for_paint()
            per_frame.append(time.perf_counter() - start)
        start = time.perf_counter()
        send_mouse(viewport, "release", points[-1])
        paints.wait_for_paint()
        stroke_end.append(time.perf_counter() - start)
    return per_frame, stroke_end


def to_viewport(canvas, x: float, y: float):
    """Frame pixel centre (x, y) to a point on the canvas's viewport."""
    from PySide6 import QtCore

    return canvas.mapFromScene(canvas.view.mapViewToScene(QtCore.QPointF(x + 0.5, y + 0.5)))


def send_mouse(widget, kind: str, point) -> None:
    """A real QMouseEvent (left button), delivered as the window system delivers it."""
    from PySide6 import QtCore, QtGui, QtWidgets

    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    event_type, button, buttons = {
        "press": (QtCore.QEvent.Type.MouseButtonPress, left, left),
        "move": (QtCore.QEvent.Type.MouseMove, none, left),
        "release": (QtCore.QEvent.Type.MouseButtonRelease, left, none),
    }[kind]
    local = QtCore.QPointF(point)
    event = QtGui.QMouseEvent(event_type, local, widget.mapToGlobal(local), button, buttons,
                              QtCore.Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QtWidgets.QApplication.sendEvent(widget, event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="model bundle (default: the installed one, else random)")
    parser.add_argument("--moves", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="c5desk-bench-gui-") as tmp:
        config = Path(tmp)
        bundle = args.bundle or installed_or_random(config)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; model bundle {bundle.name}")
        if not args.skip_startup:
            bench_startup(bundle, args.runs, config)
        bench_brush(args.moves, args.runs, config)


def installed_or_random(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from c5desk.errors import ModelError
    from c5desk.model.catalog import default_bundle

    try:
        return default_bundle()
    except ModelError:
        from c5desk.model.bundle import make_random_bundle

        return make_random_bundle(folder / "random-tiny", arch="c5net_tiny", input_size=256)


if __name__ == "__main__":
    main()
