"""No NaN answers from either engine, and no ONNX graph run unless it is the one its manifest recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as deserialize
from safetensors.torch import save as serialize

from c5desk.errors import BundleError, ModelError
from c5desk.inference import Predictor, make_predictor
from c5desk.inference.graphs import Graphs, cache_folder, locate_graphs
from c5desk.inference.ort_engine import OrtEngine
from c5desk.inference.torch_engine import TorchEngine
from c5desk.io import open_source
from c5desk.io.frame import Frame
from c5desk.model.bundle import SPEC_FILE, WEIGHTS_FILE, load_bundle, make_random_bundle, read_spec
from c5desk.model.onnx_graphs import GRAPH_FILES, MANIFEST_FILE, MODEL_GRAPH, export_graphs
from c5desk.selftest import SAMPLE

SIZE = 64


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("hardening") / "tiny", input_size=SIZE, seed=7)


@pytest.fixture(scope="module")
def sample() -> Frame:
    with open_source(SAMPLE) as source:
        return source.frame(0)


def nan_model(bundle: Path) -> torch.nn.Module:
    """The bundle's network with NaN weights, loaded past the bundle checks (as damaged memory would be)."""
    model, _ = load_bundle(bundle)
    with torch.no_grad():
        model.classifier.fc.weight.fill_(float("nan"))
        next(iter(model.decoder.parameters())).fill_(float("nan"))
    return model


@pytest.fixture(scope="module")
def forged(bundle: Path, tmp_path_factory) -> Path:
    """The bundle with NaN weights and its hash recomputed, plus graphs exported from them (as a lean
    installation ships them): ONNX Runtime never reads the weights, only these graphs."""
    folder = Path(shutil.copytree(bundle, tmp_path_factory.mktemp("forged") / "forged"))
    path = folder / WEIGHTS_FILE
    header_length = int.from_bytes(path.read_bytes()[:8], "little")
    metadata = json.loads(path.read_bytes()[8 : 8 + header_length])["__metadata__"]
    tensors = deserialize(path.read_bytes())
    tensors["classifier.fc.weight"].fill_(float("nan"))
    data = serialize(tensors, metadata=metadata)
    path.write_bytes(data)
    spec = json.loads((folder / SPEC_FILE).read_text())
    (folder / SPEC_FILE).write_text(json.dumps({**spec, "weights_sha256": hashlib.sha256(data).hexdigest()}))
    return export_graphs(nan_model(bundle), read_spec(folder), folder)


def nan_engine(kind: str, bundle: Path, forged: Path):
    if kind == "torch":
        return TorchEngine(nan_model(bundle), torch.device("cpu"))
    return OrtEngine(locate_graphs(forged, read_spec(forged)), "cpu")


# ---- point 3: non-finite outputs are an error, whatever the engine --------------------------------------
@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_nan_outputs_are_a_model_error_on_both_engines(bundle, forged, sample, engine) -> None:
    predictor = Predictor(read_spec(bundle), nan_engine(engine, bundle, forged))
    name = rf"frame 0 of {sample.source_id}"
    with pytest.raises(ModelError, match=rf"^model produced no finite result for {name}$"):
        predictor.predict(sample)
    with pytest.raises(ModelError, match="model produced no finite result"):
        predictor.predict_batch([sample, sample])
    mask = np.zeros(sample.shape, bool)
    mask[100:200, 50:150] = True
    with pytest.raises(ModelError, match=rf"^model produced no finite result for the edited mask of {name}$"):
        predictor.rescore(sample, mask)


class NanMaskEngine:
    """An engine whose class probabilities are fine but whose mask is NaN: the mask is checked too."""

    name, device = "fake", "CPU"

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        n, _, s, _ = batch.shape
        return np.full((n, s, s), np.nan, np.float32), np.full((n, 2), 0.5, np.float32), None

    def release(self) -> None:
        pass


def test_a_nan_mask_alone_is_a_model_error(bundle, sample) -> None:
    with pytest.raises(ModelError, match="model produced no finite result"):
        Predictor(read_spec(bundle), NanMaskEngine()).predict(sample)


@pytest.mark.parametrize("threshold", [float("nan"), 0.0, 1.0, 1.5, float("inf")])
def test_a_threshold_outside_0_1_is_refused(bundle, threshold) -> None:
    with pytest.raises(ModelError, match="mask threshold must be a number between 0 and 1"):
        Predictor(read_spec(bundle), NanMaskEngine(), threshold=threshold)


def test_a_nan_weights_bundle_with_its_hash_recomputed_never_scores(forged, tmp_path, sample) -> None:
    """Where the weights are read (torch; ORT exporting its graphs) they are refused; where only the
    bundle's graphs are read (ORT on a lean installation) the Predictor's check stops the NaN."""
    no_graphs = shutil.ignore_patterns("*.onnx", MANIFEST_FILE)
    bare = Path(shutil.copytree(forged, tmp_path / "bare", ignore=no_graphs))
    for folder, backend in ((forged, "torch"), (bare, "onnxruntime")):
        with pytest.raises(BundleError, match="holds NaN or infinite values"):
            make_predictor(folder, device="cpu", backend=backend)
    predictor = make_predictor(forged, device="cpu", backend="onnxruntime")
    with pytest.raises(ModelError, match="model produced no finite result"):
        predictor.predict(sample)


# ---- point 7: ONNX graphs are trusted for their content, never their name ---------------------------------
def tiny_graph(op: str) -> bytes:
    """A valid one-node ONNX graph (x -> op(x)), standing in for any other model's graph."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], op, [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_a_graph_swapped_after_verification_is_not_run(tmp_path) -> None:
    shipped, swapped = tiny_graph("Identity"), tiny_graph("Neg")
    for name in GRAPH_FILES:
        (tmp_path / name).write_bytes(shipped)
    graphs = Graphs(tmp_path, {"graphs": {n: hashlib.sha256(shipped).hexdigest() for n in GRAPH_FILES}})
    assert OrtEngine(graphs, "cpu").head_inputs == ["x"]  # the verified graph loads
    (tmp_path / MODEL_GRAPH).write_bytes(swapped)  # replaced after the manifest was checked
    with pytest.raises(BundleError, match=r"model\.onnx does not match its recorded SHA-256 .*not loaded"):
        OrtEngine(graphs, "cpu")


def test_a_whole_cache_entry_swapped_for_another_bundles_is_exported_again(
    bundle, forged, tmp_path, sample, monkeypatch
) -> None:
    monkeypatch.setenv("C5DESK_CACHE", str(tmp_path / "cache"))
    spec = read_spec(bundle)
    expected = make_predictor(bundle, device="cpu", backend="torch").predict(sample).p_malignant
    target = cache_folder(spec)  # another bundle's graphs AND manifest, under this bundle's cache name
    shutil.copytree(forged, target, ignore=shutil.ignore_patterns("*.safetensors", "*.json", "*.md"))
    shutil.copy(forged / MANIFEST_FILE, target / MANIFEST_FILE)
    predictor = make_predictor(bundle, backend="onnxruntime")
    assert predictor.engine.graphs.folder == target
    assert predictor.engine.graphs.manifest["weights_sha256"] == spec.weights_sha256
    assert predictor.predict(sample).p_malignant == pytest.approx(expected, abs=1e-5)
