"""Copy a model bundle into the build folder and add its ONNX graphs there (never touching the original).

    python installer/export_onnx.py SOURCE_BUNDLE DEST_FOLDER [--exclude NAME ...]

DEST_FOLDER receives a copy of the bundle folder (model.json, model.safetensors, the model card and whatever
else it holds, less the --exclude'd entries, e.g. the retraining replay sample a lean installation cannot use)
and model.onnx + rescore.onnx + onnx.json (c5desk.model.onnx_graphs). The export is then checked on the
bundled sample frame: the ONNX Runtime predictor must agree with the torch one (mask probabilities,
P(malignant), rescoring) or the script fails.
Needs torch, so it runs in the development environment, not in the lean bundle.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from c5desk.errors import C5Error  # noqa: E402
from c5desk.model.bundle import SPEC_FILE, WEIGHTS_FILE, read_spec  # noqa: E402
from c5desk.model.catalog import SHIPPED_MODELS  # noqa: E402
from c5desk.model.onnx_graphs import export_bundle_graphs  # noqa: E402
from c5desk.selftest import SAMPLE  # noqa: E402

TOLERANCE = 1e-3  # probabilities; fp32 graph rewrites differ by ~1e-6, a broken export by far more


def copy_bundle(source: Path, dest: Path, exclude: tuple[str, ...] = ()) -> None:
    """A fresh copy of the bundle folder less `exclude`; refuses to write into the shipped models folder."""
    dest, source = dest.resolve(), source.resolve()
    if dest == source or dest.is_relative_to(SHIPPED_MODELS.resolve()):
        raise C5Error(f"refusing to write into {dest}: the export goes to a copy in the build folder")
    read_spec(source)  # a clear error for a folder that is not a bundle
    if {SPEC_FILE, WEIGHTS_FILE} & set(exclude):
        raise C5Error(f"{SPEC_FILE} and {WEIGHTS_FILE} cannot be excluded: they are the bundle")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=lambda folder, names: [n for n in names if n in exclude])


def check_parity(bundle: Path, sample: Path = SAMPLE) -> str:
    """Score the sample with both engines; raise C5Error when they disagree beyond TOLERANCE."""
    from c5desk.inference import make_predictor
    from c5desk.io import open_source

    with open_source(sample) as source:
        frame = source.frame(0)
    torch_pred = make_predictor(bundle, device="cpu", backend="torch")
    onnx_pred = make_predictor(bundle, device="cpu", backend="onnxruntime")
    a, b = torch_pred.predict(frame), onnx_pred.predict(frame)
    mask = a.prob >= 0.5 if a.mask.any() else np.ones_like(a.mask)
    rescored = (torch_pred.rescore(frame, mask)[0], onnx_pred.rescore(frame, mask)[0])
    errors = {
        "mask probability": float(np.abs(a.prob - b.prob).max()),
        "P(malignant)": abs(a.p_malignant - b.p_malignant),
        "rescored P(malignant)": abs(rescored[0] - rescored[1]),
    }
    if "p_lesion" in a.extras:  # model v2: the lesion-present output and the prompt graph too
        errors["P(lesion)"] = abs(float(a.extras["p_lesion"]) - float(b.extras["p_lesion"]))
        errors.update(_prompt_parity(torch_pred, onnx_pred, frame, mask))
    if "unfamiliarity" in a.extras:  # the feature out-of-scope check: distance over its cut, kept to 0.001
        gap = abs(float(a.extras["unfamiliarity"]) - float(b.extras["unfamiliarity"]))
        errors["unfamiliarity beyond rounding"] = max(0.0, gap - 0.0011)
    worst = max(errors, key=errors.get)
    if errors[worst] > TOLERANCE:
        raise C5Error(f"the ONNX graphs disagree with torch: {worst} differs by {errors[worst]:.2g}")
    return ", ".join(f"{k} {v:.1g}" for k, v in errors.items())


def _prompt_parity(torch_pred, onnx_pred, frame, mask: np.ndarray) -> dict[str, float]:
    """Share of frame pixels the two engines' prompted outlines disagree on, for a box around `mask`."""
    from c5desk.inference.prompt import Prompt

    ys, xs = np.nonzero(mask)
    prompt = Prompt(box=(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    a, b = torch_pred.refine(frame, prompt), onnx_pred.refine(frame, prompt)
    return {"prompted mask (share of pixels)": float(np.mean(a.mask != b.mask))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="model bundle folder (e.g. resources/models/<version>)")
    parser.add_argument("dest", type=Path, help="new folder in the build area for the copy")
    parser.add_argument("--exclude", action="append", default=[], help="file or folder name not to copy")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        copy_bundle(args.source, args.dest, tuple(args.exclude))
        export_bundle_graphs(args.dest)
        parity = check_parity(args.dest)
    except C5Error as exc:
        print(f"export_onnx: error: {exc}", file=sys.stderr)
        return 1
    sizes = ", ".join(
        f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(args.dest.iterdir()) if p.is_file()
    )
    print(f"export_onnx: {args.dest}: {sizes}; torch vs ONNX Runtime max error: {parity}")
    print(f"export_onnx: done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
