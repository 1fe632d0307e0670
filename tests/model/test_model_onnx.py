"""The one ONNX exporter: onnxruntime reproduces torch for any batch, files appear whole, the mode is kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from c5desk.model import create_model, export_graphs
from c5desk.model.bundle import make_random_bundle, read_spec
from c5desk.model.onnx_graphs import (
    HEAD_OUTPUTS,
    IMAGE_INPUT,
    MANIFEST_FILE,
    MASK_INPUT,
    MODEL_GRAPH,
    RESCORE_GRAPH,
    export_bundle_graphs,
    read_manifest,
)

SIZE = 64


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    folder = make_random_bundle(tmp_path_factory.mktemp("onnx") / "tiny", input_size=SIZE, seed=1)
    export_bundle_graphs(folder)
    from c5desk.model.bundle import load_bundle

    return load_bundle(folder)[0], folder


def test_full_graph_matches_torch_for_any_batch(exported) -> None:
    model, folder = exported
    session = ort.InferenceSession(str(folder / MODEL_GRAPH), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [IMAGE_INPUT]
    assert [o.name for o in session.get_outputs()][:2] == list(HEAD_OUTPUTS)
    for batch in (1, 3):
        x = torch.randn(batch, 1, SIZE, SIZE)
        with torch.inference_mode():
            expected = [t.numpy() for t in model(x)]
        got = session.run(list(HEAD_OUTPUTS), {IMAGE_INPUT: x.numpy()})
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)


def test_rescore_graph_matches_the_mask_conditioned_head(exported) -> None:
    model, folder = exported
    full = ort.InferenceSession(str(folder / MODEL_GRAPH), providers=["CPUExecutionProvider"])
    head = ort.InferenceSession(str(folder / RESCORE_GRAPH), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 1, SIZE, SIZE)
    mask = torch.rand(2, 1, SIZE, SIZE)
    names = [i.name for i in head.get_inputs() if i.name != MASK_INPUT]
    features = dict(zip(names, full.run(names, {IMAGE_INPUT: x.numpy()}), strict=True))
    (got,) = head.run(["cls_logits"], {**features, MASK_INPUT: mask.numpy()})
    with torch.inference_mode():
        expected = model.classify(model.encode(x), mask).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=1e-3)


def test_manifest_records_what_was_exported(exported) -> None:
    _model, folder = exported
    spec = read_spec(folder)
    manifest = read_manifest(folder, spec)
    assert manifest["weights_sha256"] == spec.weights_sha256 and manifest["input_size"] == SIZE
    assert json.loads((folder / MANIFEST_FILE).read_text())["graphs"] == manifest["graphs"]
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # temporaries renamed away


def test_export_keeps_the_training_mode(tmp_path: Path) -> None:
    folder = make_random_bundle(tmp_path / "m", arch="cswin_unet_tiny", input_size=SIZE)
    model = create_model("cswin_unet_tiny", input_size=SIZE).train()
    export_graphs(model, read_spec(folder), tmp_path / "graphs")
    assert model.training and (tmp_path / "graphs" / MANIFEST_FILE).is_file()
