"""`c5desk --self-test`: prove an installation works without opening a window.

Loads the shipped model (the default bundle; --bundle for another), scores the bundled sample frame (a
biopsy-proven carcinoma from BUS-BRA's test fold), re-scores it with its own outline (the path an edited
mask takes), checks the results are sane and prints ONE line:

    c5desk self-test: PASS model <version> on <device> via <backend>: P(malignant) 0.93, lesion ... in 0.4 s
    c5desk self-test: FAIL: <reason>

Exit status 0 on PASS, 1 on FAIL. The installer's build script runs it on the built bundle and fails the
build on FAIL. A bundle with random weights (version 'random-...', made for tests) is refused unless
--allow-untrained is given: an installation must never ship one.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"
PREFIX = "c5desk self-test:"
MAX_SCORE_SECONDS = 60.0  # one frame on the slowest supported CPU takes a few seconds; more means trouble


class SelfTestFailure(Exception):
    """A check failed; str() is the reason shown after FAIL."""


@dataclass(frozen=True)
class Options:
    bundle: Path | None = None
    backend: str = "auto"
    device: str = "cpu"
    allow_untrained: bool = False
    sample: Path = SAMPLE
    max_seconds: float = MAX_SCORE_SECONDS
    gui: bool = False


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise SelfTestFailure(reason)


def resolve_bundle(options: Options) -> Path:
    from c5desk.model.bundle import read_spec
    from c5desk.model.catalog import default_bundle

    folder = options.bundle or default_bundle()
    spec = read_spec(folder)
    untrained = spec.version.startswith("random-") or spec.notes.startswith("FOR TESTS ONLY")
    check(
        options.allow_untrained or not untrained,
        f"bundle {spec.version!r} at {folder} has random test weights, not a trained model",
    )
    return Path(folder)


def check_prediction(result, frame) -> None:
    shape = frame.grey.shape
    check(result.prob.shape == shape, f"the probability map is {result.prob.shape}, the frame {shape}")
    check(bool(np.isfinite(result.prob).all()), "the probability map has NaN or infinite values")
    low, high = float(result.prob.min()), float(result.prob.max())
    check(low >= 0.0 and high <= 1.0, f"the probability map leaves [0, 1] ({low:.3g}..{high:.3g})")
    check(bool(result.mask.any()), "no lesion found on the sample frame, which shows a biopsy-proven one")
    p = result.p_malignant
    check(math.isfinite(p) and 0.0 <= p <= 1.0, f"P(malignant) = {p} is not a probability")
    check(math.isfinite(result.uncertainty), f"uncertainty = {result.uncertainty} is not finite")
    m = result.measurements
    check(m is not None, "the mask gave no measurements")
    check(m.area_px > 0 and m.long_axis > 0 and m.short_axis > 0, "the lesion measurements are empty")
    check(math.isfinite(m.long_axis) and math.isfinite(m.short_axis), "the lesion axes are not finite")


def run_checks(options: Options) -> str:
    """Run every check; returns the PASS details, raises SelfTestFailure (or any C5Error) otherwise."""
    from c5desk.inference import make_predictor
    from c5desk.io import open_source

    start = time.perf_counter()
    folder = resolve_bundle(options)
    predictor = make_predictor(folder, device=options.device, backend=options.backend)
    loaded = time.perf_counter()
    check(options.sample.is_file(), f"the sample frame {options.sample} is missing from the installation")
    with open_source(options.sample) as source:
        frame = source.frame(0)
    result = predictor.predict(frame)
    p_rescored, _, _ = predictor.rescore(frame, result.mask)
    scored = time.perf_counter()
    check_prediction(result, frame)
    check(math.isfinite(p_rescored) and 0.0 <= p_rescored <= 1.0, f"rescored P = {p_rescored} is invalid")
    check(scored - loaded <= options.max_seconds, f"scoring took {scored - loaded:.1f} s")
    m = result.measurements
    details = (
        f"model {predictor.version} on {predictor.device} via {predictor.backend}: "
        f"P(malignant) {result.p_malignant:.2f} ({result.label}), rescored {p_rescored:.2f}, "
        f"lesion {m.long_axis:.0f} x {m.short_axis:.0f} {m.units}, "
        f"load {loaded - start:.1f} s, score {scored - loaded:.1f} s"
    )
    if options.gui:
        from c5desk.gui.smoke import window_check  # Qt only for this check: the core never needs it

        details += f"; {window_check(options.sample, options.bundle)}"
    return details


def run_self_test(options: Options) -> tuple[bool, str]:
    """(passed, the one-line verdict). Never raises: any failure is a FAIL line."""
    from c5desk.errors import C5Error

    try:
        return True, f"{PREFIX} PASS {run_checks(options)}"
    except (SelfTestFailure, C5Error) as exc:
        return False, f"{PREFIX} FAIL: {exc}"
    except Exception as exc:  # a broken installation can fail in any way; the verdict must still print
        reason = (str(exc).splitlines() or [""])[0]
        return False, f"{PREFIX} FAIL: {type(exc).__name__}: {reason}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c5desk --self-test", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle",
        "--model",
        dest="bundle",
        type=Path,
        help="model bundle to test (default: the shipped model)",
    )
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"))
    parser.add_argument("--device", default="cpu", help="cpu (default), auto or cuda")
    parser.add_argument("--allow-untrained", action="store_true", help="accept random test weights")
    parser.add_argument("--sample", type=Path, default=SAMPLE, help="frame to score (default: bundled)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SCORE_SECONDS)
    parser.add_argument(
        "--gui", action="store_true", help="also open the window, load the model and outline the sample"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = Options(
        bundle=args.bundle,
        backend=args.backend,
        device=args.device,
        allow_untrained=args.allow_untrained,
        sample=args.sample,
        max_seconds=args.max_seconds,
        gui=args.gui,
    )
    passed, line = run_self_test(options)
    print(line, flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
