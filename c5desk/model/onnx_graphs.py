"""A bundle's ONNX graphs, for installations that infer without torch (the lean desktop bundle).

Two graphs sit next to ``model.json`` and ``model.safetensors``:
  - ``model.onnx``:   image (B, C, S, S) normalised → seg_logits (B, 1, S, S), cls_logits (B, 2) and the
                      encoder features feature_0..feature_N (fine to coarse), kept for rescoring;
  - ``rescore.onnx``: the features the head reads + mask_prob (B, 1, S, S) in [0, 1] → cls_logits, so an
                      edited outline is re-scored without re-running the encoder (as Predictor.rescore does).
``onnx.json`` records the SHA-256 of both files and of the weights they were exported from; it is written
last, so its presence means the export completed, and it is verified before anything is loaded.

Reading and verifying needs no torch (this module imports it only inside ``export_bundle_graphs``).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from c5desk.errors import BundleError, ModelError
from c5desk.model.bundle import BundleSpec, read_spec

MANIFEST_FILE = "onnx.json"
MODEL_GRAPH = "model.onnx"
RESCORE_GRAPH = "rescore.onnx"
MANIFEST_FORMAT = 1
OPSET = 17
IMAGE_INPUT = "image"
MASK_INPUT = "mask_prob"
HEAD_OUTPUTS = ("seg_logits", "cls_logits")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: str | Path) -> tuple[BundleSpec, dict[str, Any]]:
    """(spec, manifest) of a bundle's ONNX graphs, after checking every recorded SHA-256."""
    folder = Path(folder)
    spec = read_spec(folder)
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(
            f"bundle {spec.version!r} has no ONNX graphs ({MANIFEST_FILE} is missing); export them on an "
            "installation with torch: python installer/export_onnx.py BUNDLE"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != MANIFEST_FORMAT:
        raise BundleError(f"{path}: unknown format (expected format_version {MANIFEST_FORMAT})")
    if manifest.get("weights_sha256") != spec.weights_sha256:
        raise BundleError(f"{path} was exported from other weights than bundle {spec.version!r}")
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict) or set(graphs) != {MODEL_GRAPH, RESCORE_GRAPH}:
        raise BundleError(f"{path}: 'graphs' must list {MODEL_GRAPH} and {RESCORE_GRAPH}")
    for name, expected in graphs.items():
        graph = folder / name
        if not graph.is_file():
            raise BundleError(f"bundle {spec.version!r} lacks {name} (listed in {MANIFEST_FILE})")
        if sha256_file(graph) != expected:
            raise BundleError(f"{graph} does not match its recorded SHA-256 (truncated or modified)")
    return spec, manifest


def export_bundle_graphs(folder: str | Path) -> Path:
    """Export the bundle at ``folder`` to ``model.onnx`` + ``rescore.onnx`` + ``onnx.json`` inside it.

    Each file is written beside its target and renamed into place; the manifest comes last. Needs torch.
    """
    import torch

    from c5desk.model.bundle import load_bundle

    folder = Path(folder)
    model, spec = load_bundle(folder, device="cpu")
    example = torch.zeros(2, spec.in_chans, spec.input_size, spec.input_size)
    with torch.inference_mode():
        features = model.encode(example)
    feature_names = [f"feature_{i}" for i in range(len(features))]
    full, rescore = _wrappers(model, len(features))
    _export(full, (example,), folder / MODEL_GRAPH, [IMAGE_INPUT], [*HEAD_OUTPUTS, *feature_names])
    mask = torch.full((2, 1, spec.input_size, spec.input_size), 0.5)
    _export(
        rescore,
        (*features, mask),
        folder / RESCORE_GRAPH,
        [*feature_names, MASK_INPUT],
        ["cls_logits"],
    )
    manifest = {
        "format_version": MANIFEST_FORMAT,
        "weights_sha256": spec.weights_sha256,
        "version": spec.version,
        "input_size": spec.input_size,
        "opset": OPSET,
        "torch": torch.__version__,
        "features": feature_names,
        "graphs": {name: sha256_file(folder / name) for name in (MODEL_GRAPH, RESCORE_GRAPH)},
    }
    _write_atomically(folder / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return folder


def _wrappers(model, n_features: int):
    """(full graph, rescore graph) as modules; defined here because torch is imported only on export."""
    from torch import nn

    class FullGraph(nn.Module):
        """model(x) plus the encoder features it computed on the way."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            features = self.model.encode(x)
            seg_logits = self.model.segment(features)
            return (seg_logits, self.model._classify(features, seg_logits), *features)

    class RescoreGraph(nn.Module):
        """model.classify(features, mask_prob) with the features as separate inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model.classify(list(inputs[:n_features]), inputs[n_features])

    return FullGraph().eval(), RescoreGraph().eval()


def _export(module, args: tuple, path: Path, input_names: list[str], output_names: list[str]) -> None:
    import torch

    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    dynamic_axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    try:
        with warnings.catch_warnings():
            # The legacy exporter announces its deprecation and traces Python ints; both are expected here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(temp),
                dynamo=False,
                opset_version=OPSET,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
        os.replace(temp, path)
    except (RuntimeError, OSError, torch.onnx.errors.OnnxExporterError) as exc:
        temp.unlink(missing_ok=True)
        raise ModelError(f"ONNX export to {path} failed: {exc}") from exc


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BundleError(f"cannot write {path}: {exc}") from exc
