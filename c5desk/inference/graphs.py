"""Where a bundle's ONNX graphs are: in the bundle, else in the per-user cache, always verified.

The lean installation ships the graphs inside the bundle (installer/export_onnx.py). A bundle without them
(a development checkout, a freshly retrained model) has them exported once, on an installation with torch,
into ``<cache>/onnx/<weights SHA-256>-s<size>-f<format>/`` and reused from there. Either way the files are
checked against their manifest, and the manifest against the bundle's weights hash and input size, before
ONNX Runtime loads them: a cache entry is trusted for its content, never for its name. A cache entry that
fails the checks is exported again; a bundle's own graphs that fail are an error.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c5desk.errors import BundleError
from c5desk.fsio import StagedFolder
from c5desk.model.bundle import BundleSpec
from c5desk.model.onnx_graphs import MANIFEST_FILE, MANIFEST_FORMAT, GraphsMissing, read_manifest
from c5desk.settings import cache_dir

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Graphs:
    folder: Path  # holds model.onnx, rescore.onnx and onnx.json
    manifest: dict[str, Any]


def cache_folder(spec: BundleSpec) -> Path:
    return cache_dir() / "onnx" / f"{spec.weights_sha256[:32]}-s{spec.input_size}-f{MANIFEST_FORMAT}"


def locate_graphs(bundle: str | Path, spec: BundleSpec) -> Graphs:
    """The verified graphs of `bundle`: its own, else the cached ones; GraphsMissing when neither exists."""
    bundle = Path(bundle)
    if (bundle / MANIFEST_FILE).exists():
        return Graphs(bundle, read_manifest(bundle, spec))
    cached = cache_folder(spec)
    return Graphs(cached, read_manifest(cached, spec))


def ensure_graphs(bundle: str | Path, spec: BundleSpec, model: nn.Module | None = None) -> Graphs:
    """locate_graphs, exporting into the cache first when needed (needs torch; `model` saves a reload)."""
    try:
        return locate_graphs(bundle, spec)
    except GraphsMissing:
        pass
    except BundleError as exc:
        if (Path(bundle) / MANIFEST_FILE).exists():
            raise  # the bundle's own graphs are damaged: say so rather than quietly use others
        log.warning("re-exporting the cached ONNX graphs: %s", exc)
        shutil.rmtree(cache_folder(spec), ignore_errors=True)
    return _export_to_cache(bundle, spec, model)


def _export_to_cache(bundle: str | Path, spec: BundleSpec, model: nn.Module | None) -> Graphs:
    from c5desk.model.bundle import load_bundle
    from c5desk.model.onnx_graphs import export_graphs

    if model is None:
        model, spec = load_bundle(bundle, device="cpu")
    target = cache_folder(spec)
    try:
        with StagedFolder(target) as staging:
            export_graphs(model, spec, staging)
    except OSError as exc:  # another process published the same export first, or the cache is unwritable
        if not (target / MANIFEST_FILE).is_file():
            raise BundleError(f"cannot cache the ONNX graphs of {spec.version!r} in {target}: {exc}") from exc
    return Graphs(target, read_manifest(target, spec))
