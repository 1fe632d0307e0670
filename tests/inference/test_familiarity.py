"""The out-of-scope check on the network's features (c5desk.inference.familiarity): the statistics and the
cut on synthetic descriptors, their file and its checks, the verdict in a Prediction, a bundle published
with them through both engines, and the shipped model on real frames: breast test frames stay in scope,
fetal heads (HC18, another organ) are flagged."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.errors import BundleError, ModelError
from c5desk.inference import make_predictor
from c5desk.inference.contract import Prediction
from c5desk.inference.familiarity import FACTOR, FILE, QUANTILE, descriptors, fit, load, with_familiarity
from c5desk.io.frame import Frame
from c5desk.model.bundle import read_spec, save_bundle, sha256_of
from c5desk.settings import RESOURCES, data_root

SHIPPED = RESOURCES / "models" / (RESOURCES / "models" / "DEFAULT").read_text(encoding="utf-8").strip()


def gaussian(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    scales = np.linspace(0.5, 3.0, 12)
    return rng.normal(shift, 1.0, (n, 12)) * scales


def test_the_cut_is_the_factor_times_the_held_out_quantile_and_far_frames_exceed_it() -> None:
    rng = np.random.default_rng(0)
    familiarity = fit(gaussian(rng, 400), gaussian(rng, 100))
    held_out = familiarity.distances(gaussian(np.random.default_rng(0), 100))
    assert familiarity.fitted_on == 400 and familiarity.held_out == 100
    fresh = familiarity.distances(gaussian(rng, 500))
    assert np.mean(fresh <= familiarity.cut) > 0.99  # new frames like the training ones stay in scope
    shifted = familiarity.distances(gaussian(rng, 200, shift=4.0))
    assert np.mean(shifted > familiarity.cut) > 0.95
    assert familiarity.cut == pytest.approx(FACTOR * np.quantile(_refit_held_out(), QUANTILE), rel=1e-9)
    assert held_out.shape == (100,)


def _refit_held_out() -> np.ndarray:
    rng = np.random.default_rng(0)
    train, held_out = gaussian(rng, 400), gaussian(rng, 100)
    return replace(fit(train, held_out), cut=1.0).distances(held_out)


def test_fitting_needs_frames_and_descriptors_must_fit_the_statistics() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        fit(np.zeros((1, 4)), np.zeros((3, 4)))
    familiarity = fit(gaussian(np.random.default_rng(1), 50), gaussian(np.random.default_rng(2), 10))
    with pytest.raises(ModelError, match=r"12 values per frame.*give 7"):
        familiarity.distances(np.zeros((2, 7)))


def test_descriptors_are_the_same_from_torch_lists_and_onnx_dicts_and_average_the_views() -> None:
    rng = np.random.default_rng(3)
    maps = [rng.normal(size=(4, c, s, s)).astype(np.float32) for c, s in ((8, 16), (16, 8), (32, 4))]
    from_list = descriptors(maps, views=2)
    from_dict = descriptors({f"feature_{i}": m for i, m in reversed(list(enumerate(maps)))}, views=2)
    assert from_list.shape == (2, 2 * (16 + 32)) and np.allclose(from_list, from_dict)
    one_view = descriptors([m[:2] for m in maps], views=1)
    mirrored = descriptors([m[2:] for m in maps], views=1)
    assert np.allclose(from_list, (one_view + mirrored) / 2)


def _prediction(extras: dict) -> Prediction:
    empty = np.zeros((8, 8), bool)
    return Prediction(
        prob=empty.astype(np.float32),
        mask=empty,
        contours=[],
        p_malignant=0.3,
        uncertainty=0.9,
        score_spread=0.0,
        seg_uncertainty=0.0,
        label="benign",
        calibrated=False,
        measurements=None,
        model_version="v",
        device="cpu",
        backend="torch",
        extras=extras,
    )


def test_the_verdict_marks_far_frames_out_of_scope_and_keeps_a_pixel_checks_reason() -> None:
    near = with_familiarity(_prediction({"in_scope": True, "scope_reason": ""}), 8.0, 10.0)
    assert near.extras == {"in_scope": True, "scope_reason": "", "unfamiliarity": 0.8}
    far = with_familiarity(_prediction({"in_scope": True, "scope_reason": ""}), 25.0, 10.0)
    assert far.extras["in_scope"] is False and "another organ" in far.extras["scope_reason"]
    assert "2.5x" in far.extras["scope_reason"] and far.p_malignant == 0.3  # the answer is still given
    doppler = {"in_scope": False, "scope_reason": "colour Doppler or colour overlay in the image (3% of it)"}
    both = with_familiarity(_prediction(doppler), 25.0, 10.0)
    assert both.extras["scope_reason"] == doppler["scope_reason"] and both.extras["unfamiliarity"] == 2.5


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A random c5net_tiny bundle published with statistics fitted on speckle frames by training's code."""
    torch = pytest.importorskip("torch")
    from c5desk.model.registry import create_model
    from training.data import Samples
    from training.familiarity_fit import fit_familiarity

    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=64).eval()
    rng = np.random.default_rng(0)
    images = np.stack([speckle(rng) for _ in range(24)])
    samples = Samples(
        images, np.zeros_like(images), np.zeros(24, np.int64), [str(i) for i in range(24)], [""] * 24
    )
    familiarity = fit_familiarity(model, samples.subset(range(16)), samples.subset(range(16, 24)))
    folder = tmp_path_factory.mktemp("fam") / "bundle"
    args = {"input_size": 64}
    return save_bundle(
        model, folder, arch="c5net_tiny", arch_args=args, version="random-fam", familiarity=familiarity
    )


