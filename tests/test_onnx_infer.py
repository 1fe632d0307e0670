"""OnnxPredictor (ONNX Runtime, no torch) against the torch Predictor on a random-weight bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from c5desk.errors import BundleError, ModelError
from c5desk.infer import Predictor
from c5desk.infer_factory import make_predictor
from c5desk.io import open_source
from c5desk.io.frame import Frame, Region
from c5desk.model.bundle import make_random_bundle
from c5desk.model.onnx_graphs import MANIFEST_FILE, MODEL_GRAPH, export_bundle_graphs
from c5desk.onnx_infer import OnnxPredictor
from c5desk.selftest import SAMPLE

SIZE = 64


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = make_random_bundle(tmp_path_factory.mktemp("onnx") / "tiny", input_size=SIZE, seed=3)
    return export_bundle_graphs(folder)


@pytest.fixture(scope="module")
def torch_predictor(bundle: Path) -> Predictor:
    return Predictor(bundle, device="cpu", backend="torch")


@pytest.fixture(scope="module")
def onnx_predictor(bundle: Path) -> OnnxPredictor:
    return OnnxPredictor(bundle)


@pytest.fixture(scope="module")
def sample() -> Frame:
    with open_source(SAMPLE) as source:
        return source.frame(0)


@pytest.fixture(scope="module")
def framed(sample: Frame) -> Frame:
    """The sample with an imaging region and a calibration: the crop/mapping and mm paths."""
    h, w = sample.shape
    region = Region(x0=20, y0=30, x1=w - 10, y1=h - 40)
    return Frame(sample.pixels, sample.grey, 0, (0.1, 0.12), region, "framed", {})


def test_predictions_agree_with_torch(torch_predictor, onnx_predictor, sample, framed) -> None:
    for frame in (sample, framed):
        a, b = torch_predictor.predict(frame), onnx_predictor.predict(frame)
        assert b.prob.shape == frame.shape and b.prob.dtype == np.float32 and b.mask.dtype == bool
        assert np.abs(a.prob - b.prob).max() < 1e-4
        assert np.mean(a.mask != b.mask) < 1e-3  # only pixels within 1e-4 of the threshold may flip
        assert b.p_malignant == pytest.approx(a.p_malignant, abs=1e-5)
        assert b.uncertainty == pytest.approx(a.uncertainty, abs=1e-4)
        assert b.score_spread == pytest.approx(a.score_spread, abs=1e-5)
        assert b.seg_uncertainty == pytest.approx(a.seg_uncertainty, abs=1e-2)
        assert (b.label, b.model_version, b.calibrated) == (a.label, a.model_version, a.calibrated)
        assert b.backend == "onnxruntime" and b.device.startswith("CPU")
        assert (b.source_id, b.frame_index) == (frame.source_id, frame.index)
    # outside the imaging region nothing is predicted
    outside = np.ones(framed.shape, bool)
    outside[framed.region.y0 : framed.region.y1, framed.region.x0 : framed.region.x1] = False
    assert onnx_predictor.predict(framed).prob[outside].max() == 0.0


def test_batch_equals_single(onnx_predictor, sample, framed) -> None:
    singles = [onnx_predictor.predict(f) for f in (sample, framed)]
    batch = onnx_predictor.predict_batch([sample, framed])
    prepared = onnx_predictor.predict_prepared([onnx_predictor.prepare(sample)])
    for one, many in zip(singles, batch, strict=True):
        assert many.p_malignant == pytest.approx(one.p_malignant, abs=1e-5)
        assert np.abs(many.prob - one.prob).max() < 1e-5
    assert prepared[0].p_malignant == pytest.approx(singles[0].p_malignant, abs=1e-6)
    assert onnx_predictor.predict_batch([]) == []


def test_rescore_agrees_with_torch_and_runs_the_encoder_once(
    bundle, torch_predictor, sample, framed, monkeypatch
) -> None:
    predictor = OnnxPredictor(bundle)
    calls = {"encoder": 0}
    run = predictor.session.run

    class Counting:
        def run(self, outputs, feeds):
            calls["encoder"] += 1
            return run(outputs, feeds)

    monkeypatch.setattr(predictor, "session", Counting())
    h, w = sample.shape
    left, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    left[h // 3 : h // 2, 10 : w // 4] = True
    right[h // 2 :, w // 2 :] = True
    results = {name: predictor.rescore(sample, m) for name, m in (("left", left), ("right", right))}
    assert calls["encoder"] == 1
    assert results["left"][0] != pytest.approx(results["right"][0], abs=1e-7)
    for name, m in (("left", left), ("right", right)):
        p, unc, meas = torch_predictor.rescore(sample, m)
        assert results[name][0] == pytest.approx(p, abs=1e-5)
        assert results[name][1] == pytest.approx(unc, abs=1e-4)
        assert results[name][2].area_px == meas.area_px == int(m.sum())
    # another frame: the encoder runs again, and calibrated frames give mm
    p, _, meas = predictor.rescore(framed, right)
    assert calls["encoder"] == 2 and meas.units == "mm"
    assert p == pytest.approx(torch_predictor.rescore(framed, right)[0], abs=1e-5)


def test_without_tta(bundle, sample) -> None:
    a = Predictor(bundle, device="cpu", backend="torch", tta=False).predict(sample)
    b = OnnxPredictor(bundle, tta=False).predict(sample)
    assert b.score_spread == 0.0 and b.seg_uncertainty == 0.0
    assert b.p_malignant == pytest.approx(a.p_malignant, abs=1e-5)
    mask = np.zeros(sample.shape, bool)
    mask[100:200, 50:150] = True
    assert OnnxPredictor(bundle, tta=False).rescore(sample, mask)[0] == pytest.approx(
        Predictor(bundle, device="cpu", backend="torch", tta=False).rescore(sample, mask)[0], abs=1e-5
    )


def test_bad_inputs_are_clear_errors(bundle, onnx_predictor, sample) -> None:
    with pytest.raises(ModelError, match="mask shape"):
        onnx_predictor.rescore(sample, np.zeros((5, 5), bool))
    with pytest.raises(ModelError, match="needs torch"):
        OnnxPredictor(bundle, backend="torch")
    with pytest.raises(ModelError, match="unknown or unsupported device"):
        OnnxPredictor(bundle, device="tpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ModelError, match="CUDA"):
            OnnxPredictor(bundle, device="cuda")


def copy_of(bundle: Path, dest: Path) -> Path:
    shutil.copytree(bundle, dest)
    return dest


def test_tampered_or_missing_graphs_are_refused(bundle, tmp_path) -> None:
    tampered = copy_of(bundle, tmp_path / "tampered")
    data = bytearray((tampered / MODEL_GRAPH).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tampered / MODEL_GRAPH).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        OnnxPredictor(tampered)

    bare = make_random_bundle(tmp_path / "bare", input_size=SIZE, seed=4)
    with pytest.raises(BundleError, match=r"no ONNX graphs.*export_onnx"):
        OnnxPredictor(bare)

    # graphs copied next to other weights are not taken for that model
    for name in ("model.onnx", "rescore.onnx", MANIFEST_FILE):
        shutil.copy(bundle / name, bare / name)
    with pytest.raises(BundleError, match="other weights"):
        OnnxPredictor(bare)

    broken = copy_of(bundle, tmp_path / "broken")
    (broken / MANIFEST_FILE).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(BundleError, match="unknown format"):
        OnnxPredictor(broken)


def test_factory_picks_torch_here_and_honours_engine(bundle) -> None:
    assert isinstance(make_predictor(bundle, device="cpu", backend="torch"), Predictor)
    assert isinstance(make_predictor(bundle, engine="onnx"), OnnxPredictor)
    with pytest.raises(ModelError, match="unknown engine"):
        make_predictor(bundle, engine="tensorrt")


NO_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'timm'):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
from c5desk.infer_factory import make_predictor
from c5desk.io import open_source
from c5desk.errors import ModelError
predictor = make_predictor(sys.argv[1])
with open_source(sys.argv[2]) as source:
    result = predictor.predict(source.frame(0))
try:
    make_predictor(sys.argv[1], engine='torch')
except ModelError as exc:
    print('torch engine refused:', exc)
print(type(predictor).__name__, result.backend, 0 <= result.p_malignant <= 1, 'torch' in sys.modules)
"""


def test_runs_where_torch_cannot_be_imported(bundle) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(bundle), str(SAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("torch engine refused: the torch engine was requested")
    assert lines[-1] == "OnnxPredictor onnxruntime True False"
