"""The BI-RADS ultrasound lexicon (ACR BI-RADS Atlas, 5th edition) as c5desk stores it.

One value per descriptor per lesion. Margin is "circumscribed" or the dominant not-circumscribed subtype
(the atlas allows several subtypes; experts list them, the dominant one is enough to say "not
circumscribed" and why). Every stored descriptor carries its provenance: "model" (a suggestion computed
by c5desk) or "clinician" (confirmed or changed by a reader), so exports can say who said what.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from c5desk.errors import C5Error

DESCRIPTORS: dict[str, tuple[str, ...]] = {
    "shape": ("oval", "round", "irregular"),
    "orientation": ("parallel", "not parallel"),
    "margin": ("circumscribed", "indistinct", "angular", "microlobulated", "spiculated"),
    "echo_pattern": (
        "anechoic",
        "hyperechoic",
        "complex cystic and solid",
        "hypoechoic",
        "isoechoic",
        "heterogeneous",
    ),
    "posterior_features": ("no posterior features", "enhancement", "shadowing", "combined pattern"),
}
TITLES = {
    "shape": "Shape",
    "orientation": "Orientation",
    "margin": "Margin",
    "echo_pattern": "Echo pattern",
    "posterior_features": "Posterior features",
}
PROVENANCES = ("model", "clinician")
NOT_CIRCUMSCRIBED = DESCRIPTORS["margin"][1:]


def is_circumscribed(margin: str) -> bool:
    return margin == "circumscribed"


def check_value(name: str, value: object) -> str:
    """The value if it belongs to the descriptor's vocabulary; C5Error naming the allowed values otherwise."""
    if name not in DESCRIPTORS:
        raise C5Error(f"unknown BI-RADS descriptor {name!r}; known: {', '.join(DESCRIPTORS)}")
    if value not in DESCRIPTORS[name]:
        allowed = ", ".join(DESCRIPTORS[name])
        raise C5Error(f"{TITLES[name].lower()} {value!r} is not a BI-RADS term; use one of: {allowed}")
    return str(value)


def check_descriptors(values: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """{name: {"value": term, "source": "model"|"clinician"}} validated; plain {name: term} means "model"."""
    checked: dict[str, dict[str, str]] = {}
    for name, entry in (values or {}).items():
        item = entry if isinstance(entry, Mapping) else {"value": entry, "source": "model"}
        source = item.get("source", "model")
        if source not in PROVENANCES:
            raise C5Error(f"descriptor {name!r}: provenance must be 'model' or 'clinician', not {source!r}")
        checked[name] = {"value": check_value(name, item.get("value")), "source": str(source)}
    return checked


def as_suggestions(terms: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Model-computed terms as stored descriptors with provenance "model"."""
    return check_descriptors({name: {"value": value, "source": "model"} for name, value in terms.items()})
