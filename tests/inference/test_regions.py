"""Several lesions in the model's output: each region of its mask scored on its own by the mask-conditioned
head and measured, the main lesion (most probability mass) first; specks and runaway maps bounded."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from c5desk.inference import make_predictor
from c5desk.inference.predictor import Predictor
from c5desk.inference.regions import MAX_REGIONS, MIN_REGION_PX, predicted_lesions, split_regions
from c5desk.io.frame import Frame
from c5desk.model.bundle import make_random_bundle


def disc(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out > 0


def test_regions_come_most_probability_mass_first_without_specks() -> None:
    shape = (100, 160)
    big_faint, small_sure, speck = (
        disc(shape, (40, 50), 20),
        disc(shape, (120, 50), 8),
        disc(shape, (150, 90), 2),
    )
    prob = np.where(big_faint, 0.55, 0.0) + np.where(small_sure, 0.99, 0.0) + np.where(speck, 0.9, 0.0)
    regions = split_regions(prob, prob >= 0.5)
    assert len(regions) == 2 and speck.sum() < MIN_REGION_PX  # the speck is not a lesion
    assert np.array_equal(regions[0][0], big_faint) and regions[0][1] > regions[1][1]
    lesions = predicted_lesions(prob, prob >= 0.5, (0.1, 0.1), lambda region: 0.8 if region[50, 120] else 0.2)
    assert [lesion.p_malignant for lesion in lesions] == [0.2, 0.8]
    assert lesions[1].measurements.units == "mm" and lesions[1].measurements.long_axis == pytest.approx(
        1.7, abs=0.2
    )
    assert predicted_lesions(prob, big_faint, None, lambda region: 0.5) == ()  # one region: the mask is it


def test_a_noisy_map_keeps_at_most_the_most_probable_regions() -> None:
    mask = np.zeros((60, 400), bool)
    for i in range(8):
        mask[10:30, 10 + 48 * i : 40 + 48 * i] = True
    prob = mask * np.repeat(np.linspace(0.5, 1.0, 400)[None], 60, axis=0)
    regions = split_regions(prob, mask)
    assert len(regions) == MAX_REGIONS and regions[0][0][20, 360]  # the rightmost is the most probable


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    bundle = make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)
    return make_predictor(bundle, device="cpu", backend="torch")


def test_predict_scores_each_region_with_the_mask_conditioned_head(predictor, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    grey = np.clip(rng.rayleigh(40.0, (120, 160)) + 10, 0, 255).astype(np.uint8)
    frame = Frame(grey, grey, 0, None, None, "two-regions")
    first, second = disc(grey.shape, (45, 60), 18), disc(grey.shape, (120, 70), 10)
    prob = np.where(first, 0.9, 0.0) + np.where(second, 0.7, 0.0)
    real = Predictor.predict_prepared

    def two_regions(self, items, **options):
        results = real(self, items, **options)
        return [replace(p, prob=prob.astype(np.float32), mask=prob >= 0.5) for p in results]

    monkeypatch.setattr(Predictor, "predict_prepared", two_regions)
    prediction = predictor.predict(frame)
    assert len(prediction.lesions) == 2
    assert np.array_equal(prediction.lesions[0].mask, first) and np.array_equal(
        prediction.lesions[1].mask, second
    )
    for lesion in prediction.lesions:
        assert lesion.p_malignant == pytest.approx(predictor.rescore(frame, lesion.mask)[0])
        assert lesion.measurements is not None and lesion.measurements.units == "px"
