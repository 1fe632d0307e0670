"""Model v2's parts without training: prompt maps, the prompt encoder starting neutral on real v1 weights,
the lesion-present gate ("no lesion found"), both engines agreeing on the prompt graph, and the prompt
selecting the regions it points at."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from c5desk.inference import make_predictor
from c5desk.inference.predictor import Predictor
from c5desk.inference.preprocess import Geometry
from c5desk.inference.presence import keep_prompted_regions, no_lesion_found
from c5desk.inference.prompt import Prompt
from c5desk.inference.prompt_maps import BOX, NEGATIVE, POSITIVE, PREVIOUS, frame_prompt_maps, render
from c5desk.io.frame import Frame
from c5desk.model import create_model
from c5desk.model.bundle import load_bundle, make_random_bundle, read_spec
from c5desk.model.onnx_graphs import PROMPT_GRAPH, export_bundle_graphs, read_manifest
from c5desk.settings import RESOURCES

V1 = RESOURCES / "models" / "c5net_tiny-busbra-v1"


def lesion_frame(index: int = 0) -> Frame:
    grey = np.full((96, 128), 120, np.uint8)
    cv2.circle(grey, (60, 50), 14, 35, -1)
    noise = np.random.default_rng(index).integers(0, 30, grey.shape, dtype=np.uint8)
    grey = cv2.add(grey, noise)
    return Frame(grey, grey, index, (0.1, 0.1), None, f"synthetic{index}")


@pytest.fixture(scope="module")
def v2_bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("v2") / "random-v2"
    make_random_bundle(folder, input_size=64, prompts=True, presence=True)
    export_bundle_graphs(folder)
    return folder


def test_prompt_maps_land_where_the_frame_prompt_points() -> None:
    geometry = Geometry(frame_shape=(200, 400), box=(0, 0, 400, 200), size=100)  # x scale 1/4, y 1/2
    previous = np.zeros((200, 400), bool)
    previous[40:80, 100:200] = True
    prompt = Prompt(box=(100, 40, 200, 80), positive=((150, 60),), negative=((300, 150),), previous=previous)
    maps = frame_prompt_maps(prompt, geometry)
    assert maps.shape == (4, 100, 100) and maps.dtype == np.float32
    ys, xs = np.nonzero(maps[BOX])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (25, 49, 20, 39)
    assert maps[POSITIVE][30, 37] == 1 and maps[POSITIVE][75, 75] == 0
    assert maps[NEGATIVE][75, 75] == 1 and maps[NEGATIVE][30, 37] == 0
    assert maps[PREVIOUS][30, 37] == pytest.approx(1.0) and maps[PREVIOUS][80, 80] == 0
    assert not render(64).any()  # no prompt: four empty maps


def test_a_v1_network_grown_with_the_v2_parts_segments_exactly_as_before() -> None:
    v1, spec = load_bundle(V1)
    grown = create_model(spec.arch, **spec.arch_args, prompts=True, presence=True).eval()
    result = grown.load_state_dict(v1.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith(("prompt_encoder.", "presence.")) for k in result.missing_keys)
    x = torch.randn(1, 1, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(0))
    maps = torch.from_numpy(render(spec.input_size, (40, 40, 120, 120), [(80, 80)])[None])
    with torch.inference_mode():
        features = grown.encode(x)
        assert torch.equal(grown.segment_prompted(features, maps), grown.segment(features))
        assert torch.equal(grown(x)[0], v1(x)[0])
        seg, _cls, presence, prompted = grown(x, maps)
    assert presence.shape == (1,) and prompted.shape == seg.shape


def test_v2_bundle_declares_prompts_and_exports_the_prompt_graph(v2_bundle: Path) -> None:
    spec = read_spec(v2_bundle)
    assert spec.prompt_support and spec.arch_args["presence"] is True
    manifest = read_manifest(v2_bundle, spec)
    assert PROMPT_GRAPH in manifest["graphs"]


def test_both_engines_agree_on_every_v2_output(v2_bundle: Path) -> None:
    frame = lesion_frame()
    prompt = Prompt(box=(40, 30, 82, 72), positive=((60, 50),))
    results = {}
    for backend in ("torch", "onnxruntime"):
        predictor = make_predictor(v2_bundle, device="cpu", backend=backend)
        base = predictor.predict(frame)
        results[backend] = (base, predictor.refine(frame, prompt, base=base))
    (torch_base, torch_prompted), (ort_base, ort_prompted) = results["torch"], results["onnxruntime"]
    assert torch_base.extras["p_lesion"] == pytest.approx(ort_base.extras["p_lesion"], abs=1e-3)
    assert np.abs(torch_base.prob - ort_base.prob).max() < 1e-3
    assert torch_prompted.p_malignant == pytest.approx(ort_prompted.p_malignant, abs=1e-3)
    disagreement = np.mean(torch_prompted.mask != ort_prompted.mask)
    assert disagreement < 0.002
    assert torch_prompted.extras["prompt"]["box"] == [40, 30, 82, 72]


def _forced_presence(predictor: Predictor, logit: float) -> None:
    torch.nn.init.zeros_(predictor.engine.model.presence.fc.weight)
    torch.nn.init.constant_(predictor.engine.model.presence.fc.bias, logit)


def test_no_lesion_found_gives_no_outline_and_the_label_normal(v2_bundle: Path) -> None:
    predictor = make_predictor(v2_bundle, device="cpu", backend="torch", threshold=0.01)
    _forced_presence(predictor, -6.0)
    prediction = predictor.predict(lesion_frame())
    assert no_lesion_found(prediction) and prediction.extras["p_lesion"] < 0.01
    assert not prediction.mask.any() and prediction.contours == [] and prediction.measurements is None
    assert prediction.label == "normal" and prediction.lesions == ()
    # the clinician pointing at a lesion overrides it
    pointed = predictor.refine(lesion_frame(), Prompt(box=(30, 20, 90, 80)), base=prediction)
    assert pointed.mask.any() and pointed.label in ("benign", "malignant")
    assert pointed.extras["lesion_found"] is True
    _forced_presence(predictor, 6.0)
    found = predictor.predict(lesion_frame(1))
    assert found.extras["lesion_found"] is True and found.mask.any()


def test_a_v1_bundle_has_no_presence_extras() -> None:
    predictor = make_predictor(V1, device="cpu", backend="torch")
    prediction = predictor.predict(lesion_frame())
    assert "p_lesion" not in prediction.extras and not no_lesion_found(prediction)
    nothing = predictor.refine(lesion_frame(), Prompt(negative=((5, 5),)), base=prediction)
    assert "lesion_found" not in nothing.extras and not no_lesion_found(nothing)


def test_the_prompt_keeps_the_regions_it_points_at() -> None:
    mask = np.zeros((60, 80), bool)
    mask[10:20, 10:20] = mask[40:50, 50:60] = mask[5:10, 70:75] = True
    clicked = keep_prompted_regions(mask, Prompt(positive=((55, 45),)))
    assert clicked[45, 55] and not clicked[15, 15] and not clicked[7, 72]
    boxed = keep_prompted_regions(mask, Prompt(box=(5, 5, 25, 25)))
    assert boxed[15, 15] and not boxed[45, 55]
    assert np.array_equal(keep_prompted_regions(mask, Prompt(negative=((1, 1),))), mask)
