"""Render the main window on a real frame, with its overlay and score, to a PNG (docs/screenshot.png).

    .venv/bin/python scripts/screenshot.py [--model BUNDLE] [--mask PNG] [--out docs/screenshot.png]

The frame is resources/samples/bus_sample.png (BUS-BRA bus_0005-r). The model is --model, else the
installed trained bundle. Without a trained model the window runs a random-weight test bundle, and says so
in its score panel (TEST MODEL badge): the picture then shows the app, not a diagnosis. --mask (default: the
frame's BUS-BRA reference outline when the dataset is present and no trained model is installed) is painted
as the clinician's edit, so the screenshot also shows the live rescore of an edited mask.
Renders offscreen: no display needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "samples" / "bus_sample.png"
REFERENCE_MASK = Path("busbra") / "Masks" / "mask_0005-r.png"


def pick_model(requested: Path | None, scratch: Path) -> tuple[Path, bool]:
    """(bundle, trained): the requested or installed bundle, else a random test bundle."""
    from c5desk.errors import ModelError
    from c5desk.model.bundle import make_random_bundle
    from c5desk.model.catalog import default_bundle

    if requested is not None:
        return requested, True
    try:
        return default_bundle(), True
    except ModelError:
        print("No trained model installed: using a random-weight TEST bundle (the window labels it so).")
        return make_random_bundle(scratch / "random-tiny", arch="c5net_tiny", input_size=256), False


def wait(app, condition, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the model")
        app.processEvents()
        time.sleep(0.01)


def render(bundle: Path, mask_path: Path | None, out: Path, scratch: Path, heat: bool) -> None:
    import cv2
    import numpy as np

    from c5desk.fsio import atomic_path
    from c5desk.gui.app import create_application
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    app = create_application("dark")
    window = MainWindow(bundle=bundle, prefs=Prefs(scratch / "gui.json"), store_folder=scratch / "dataset")
    window.resize(1500, 940)
    window.show()
    if not window.open_path(str(SAMPLE)):
        raise SystemExit(f"cannot open {SAMPLE}")
    doc = window.document
    wait(app, lambda: doc.prediction is not None and window.link.worker.pending == 0)
    assert doc is window.document
    if mask_path is not None:
        reference = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if reference is None or reference.shape != doc.frame.shape:
            raise SystemExit(f"{mask_path}: not a mask of this frame's size {doc.frame.shape}")
        doc.editor.apply(reference > 127, "clinician outline")
        window.canvas.refresh_mask()
        window.reading.edited()
        window.label_panel.set_label("malignant")
        window.label_panel.category.setCurrentText("BI-RADS 4c")
    window.actions["show_heat"].setChecked(heat)  # a random model's heat map is a uniform haze
    window.canvas.set_layer_visible("heat", heat)
    wait(app, lambda: not doc.score.pending and window.link.worker.pending == 0)
    window.canvas.fit()
    for _ in range(5):
        app.processEvents()
    with atomic_path(out) as temporary:
        if not window.grab().save(str(temporary), "PNG"):
            raise SystemExit(f"cannot write {out}")
    doc.editor.reset(np.zeros(doc.frame.shape, bool))  # nothing unsaved to ask about when closing
    doc.label = doc.category = None
    doc.note = ""
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model bundle folder (default: the installed one)")
    parser.add_argument("--mask", type=Path, help="a mask PNG of the sample frame, shown as an edit")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from c5desk.settings import data_root

    with tempfile.TemporaryDirectory(prefix="c5desk-screenshot-") as tmp:
        scratch = Path(tmp)
        os.environ["C5DESK_CONFIG"] = str(scratch)  # the user's settings and dataset stay untouched
        bundle, trained = pick_model(args.model, scratch)
        mask = args.mask
        if mask is None and not trained and (data_root() / REFERENCE_MASK).is_file():
            mask = data_root() / REFERENCE_MASK
        render(bundle, mask, args.out, scratch, heat=trained)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
