"""Field-by-field validation of a bundle's ``model.json``: one specific BundleError per problem."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from c5desk.errors import BundleError
from c5desk.model.arch_rules import check_arch_args, first_non_finite

_SHA256 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_numbers(value: Any, positive: bool = False) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(_is_number(v) and math.isfinite(v) and (v > 0 or not positive) for v in value)
    )


def _is_version(value: Any) -> bool:
    return isinstance(value, str) and bool(_VERSION.fullmatch(value))


def _is_iso_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# key -> (test, what the value must be)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format_version": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "arch": (lambda v: isinstance(v, str) and bool(v), "a non-empty architecture name"),
    "arch_args": (lambda v: isinstance(v, dict), "an object of keyword arguments"),
    "input_size": (
        lambda v: _is_int(v) and 32 <= v <= 1024 and v % 32 == 0,
        "a positive multiple of 32 up to 1024",
    ),
    "in_chans": (lambda v: _is_int(v) and 1 <= v <= 4, "an integer 1..4"),
    "mean": (_is_numbers, "a list of finite numbers"),
    "std": (lambda v: _is_numbers(v, positive=True), "a list of positive finite numbers"),
    "class_names": (
        lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(c, str) and c for c in v),
        "a list of at least two names",
    ),
    "version": (_is_version, "1-100 characters from [A-Za-z0-9._+-]"),
    "parent": (lambda v: v is None or _is_version(v), "a version string or null"),
    "created": (_is_iso_time, "an ISO 8601 time"),
    "training": (lambda v: isinstance(v, dict), "an object"),
    "metrics": (lambda v: isinstance(v, dict), "an object"),
    "weights_sha256": (lambda v: isinstance(v, str) and bool(_SHA256.fullmatch(v)), "64 hex digits"),
    "notes": (lambda v: isinstance(v, str), "a string"),
}


def _is_familiarity(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("file") == "familiarity.safetensors"
        and isinstance(value.get("sha256"), str)
        and bool(_SHA256.fullmatch(value["sha256"]))
        and _is_number(value.get("cut"))
        and value["cut"] > 0
    )


# optional keys, checked when present
_OPTIONAL_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "presence_threshold": (lambda v: _is_number(v) and 0 < v < 1, "a number between 0 and 1, exclusive"),
    "familiarity": (
        _is_familiarity,
        'an object with "file": "familiarity.safetensors", its "sha256" and a positive "cut"',
    ),
}


def check_spec_fields(data: dict[str, Any], source: str, supported_format: int) -> None:
    """Raise BundleError naming the first field of ``data`` that breaks its rule."""
    # json.loads takes NaN, Infinity and 1e999: a NaN mean would turn every score into NaN downstream
    bad = first_non_finite(data)
    if bad:
        raise BundleError(f"{source}: {bad} must be a finite number (NaN and infinity are not allowed)")
    optional = {k: rule for k, rule in _OPTIONAL_RULES.items() if data.get(k) is not None}
    for key, (test, requirement) in (_RULES | optional).items():
        if not test(data[key]):
            raise BundleError(f"{source}: {key} must be {requirement}, got {data[key]!r:.80}")
    if data["format_version"] > supported_format:
        raise BundleError(
            f"{source}: bundle format {data['format_version']} is newer than this c5desk reads "
            f"({supported_format}); update c5desk"
        )
    if len(data["mean"]) != data["in_chans"] or len(data["std"]) != data["in_chans"]:
        raise BundleError(f"{source}: mean and std need one value per input channel ({data['in_chans']})")
    check_arch_args(data["arch_args"], source)
