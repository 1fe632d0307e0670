"""Render the main window on real frames, with its overlay and score, to PNGs (docs/screenshot.png and
docs/screenshots/<scenario>.png).

    .venv/bin/python scripts/screenshot.py [--model BUNDLE] [--mask PNG] [--out docs/screenshot.png]
    .venv/bin/python scripts/screenshot.py --scenario box [--scenario cine ...|--scenario all]
                                           [--out-dir docs/screenshots]

Without --scenario: the window on resources/samples/bus_sample.png (BUS-BRA bus_0005-r) with the model's
outline and heat map, written to --out. The model is --model, else the installed trained bundle. Without a
trained model the window runs a random-weight test bundle, and says so in its score panel (TEST MODEL
badge): the picture then shows the app, not a diagnosis. --mask (default: the frame's BUS-BRA reference
outline when the dataset is present and no trained model is installed) is painted as the clinician's edit,
so the screenshot also shows the live rescore of an edited mask.

With --scenario NAME (repeatable; `all` for every one), one 1280x720 PNG per scenario in --out-dir, each
made by driving a fresh window through its menus, tools and real mouse events, on the CPU (torch):
  box       the sample frame, Box tool: a box dragged around the lesion (its BUS-BRA reference outline's
            bounding box); the model's outline inside it. The canvas draws a box only while it is dragged,
            so the same box is dragged again (button still held) when the picture is taken.
  clicks    the sample frame, Click tool: right clicks cut the model's leak left of the lesion, a left
            click adds its missed lower middle; the green + and red − markers show where.
  lesions   a BUS-UCLM frame (ALWI_011, train split) whose reference holds two lesions, each boxed as its
            own lesion (needs the dataset under the data root; skipped with a message otherwise).
  calipers  a calibrated ultrasound DICOM (pydicom-data gdcm-US-ALOKA-16.dcm): distance calipers across
            the model's outline (width and depth, in mm) and an area caliper traced around it.
  cine      a 120-frame ultrasound clip (pydicom-data color3d_jpeg_baseline.dcm): Score all frames, then
            Go to the most suspicious frame; the per-frame P(malignant) strip under the slider.
  batch     File > Score a folder... on a few BUS-BRA frames (needs the dataset under the data root;
            skipped with a message otherwise), finished, over the window.
The scenarios live in scripts/screenshot_scenes.py. Every wait is on a condition (model loaded, worker idle,
score current), never a fixed delay. The exit status is non-zero when no requested scenario wrote a picture
(e.g. only scenarios whose data is missing).
Renders offscreen: no display needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_MASK = Path("busbra") / "Masks" / "mask_0005-r.png"
SCENARIOS = ("box", "clicks", "lesions", "calipers", "cine", "batch")

from screenshot_scenes import SAMPLE, Scenes, Skipped, answer_message_boxes, save_png, wait  # noqa: E402


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


def render(bundle: Path, mask_path: Path | None, out: Path, scratch: Path, heat: bool) -> None:
    """The default picture: the sample with the model's outline (or --mask as an edit) at 1500x940."""
    import cv2
    import numpy as np

    from c5desk.gui.app import create_application
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    app = create_application("dark")
    answer_message_boxes()
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
    save_png(window.grab(), out)
    doc.editor.reset(np.zeros(doc.frame.shape, bool))  # nothing unsaved to ask about when closing
    doc.label = doc.category = None
    doc.note = ""
    window.close()


def run_scenarios(names: list[str], bundle: Path, scratch: Path, out_dir: Path) -> int:
    """Render each named scenario; 1 when none of them wrote a picture."""
    scenes, written = None, 0
    for name in names:
        scenes = scenes or Scenes(bundle, scratch, out_dir)
        try:
            out = getattr(scenes, name)()
        except Skipped as why:
            print(f"scenario {name}: skipped ({why})")
            continue
        finally:
            scenes.close()
        written += 1
        print(f"scenario {name}: wrote {out}")
    return 0 if written else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model bundle folder (default: the installed one)")
    parser.add_argument("--mask", type=Path, help="a mask PNG of the sample frame, shown as an edit")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=(*SCENARIOS, "all"),
        help="render this scenario to OUT_DIR/NAME.png (repeatable; all: every one)",
    )
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    names = list(dict.fromkeys(n for s in args.scenario or [] for n in (SCENARIOS if s == "all" else [s])))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from c5desk.settings import data_root

    with tempfile.TemporaryDirectory(prefix="c5desk-screenshot-") as tmp:
        scratch = Path(tmp)
        os.environ["C5DESK_CONFIG"] = str(scratch)  # the user's settings and dataset stay untouched
        bundle, trained = pick_model(args.model, scratch)
        if names:
            status = run_scenarios(names, bundle, scratch, args.out_dir)
        else:
            mask = args.mask
            if mask is None and not trained and (data_root() / REFERENCE_MASK).is_file():
                mask = data_root() / REFERENCE_MASK
            render(bundle, mask, args.out, scratch, heat=trained)
            print(f"wrote {args.out}")
            status = 0
    sys.exit(status)


if __name__ == "__main__":
    main()
