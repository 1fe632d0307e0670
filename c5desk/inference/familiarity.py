"""Is this frame like the frames the model was trained on? A check of the network's own features.

The pixel checks (c5desk.inference.scope) catch colour Doppler and pictures that are not ultrasound. Another
organ — a fetal head, a heart, a thyroid — is greyscale speckle like a breast, and only the network's view of
it differs. Each frame's descriptor is the mean and the spread over space of the encoder's two coarsest maps
(both flip views averaged); its Mahalanobis distance to the descriptors of the bundle's training frames
(mean and a shrunk covariance, fitted when the bundle is published) says how unlike them it is.

The cut is FACTOR times the 99th percentile of the distances of the bundle's held-out (validation) frames.
The factor follows a rule on breast frames only: leaving one breast site out of the fit, every left-out
site keeps >= 85 % of its validation frames in scope (scripts/choose_familiarity_factor.py; at 1.5 they keep
86-100 %, while 53-78 % of HC18's fetal heads are flagged: docs/SECTOR.md). A frame beyond the cut is
shown as out of scope, with the model's answer still given beside it (a reader decides), like the pixel
checks' verdicts.

The statistics travel in the bundle (FILE, safetensors: never unpickled) and model.json names their SHA-256
and the cut (BundleSpec.familiarity); a bundle without them (v1) simply has no such check.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.errors import BundleError, ModelError
from c5desk.inference.contract import Prediction

FILE = "familiarity.safetensors"
MAPS = 2  # the coarsest encoder maps read: what the frame shows, not its fine texture
SHRINKAGE = 0.1  # towards a scaled identity: a few hundred frames cannot pin down a 768-d covariance
FACTOR = 1.5
QUANTILE = 0.99
REASON = "unlike the images this model was trained on (another organ, or a scanner it has not seen?)"


@dataclass(frozen=True)
class Familiarity:
    mean: np.ndarray  # (D,) float64
    precision: np.ndarray  # (D, D) float64: the inverse of the shrunk covariance
    cut: float
    fitted_on: int = 0  # training frames behind the mean and covariance
    held_out: int = 0  # held-out frames behind the cut

    def distances(self, descriptors: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of (N, D) descriptors."""
        descriptors = np.asarray(descriptors, np.float64)
        if descriptors.ndim != 2 or descriptors.shape[1] != len(self.mean):
            raise ModelError(
                f"the familiarity statistics describe {len(self.mean)} values per frame; this network's "
                f"features give {descriptors.shape[-1]}"
            )
        centred = descriptors - self.mean
        squared = np.einsum("ij,jk,ik->i", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def spec_entry(self, sha256: str) -> dict[str, Any]:
        """What model.json says about it (BundleSpec.familiarity)."""
        return {
            "file": FILE,
            "sha256": sha256,
            "cut": round(self.cut, 4),
            "maps": MAPS,
            "fitted_on": self.fitted_on,
            "held_out": self.held_out,
            "rule": f"{FACTOR} x the {QUANTILE:.0%} quantile of the held-out frames' distances",
        }

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        # float32 halves the file (2.4 MB for c5net_tiny); distances are computed in float64 either way
        return save({"mean": self.mean.astype(np.float32), "precision": self.precision.astype(np.float32)})


def descriptors(features: Any, views: int) -> np.ndarray:
    """(N, D) descriptors from an engine's kept features of N frames × `views` flip views (view-major, as
    the Predictor batches them): a list of maps fine to coarse (torch) or a {"feature_i": map} dict (ONNX)."""
    maps = _coarsest(features)
    parts = []
    for feature in maps:
        array = np.asarray(feature.float().cpu() if hasattr(feature, "float") else feature, np.float64)
        parts += [array.mean(axis=(2, 3)), array.std(axis=(2, 3))]
    per_view = np.concatenate(parts, axis=1)
    n = len(per_view) // views
    return per_view.reshape(views, n, -1).mean(axis=0)


def _coarsest(features: Any) -> list[Any]:
    if isinstance(features, dict):
        ordered = sorted(features, key=lambda name: int(name.rsplit("_", 1)[-1]))
        return [features[name] for name in ordered[-MAPS:]]
    return list(features)[-MAPS:]


def fit(train: np.ndarray, held_out: np.ndarray) -> Familiarity:
    """Mean and shrunk covariance of the training descriptors; the cut from the held-out ones."""
    train, held_out = np.asarray(train, np.float64), np.asarray(held_out, np.float64)
    if len(train) < 2 or len(held_out) < 1:
        raise ValueError("fitting familiarity needs at least 2 training and 1 held-out frame")
    mean = train.mean(axis=0)
    centred = train - mean
    covariance = centred.T @ centred / len(train)
    scale = float(np.trace(covariance)) / len(covariance) or 1.0
    shrunk = (1 - SHRINKAGE) * covariance + SHRINKAGE * scale * np.eye(len(covariance))
    partial = Familiarity(mean, np.linalg.inv(shrunk), math.inf, len(train), len(held_out))
    cut = FACTOR * float(np.quantile(partial.distances(held_out), QUANTILE))
    return replace(partial, cut=cut)


def load(folder: Path, entry: dict[str, Any] | None) -> Familiarity | None:
    """The bundle's statistics, checked against model.json (None for a bundle without them)."""
    if entry is None:
        return None
    from safetensors import SafetensorError
    from safetensors.numpy import load as deserialize

    path = Path(folder) / FILE
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if hashlib.sha256(content).hexdigest() != entry["sha256"]:
        raise BundleError(f"{path} does not match its SHA-256 in model.json (replaced or modified)")
    try:
        tensors = deserialize(content)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{path} is not a valid safetensors file: {exc}") from exc
    return _checked(tensors, entry, path)


def _checked(tensors: dict[str, np.ndarray], entry: dict[str, Any], path: Path) -> Familiarity:
    mean, precision = tensors.get("mean"), tensors.get("precision")
    if mean is None or precision is None or mean.ndim != 1 or precision.shape != (len(mean), len(mean)):
        raise BundleError(f"{path}: expected a mean (D,) and a precision (D, D)")
    if not (np.isfinite(mean).all() and np.isfinite(precision).all()):
        raise BundleError(f"{path}: holds values that are not finite")
    counts = [entry.get(k) if isinstance(entry.get(k), int) else 0 for k in ("fitted_on", "held_out")]
    return Familiarity(mean.astype(np.float64), precision.astype(np.float64), float(entry["cut"]), *counts)


def with_familiarity(prediction: Prediction, distance: float, cut: float) -> Prediction:
    """The distance over the cut in the extras; beyond the cut, out of scope (unless a pixel check has
    already said why)."""
    ratio = round(distance / cut, 3)
    extras = {**prediction.extras, "unfamiliarity": ratio}
    if ratio > 1 and extras.get("in_scope", True):
        extras |= {"in_scope": False, "scope_reason": f"{REASON} ({ratio:.1f}x the usual distance)"}
    return replace(prediction, extras=extras)