def speckle(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    return np.clip(rng.rayleigh(40.0, (size, size)) + 10, 0, 255).astype(np.uint8)


def stripes(size: int = 64) -> np.ndarray:
    image = np.zeros((size, size), np.uint8)
    image[:, ::8] = 255
    cv2.circle(image, (size // 2, size // 2), size // 4, 200, -1)
    return image


def test_a_published_bundle_carries_its_statistics_and_both_engines_apply_them(published: Path) -> None:
    spec = read_spec(published)
    assert spec.familiarity["file"] == FILE and (published / FILE).is_file()
    assert spec.familiarity["fitted_on"] == 16 and spec.familiarity["held_out"] == 8
    assert spec.presence_threshold is None  # no lesion-present output, no cut
    rng = np.random.default_rng(9)
    like = Frame(speckle(rng), speckle(rng), 0, None, None, "speckle")
    unlike = Frame(stripes(), stripes(), 0, None, None, "stripes")
    ratios = {}
    for backend in ("torch", "onnxruntime"):
        predictor = make_predictor(published, device="cpu", backend=backend)
        ratios[backend] = [predictor.predict(f).extras["unfamiliarity"] for f in (like, unlike)]
        batch = predictor.predict_batch([like, unlike])
        assert [p.extras["unfamiliarity"] for p in batch] == pytest.approx(ratios[backend], rel=1e-3)
    assert ratios["torch"] == pytest.approx(ratios["onnxruntime"], rel=1e-3)
    assert ratios["torch"][0] < 1 < ratios["torch"][1]


def test_a_damaged_or_replaced_statistics_file_is_refused(published: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(published, tmp_path / "copy")
    (copy / FILE).write_bytes((copy / FILE).read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(BundleError, match="does not match its SHA-256"):
        make_predictor(copy, device="cpu", backend="torch")
    (copy / FILE).unlink()
    with pytest.raises(BundleError, match="cannot read"):
        load(copy, read_spec(copy).familiarity)


@pytest.mark.parametrize(
    "entry",
    [
        {"file": "x.bin", "sha256": "0" * 64, "cut": 1.0},
        {"file": FILE, "sha256": "0" * 64, "cut": -1},
        [1, 2],
    ],
)
def test_model_json_with_a_bad_familiarity_entry_is_refused(published: Path, tmp_path: Path, entry) -> None:
    copy = shutil.copytree(published, tmp_path / "copy")
    spec = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**spec, "familiarity": entry}))
    with pytest.raises(BundleError, match="familiarity must be"):
        read_spec(copy)
    (copy / "model.json").write_text(json.dumps({**spec, "presence_threshold": 1.5}))
    with pytest.raises(BundleError, match="presence_threshold must be"):
        read_spec(copy)


def test_the_statistics_hash_is_the_files(published: Path) -> None:
    spec = read_spec(published)
    familiarity = load(published, spec.familiarity)
    assert familiarity is not None and sha256_of(familiarity) == spec.familiarity["sha256"]


def _test_rows(folder: Path, limit: int) -> list[Path]:
    with (folder / "labels.csv").open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row.get("split") == "test"]
    return [folder / row["image"] for row in rows[:: max(1, len(rows) // limit)]][:limit]


def test_the_shipped_model_flags_fetal_heads_and_keeps_breast_frames_in_scope() -> None:
    """Real frames, the app's own path (the Predictor, pixel checks included): HC18 is another organ."""
    root = data_root()
    if not (root / "hc18" / "labels.csv").is_file() or not (root / "busbra" / "labels.csv").is_file():
        pytest.skip(f"HC18 and BUS-BRA are not under {root}")
    from c5desk.io import open_source

    predictor = make_predictor(SHIPPED, device="cpu", backend="torch")
    assert predictor.familiarity is not None

    def in_scope(paths: list[Path]) -> list[bool]:
        return [predictor.predict_batch([open_source(p).frame(0)])[0].extras["in_scope"] for p in paths]

    heads = in_scope(_test_rows(root / "hc18", 24))
    breasts = in_scope(_test_rows(root / "busbra", 24))
    assert sum(heads) <= 0.5 * len(heads), f"{sum(heads)} of {len(heads)} fetal heads taken as in scope"
    assert sum(breasts) >= 0.9 * len(breasts), f"only {sum(breasts)} of {len(breasts)} breast frames in scope"


def test_the_scope_evaluation_script_reports_every_set(tmp_path: Path, capsys) -> None:
    """scripts/evaluate_scope.py (the card's table) on two frames of each set."""
    import importlib.util

    root = data_root()
    needed = ("busbra", "bus_uclm", "breast_lesions_usg", "hc18", "isic2017")
    if not all((root / name / "labels.csv").is_file() for name in needed):
        pytest.skip(f"the five labelled sets are not all under {root}")
    script = Path(__file__).resolve().parents[2] / "scripts" / "evaluate_scope.py"
    spec = importlib.util.spec_from_file_location("evaluate_scope", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "scope.json"
    assert module.main([str(SHIPPED), "--limit", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["sets"]) == set(needed) and all(s["frames"] == 2 for s in report["sets"].values())
    assert report["sets"]["isic2017"]["out_of_scope"] == 2  # photographs, by the pixel checks
    assert report["sets"]["busbra"]["out_of_scope"] == 0
    by_name = {row["frame"]: row for row in report["pydicom"]}
    if "US1_UNCR.dcm" in by_name:
        assert by_name["US1_UNCR.dcm"]["reason"].startswith("colour Doppler")
    assert "| hc18 | 2 |" in capsys.readouterr().out
    assert module.main([str(tmp_path / "missing"), "--limit", "1"]) == 1
