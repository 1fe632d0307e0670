"""The ONNX Runtime engine (no torch) against the torch engine on a random-weight bundle; the graph cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from c5desk.errors import BundleError, ModelError
from c5desk.inference import Predictor, make_predictor
from c5desk.inference.graphs import cache_folder, locate_graphs
from c5desk.io import open_source
from c5desk.io.frame import Frame, Region
from c5desk.model.bundle import make_random_bundle, read_spec
from c5desk.model.onnx_graphs import MANIFEST_FILE, MODEL_GRAPH, GraphsMissing, export_bundle_graphs
from c5desk.selftest import SAMPLE

SIZE = 64


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = make_random_bundle(tmp_path_factory.mktemp("onnx") / "tiny", input_size=SIZE, seed=3)
    return export_bundle_graphs(folder)


def ort_predictor(bundle: Path, **options) -> Predictor:
    return make_predictor(bundle, backend="onnxruntime", **options)


@pytest.fixture(scope="module")
def torch_predictor(bundle: Path) -> Predictor:
    return make_predictor(bundle, device="cpu", backend="torch")


@pytest.fixture(scope="module")
def onnx_predictor(bundle: Path) -> Predictor:
    return ort_predictor(bundle)


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
    predictor = ort_predictor(bundle)
    calls = {"encoder": 0}
    run = predictor.engine.session.run

    class Counting:
        def run(self, outputs, feeds):
            calls["encoder"] += 1
            return run(outputs, feeds)

    monkeypatch.setattr(predictor.engine, "session", Counting())
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
    a = make_predictor(bundle, device="cpu", backend="torch", tta=False).predict(sample)
    b = ort_predictor(bundle, tta=False).predict(sample)
    assert b.score_spread == 0.0 and b.seg_uncertainty == 0.0
    assert b.p_malignant == pytest.approx(a.p_malignant, abs=1e-5)
    mask = np.zeros(sample.shape, bool)
    mask[100:200, 50:150] = True
    assert ort_predictor(bundle, tta=False).rescore(sample, mask)[0] == pytest.approx(
        make_predictor(bundle, device="cpu", backend="torch", tta=False).rescore(sample, mask)[0], abs=1e-5
    )


def test_bad_inputs_are_clear_errors(bundle, onnx_predictor, sample) -> None:
    with pytest.raises(ModelError, match="mask shape"):
        onnx_predictor.rescore(sample, np.zeros((5, 5), bool))
    with pytest.raises(ModelError, match="unknown backend"):
        make_predictor(bundle, backend="tensorrt")
    with pytest.raises(ModelError, match="unknown device"):
        ort_predictor(bundle, device="tpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ModelError, match="CUDA"):
            ort_predictor(bundle, device="cuda")


def copy_of(bundle: Path, dest: Path) -> Path:
    shutil.copytree(bundle, dest)
    return dest


def test_tampered_or_missing_graphs_are_refused(bundle, tmp_path) -> None:
    tampered = copy_of(bundle, tmp_path / "tampered")
    data = bytearray((tampered / MODEL_GRAPH).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tampered / MODEL_GRAPH).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        ort_predictor(tampered)

    bare = make_random_bundle(tmp_path / "bare", input_size=SIZE, seed=4)
    with pytest.raises(GraphsMissing, match=r"no ONNX graphs.*export_onnx"):
        locate_graphs(bare, read_spec(bare))  # what an installation without torch meets

    # graphs copied next to other weights are not taken for that model
    for name in ("model.onnx", "rescore.onnx", MANIFEST_FILE):
        shutil.copy(bundle / name, bare / name)
    with pytest.raises(BundleError, match="other weights"):
        ort_predictor(bare)

    broken = copy_of(bundle, tmp_path / "broken")
    (broken / MANIFEST_FILE).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(BundleError, match="unknown format"):
        ort_predictor(broken)


def test_graphs_missing_from_a_bundle_are_exported_once_into_a_verified_cache(
    tmp_path, sample, monkeypatch
) -> None:
    monkeypatch.setenv("C5DESK_CACHE", str(tmp_path / "cache"))
    bare = make_random_bundle(tmp_path / "bare", input_size=SIZE, seed=5)
    first = ort_predictor(bare)
    cached = cache_folder(read_spec(bare))
    assert first.engine.graphs.folder == cached and (cached / MANIFEST_FILE).is_file()
    assert not (bare / MANIFEST_FILE).exists()  # the bundle itself is never written to
    expected = first.predict(sample).p_malignant
    # a graph swapped in the cache is not trusted for its name: it is exported again
    other = make_random_bundle(tmp_path / "other", input_size=SIZE, seed=6)
    swapped = ort_predictor(other).engine.graphs.folder / MODEL_GRAPH
    shutil.copy(swapped, cached / MODEL_GRAPH)
    again = ort_predictor(bare)
    assert again.predict(sample).p_malignant == pytest.approx(expected, abs=1e-6)
    assert again.engine.graphs.folder == cached


def test_the_torch_engine_and_the_cpu_runner_share_one_graph_format(bundle, sample) -> None:
    """The bundle's own graphs (as the lean build ships them) are what the CPU choice loads."""
    predictor = ort_predictor(bundle)
    assert predictor.engine.graphs.folder == bundle
    assert set(predictor.engine.graphs.manifest["graphs"]) == {"model.onnx", "rescore.onnx"}


NO_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'timm'):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
from c5desk.inference import make_predictor
from c5desk.io import open_source
from c5desk.errors import ModelError
predictor = make_predictor(sys.argv[1])
with open_source(sys.argv[2]) as source:
    result = predictor.predict(source.frame(0))
try:
    make_predictor(sys.argv[1], backend='torch')
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
    assert lines[0].startswith("torch engine refused: the torch backend was requested")
    assert lines[-1] == "Predictor onnxruntime True False"
