"""A model's ONNX graphs: the one exporter, and the format every ONNX Runtime user reads.

Three files make a set (four for a model-v2 bundle), in a bundle folder (the lean installer ships them
there) or in the per-user cache (c5desk.inference.graphs exports them there once for a bundle without):
  - ``model.onnx``:   image (B, C, S, S) normalised → seg_logits (B, 1, S, S), cls_logits (B, 2) and the
                      encoder features feature_0..feature_N (fine to coarse), kept for rescoring;
                      (model v2: also presence_logits (B,), whether a lesion is present at all);
  - ``rescore.onnx``: the features the head reads + mask_prob (B, 1, S, S) in [0, 1] → cls_logits, so an
                      edited outline is re-scored without re-running the encoder;
  - ``prompt.onnx``:  model v2 only: the features + prompt_maps (B, 4, S, S) → seg_logits, so a click
                      re-runs the prompt encoder and the decoder, never the encoder;
  - ``onnx.json``:    the manifest: SHA-256 of both graphs and of the weights they were exported from, and
                      the input size. It is written last, so its presence means the export completed, and
                      every graph is checked against it before it is loaded.

torch 2.14's default exporter (``dynamo=True``) needs the ``onnxscript`` package, which this project does not
ship; the TorchScript-based exporter (``dynamo=False``) handles every op these models use
(scaled_dot_product_attention from opset 14) and needs nothing extra. Reading and verifying needs no torch:
it is imported only by the export functions.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c5desk.errors import BundleError, ModelError
from c5desk.fsio import atomic_path, sha256_file, write_text_atomic
from c5desk.model.bundle import BundleSpec, load_bundle

if TYPE_CHECKING:
    from torch import nn

MANIFEST_FILE = "onnx.json"
MODEL_GRAPH = "model.onnx"
RESCORE_GRAPH = "rescore.onnx"
PROMPT_GRAPH = "prompt.onnx"
GRAPH_FILES = (MODEL_GRAPH, RESCORE_GRAPH)
MANIFEST_FORMAT = 1
OPSET = 17
IMAGE_INPUT = "image"
MASK_INPUT = "mask_prob"
PROMPT_INPUT = "prompt_maps"
HEAD_OUTPUTS = ("seg_logits", "cls_logits")
PRESENCE_OUTPUT = "presence_logits"


def graph_files(spec: BundleSpec) -> tuple[str, ...]:
    """The graphs a bundle's set holds: a promptable model has the prompt graph too."""
    return (*GRAPH_FILES, PROMPT_GRAPH) if spec.prompt_support else GRAPH_FILES


class GraphsMissing(BundleError):
    """The folder holds no exported graphs (as opposed to graphs that fail their checks)."""


