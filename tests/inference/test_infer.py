"""Predictor on real frames (BUS-BRA, pydicom-data) with a tiny random bundle: shapes, mapping, devices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from c5desk.errors import BundleError, ModelError
from c5desk.inference import Predictor, make_predictor
from c5desk.inference.contract import binary_entropy
from c5desk.io import open_source
from c5desk.io.frame import Frame, Region
from c5desk.model.bundle import make_random_bundle

SIZE = 64  # small input keeps the suite fast; every variant accepts sizes divisible by 32


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=SIZE)


@pytest.fixture(scope="module")
def predictor(bundle: Path) -> Predictor:
    return make_predictor(bundle, device="cpu", backend="torch")


@pytest.fixture(scope="module")
def busbra_frame(busbra_root: Path) -> Frame:
    with open_source(busbra_root / "Images" / "bus_0002-l.png") as source:
        return source.frame(0)


def test_prediction_on_a_busbra_frame(predictor: Predictor, busbra_frame: Frame) -> None:
    result = predictor.predict(busbra_frame)
    assert result.prob.shape == busbra_frame.shape and result.prob.dtype == np.float32
    assert result.mask.shape == busbra_frame.shape and result.mask.dtype == bool
    assert np.array_equal(result.mask, result.prob >= 0.5)
    assert 0.0 <= result.p_malignant <= 1.0
    assert result.label == ("malignant" if result.p_malignant >= 0.5 else "benign")
    assert result.uncertainty == pytest.approx(float(binary_entropy(result.p_malignant)))
    assert 0.0 <= result.seg_uncertainty <= 1.0 and 0.0 <= result.score_spread <= 1.0
    assert result.model_version.startswith("random-")
    assert result.device.startswith("CPU") and result.backend == "torch"
    assert result.source_id == busbra_frame.source_id
    if result.measurements is not None:
        assert result.measurements.units == "px" and not result.measurements.calibrated
        assert len(result.contours) == result.measurements.n_components


def test_calibrated_dicom_gives_mm(predictor: Predictor) -> None:
    with open_source(get_testdata_file("JPGLosslessP14SV1_1s_1f_8b.dcm")) as source:
        frame = source.frame(0)
    # force a lesion-sized mask through the measurement path via rescore, whatever the random model predicts
    mask = np.zeros(frame.shape, dtype=bool)
    cy, cx = frame.shape[0] // 2, frame.shape[1] // 2
    mask[cy - 10 : cy + 10, cx - 20 : cx + 20] = True
    _, _, measurements = predictor.rescore(frame, mask)
    assert measurements is not None and measurements.calibrated and measurements.units == "mm"
    mm_x = frame.mm_per_px[0]
    assert measurements.long_axis == pytest.approx(np.hypot(40 * mm_x, 20 * frame.mm_per_px[1]), rel=0.02)


def test_prediction_stays_inside_the_imaging_region(predictor: Predictor, busbra_frame: Frame) -> None:
    h, w = busbra_frame.shape
    region = Region(x0=w // 4, y0=h // 4, x1=3 * w // 4, y1=3 * h // 4)
    framed = Frame(busbra_frame.pixels, busbra_frame.grey, 0, None, region, "test", {})
    prob = predictor.predict(framed).prob
    outside = np.ones_like(prob, dtype=bool)
    outside[region.y0 : region.y1, region.x0 : region.x1] = False
    assert float(prob[outside].max()) == 0.0
    assert float(prob[~outside].max()) > 0.0


def test_batch_equals_single(predictor: Predictor, busbra_frame: Frame) -> None:
    single = predictor.predict(busbra_frame)
    flipped = Frame(
        busbra_frame.pixels[:, ::-1].copy(), busbra_frame.grey[:, ::-1].copy(), 0, None, None, "b", {}
    )
    batch = predictor.predict_batch([busbra_frame, flipped])
    assert batch[0].p_malignant == pytest.approx(single.p_malignant, abs=1e-5)
    # the mirrored frame's flip-TTA pair is the same pair in the other order: same mean score
    assert batch[1].p_malignant == pytest.approx(single.p_malignant, abs=1e-4)


def test_rescore_follows_the_mask_and_reuses_the_encoder(
    predictor: Predictor, busbra_frame: Frame, monkeypatch
) -> None:
    calls = {"encode": 0}
    original = predictor.engine.model.encode

    def counting_encode(x):
        calls["encode"] += 1
        return original(x)

    monkeypatch.setattr(predictor, "_encoded", None)
    monkeypatch.setattr(predictor.engine.model, "encode", counting_encode)
    h, w = busbra_frame.shape
    left, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    left[h // 3 : h // 2, 10 : w // 4] = True
    right[h // 2 :, w // 2 :] = True
    p_left, u_left, m_left = predictor.rescore(busbra_frame, left)
    p_right, _, m_right = predictor.rescore(busbra_frame, right)
    assert calls["encode"] == 1
    assert p_left != pytest.approx(p_right, abs=1e-7)
    assert 0 <= u_left <= 1 and m_left.area_px == int(left.sum()) and m_right.area_px == int(right.sum())


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_onnxruntime_matches_torch(bundle: Path, busbra_frame: Frame, onnx_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("C5DESK_CACHE", str(onnx_cache))
    eager = make_predictor(bundle, device="cpu", backend="torch").predict(busbra_frame)
    ort = make_predictor(bundle, device="cpu", backend="onnxruntime")
    assert ort.backend == "onnxruntime"
    result = ort.predict(busbra_frame)
    assert result.p_malignant == pytest.approx(eager.p_malignant, abs=1e-3)
    assert np.abs(result.prob - eager.prob).max() < 1e-3
    assert list(onnx_cache.rglob("*.onnx")), "the exported graph is cached for the next start"


def test_auto_backend_picks_one_by_measurement(bundle: Path, onnx_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("C5DESK_CACHE", str(onnx_cache))
    chosen = make_predictor(bundle, device="cpu", backend="auto").backend
    assert chosen in ("torch", "onnxruntime")
    remembered = list((onnx_cache / "cpu-backend").glob("*.json"))
    assert len(remembered) == 1 and chosen in remembered[0].read_text()
    assert make_predictor(bundle, device="cpu").backend == chosen  # the next load reuses the measurement


def test_absent_gpu_is_a_clear_error(bundle: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelError, match="CUDA"):
        make_predictor(bundle, device="cuda")


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        make_predictor(tmp_path / "nowhere", device="cpu")


def test_a_gpu_that_cannot_take_the_model_falls_back_visibly(bundle: Path, monkeypatch) -> None:
    """device 'auto' on a machine whose GPU fails at load: the CPU runs it, and the predictor says why."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a working GPU")
    monkeypatch.setattr("c5desk.inference.devices.resolve_device", lambda request: torch.device("cuda"))
    predictor = make_predictor(bundle, device="auto", backend="torch")
    assert predictor.device.startswith("CPU") and predictor.note.startswith("GPU not usable (")
    assert predictor.predict(Frame(np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8),
                                   0, None, None, "z", {})).device.startswith("CPU")  # fmt: skip
