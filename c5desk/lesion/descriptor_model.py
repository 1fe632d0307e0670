"""The fitted half of the handcrafted BI-RADS descriptors: the feature names, one softmax model per fitted
descriptor, and the parameter file they are read from.

The parameters were fitted on the train split of BrEaST-Lesions_USG only and live in resources/descriptors/
(refit with `python -m training descriptors --fit-handcrafted`). c5desk.lesion.descriptors computes the
features and applies these models.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.errors import C5Error
from c5desk.lesion.lexicon import DESCRIPTORS
from c5desk.settings import RESOURCES

PARAMETERS_FILE = RESOURCES / "descriptors" / "breast_handcrafted_v1.json"
FITTED = ("shape", "margin", "echo_pattern", "posterior_features")  # orientation is a rule
OUTLINE = ("aspect", "solidity", "circularity", "convexity", "ellipse_misfit", "roughness")
OUTLINE += ("max_defect", "n_defects")
MARGIN = ("edge_step", "edge_gradient", "edge_uneven")
ECHO = ("echo_contrast", "dark_part", "bright_part", "inside_cv", "texture_ratio", "inside_entropy")
POSTERIOR = ("posterior_contrast", "posterior_near", "posterior_spread")
FEATURES = OUTLINE + MARGIN + ECHO + POSTERIOR


@dataclass(frozen=True, eq=False)
class SoftmaxModel:
    """One descriptor's model: standardised features → linear logits → the most probable term."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)

    def probabilities(self, values: Mapping[str, float]) -> np.ndarray:
        x = (np.array([values[name] for name in self.features]) - self.mean) / self.scale
        logits = self.weights @ x + self.bias
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def predict(self, values: Mapping[str, float]) -> str:
        return self.classes[int(np.argmax(self.probabilities(values)))]

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> SoftmaxModel:
        try:
            model = cls(
                features=tuple(data["features"]),
                classes=tuple(data["classes"]),
                mean=np.asarray(data["mean"], np.float64),
                scale=np.asarray(data["scale"], np.float64),
                weights=np.asarray(data["weights"], np.float64),
                bias=np.asarray(data["bias"], np.float64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise C5Error(f"descriptor model {name!r} is malformed: {exc}") from None
        k, d = len(model.classes), len(model.features)
        shapes_ok = model.mean.shape == model.scale.shape == (d,) and model.weights.shape == (k, d)
        if not (shapes_ok and model.bias.shape == (k,) and k >= 2):
            raise C5Error(f"descriptor model {name!r}: arrays do not match {k} classes x {d} features")
        unknown = set(model.features) - set(FEATURES) or set(model.classes) - set(DESCRIPTORS[name])
        if unknown or not np.all(model.scale > 0) or not np.all(np.isfinite(model.weights)):
            raise C5Error(f"descriptor model {name!r}: unknown names {sorted(unknown)} or bad numbers")
        return model

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "classes": list(self.classes),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias.tolist(),
        }


@functools.cache
def load_parameters() -> dict[str, SoftmaxModel]:
    """The shipped models (read once per process)."""
    return read_parameters(PARAMETERS_FILE)


def read_parameters(path: Path) -> dict[str, SoftmaxModel]:
    """The fitted models of the FITTED descriptors from a parameters JSON; C5Error when unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        models = data["models"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise C5Error(f"BI-RADS descriptor parameters unreadable ({path}): {exc}") from None
    missing = [name for name in FITTED if name not in models]
    if missing:
        raise C5Error(f"BI-RADS descriptor parameters {path} lack {', '.join(missing)}")
    return {name: SoftmaxModel.from_dict(name, models[name]) for name in FITTED}