def read_manifest(folder: str | Path, spec: BundleSpec) -> dict[str, Any]:
    """The manifest of the graphs in `folder`, after checking it belongs to `spec` and every SHA-256."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GraphsMissing(
            f"bundle {spec.version!r} has no ONNX graphs ({MANIFEST_FILE} is missing); export them on an "
            "installation with torch: python installer/export_onnx.py BUNDLE"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != MANIFEST_FORMAT:
        raise BundleError(f"{path}: unknown format (expected format_version {MANIFEST_FORMAT})")
    if manifest.get("weights_sha256") != spec.weights_sha256:
        raise BundleError(f"{path} was exported from other weights than bundle {spec.version!r}")
    if manifest.get("input_size") != spec.input_size:
        raise BundleError(
            f"{path} was exported for input size {manifest.get('input_size')}, not {spec.input_size}"
        )
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict) or set(graphs) != set(graph_files(spec)):
        raise BundleError(f"{path}: 'graphs' must list {', '.join(graph_files(spec))}")
    for name, expected in graphs.items():
        graph = folder / name
        if not graph.is_file():
            raise BundleError(f"bundle {spec.version!r} lacks {name} (listed in {MANIFEST_FILE})")
        if sha256_file(graph) != expected:
            raise BundleError(f"{graph} does not match its recorded SHA-256 (truncated or modified)")
    return manifest


def export_graphs(model: nn.Module, spec: BundleSpec, folder: str | Path) -> Path:
    """Write `model` (the network of bundle `spec`) as model.onnx + rescore.onnx + onnx.json in `folder`.

    Each file is written beside its target and renamed into place; the manifest comes last.
    """
    import torch

    folder = Path(folder)
    was_training = model.training
    model.eval()
    try:
        example = torch.zeros(2, spec.in_chans, spec.input_size, spec.input_size)
        with torch.inference_mode():
            features = model.encode(example)
        feature_names = [f"feature_{i}" for i in range(len(features))]
        full, rescore, prompted = _wrappers(model, len(features))
        presence = [PRESENCE_OUTPUT] if getattr(model, "presence", None) is not None else []
        outputs = [*HEAD_OUTPUTS, *presence, *feature_names]
        _export(full, (example,), folder / MODEL_GRAPH, [IMAGE_INPUT], outputs)
        mask = torch.full((2, 1, spec.input_size, spec.input_size), 0.5)
        inputs = [*feature_names, MASK_INPUT]
        _export(rescore, (*features, mask), folder / RESCORE_GRAPH, inputs, ["cls_logits"])
        if spec.prompt_support:
            maps = torch.zeros((2, 4, spec.input_size, spec.input_size))
            inputs = [*feature_names, PROMPT_INPUT]
            _export(prompted, (*features, maps), folder / PROMPT_GRAPH, inputs, ["seg_logits"])
    finally:
        model.train(was_training)
    manifest = {
        "format_version": MANIFEST_FORMAT,
        "weights_sha256": spec.weights_sha256,
        "version": spec.version,
        "input_size": spec.input_size,
        "opset": OPSET,
        "torch": torch.__version__,
        "features": feature_names,
        "graphs": {name: sha256_file(folder / name) for name in graph_files(spec)},
    }
    try:
        write_text_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise BundleError(f"cannot write {folder / MANIFEST_FILE}: {exc}") from exc
    return folder


def export_bundle_graphs(folder: str | Path) -> Path:
    """Export the bundle at `folder` into its own folder (the installer's build does this on a copy)."""
    model, spec = load_bundle(folder, device="cpu")
    return export_graphs(model, spec, folder)


def _wrappers(model: nn.Module, n_features: int) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(full, rescore, prompt) graphs as modules; defined here because torch is imported only on export."""
    from torch import nn

    class FullGraph(nn.Module):
        """model(x) plus the encoder features it computed on the way."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            features = self.model.encode(x)
            seg_logits = self.model.segment(features)
            heads = (seg_logits, self.model._classify(features, seg_logits))
            if getattr(self.model, "presence", None) is not None:
                heads = (*heads, self.model.lesion_present(features))
            return (*heads, *features)

    class RescoreGraph(nn.Module):
        """model.classify(features, mask_prob) with the features as separate inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model.classify(list(inputs[:n_features]), inputs[n_features])

    class PromptGraph(nn.Module):
        """model.segment_prompted(features, prompt_maps) with the features as separate inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model.segment_prompted(list(inputs[:n_features]), inputs[n_features])

    return FullGraph().eval(), RescoreGraph().eval(), PromptGraph().eval()


def _export(module, args: tuple, path: Path, input_names: list[str], output_names: list[str]) -> None:
    import torch

    dynamic_axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    try:
        with atomic_path(path) as temporary, warnings.catch_warnings():
            # The legacy exporter announces its deprecation and traces Python ints; both are expected here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(temporary),
                dynamo=False,
                opset_version=OPSET,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
    except (RuntimeError, OSError, torch.onnx.errors.OnnxExporterError) as exc:
        raise ModelError(f"ONNX export to {path} failed: {exc}") from exc
