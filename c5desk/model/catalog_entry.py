"""One installed model version as the catalogue lists it: where it is, what it was trained on, how good."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c5desk.model.bundle import BundleSpec

TEST_METRICS = Path("evaluation") / "test_metrics.json"  # written by `training evaluate` into a bundle
KEY_METRICS = ("dice", "auc")


@dataclass(frozen=True)
class Entry:
    version: str
    folder: Path
    spec: BundleSpec
    origin: str  # "shipped", "user", "registered" or "override" ($C5DESK_MODEL)

    @property
    def parent(self) -> str | None:
        return self.spec.parent

    @property
    def created(self) -> str:
        return self.spec.created

    @property
    def domain(self) -> str:
        """What it was trained on last: the spec's training domain, else its data folder, else its stage."""
        training = self.spec.training
        data = training.get("data") if isinstance(training.get("data"), dict) else {}
        for value in (training.get("domain"), data.get("folder"), training.get("stage")):
            if isinstance(value, str) and value:
                return value
        return "—"

    def key_metrics(self) -> dict[str, float]:
        """The headline numbers: test-split evaluation when the bundle has one, else validation, else the
        retrain gate's measurement on the held-out corrections."""
        for prefix, source in (
            ("test", self._test_metrics()),
            ("validation", self.spec.metrics.get("validation")),
            ("corrections", _dig(self.spec.metrics, "gate", "candidate", "corrections")),
        ):
            found = {f"{prefix} {k}": float(source[k]) for k in KEY_METRICS if _finite(_get(source, k))}
            if found:
                return found
        return {}

    def describe_metrics(self) -> str:
        return ", ".join(f"{name} {value:.3f}" for name, value in self.key_metrics().items()) or "—"

    def _test_metrics(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder / TEST_METRICS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _get(source: object, key: str) -> object:
    return source.get(key) if isinstance(source, dict) else None


def _dig(source: object, *keys: str) -> object:
    for key in keys:
        source = _get(source, key)
    return source


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
