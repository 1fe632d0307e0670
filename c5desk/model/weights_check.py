"""The checks a bundle's weights pass before a network is built from its ``model.json``.

Order matters: a hand-edited ``arch_args`` must be refused before it can allocate anything, so the file's
size is bounded before it is read, its safetensors header is parsed from the hashed bytes (no tensor is
materialised), and the architecture is first built on the meta device (no memory) to compare the shapes it
would have with the ones in the file. The weights file also carries the preprocessing contract it was saved
with (``CONTRACT_KEY`` in the safetensors metadata, covered by the weights hash): a ``model.json`` edited to
another input size, mean or architecture afterwards no longer matches it. Finally no tensor may hold NaN or
infinity: such a model answers every frame with NaN.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c5desk.errors import BundleError, ModelError
from c5desk.model.arch_rules import MAX_WEIGHT_BYTES

if TYPE_CHECKING:
    from c5desk.model.bundle import BundleSpec

MAX_HEADER_BYTES = 16 << 20
CONTRACT_KEY = "c5desk.contract"
CONTRACT_FIELDS = ("input_size", "in_chans", "mean", "std", "class_names", "arch", "arch_args")
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip


def contract_text(values: Mapping[str, Any]) -> str:
    """The preprocessing contract as stored in the weights' metadata (canonical JSON)."""
    contract = {key: values[key] for key in CONTRACT_FIELDS}
    return json.dumps(contract, sort_keys=True, allow_nan=False, default=list)


def read_weights(path: Path, spec: BundleSpec) -> bytes:
    """The weights file's bytes, after bounding its size and checking its recorded SHA-256."""
    try:
        size = path.stat().st_size
        if size > MAX_WEIGHT_BYTES:
            raise BundleError(f"{path} is {_size(size)}; the limit is {_size(MAX_WEIGHT_BYTES)}")
        weights = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle {path.parent} has no {path.name}") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if hashlib.sha256(weights).hexdigest() != spec.weights_sha256:
        raise BundleError(f"{path} does not match its recorded SHA-256 (truncated or modified)")
    return weights


def read_header(weights: bytes, path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """(tensor name → shape, metadata) from a safetensors file's JSON header, without reading any tensor."""
    bad = f"{path} is not a valid safetensors file"
    if len(weights) < 8:
        raise BundleError(f"{bad}: too short")
    (length,) = struct.unpack("<Q", weights[:8])
    if length > min(MAX_HEADER_BYTES, len(weights) - 8):
        raise BundleError(f"{bad}: header length {length} is out of bounds")
    try:
        header = json.loads(weights[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{bad}: {exc}") from exc
    if not isinstance(header, dict):
        raise BundleError(f"{bad}: the header is not an object")
    metadata = header.pop("__metadata__", None) or {}
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise BundleError(f"{bad}: tensor {name!r} has no valid shape")
        if entry.get("dtype") not in _DTYPE_BYTES:
            raise BundleError(f"{bad}: tensor {name!r} has unknown dtype {entry.get('dtype')!r:.20}")
        shapes[name] = tuple(shape)
    return shapes, metadata if isinstance(metadata, dict) else {}


def reference_shapes(spec: BundleSpec) -> dict[str, tuple[int, ...]]:
    """Build ``spec``'s network on the meta device and return its tensor shapes, after bounding its size and
    checking that the preprocessing it was built for is the one ``model.json`` declares."""
    import torch

    from c5desk.model.registry import create_model

    try:
        with torch.device("meta"):
            model = create_model(spec.arch, **spec.arch_args)
    except (ModelError, TypeError, ValueError, AssertionError, IndexError, RuntimeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise BundleError(f"bundle {spec.version!r} cannot be rebuilt: {reason}") from exc
    state = model.state_dict()
    total = sum(t.numel() * t.element_size() for t in state.values())
    if total > MAX_WEIGHT_BYTES:
        raise BundleError(
            f"bundle {spec.version!r}: arch_args would build a network of {_size(total)}; "
            f"the limit is {_size(MAX_WEIGHT_BYTES)}"
        )
    check_preprocessing(model.default_cfg, spec)
    return {name: tuple(t.shape) for name, t in state.items()}


def check_shapes(expected: Mapping[str, tuple], actual: Mapping[str, tuple], spec: BundleSpec) -> None:
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    if missing or unexpected or wrong_shape:
        raise BundleError(
            f"weights of bundle {spec.version!r} do not fit {spec.arch} with its arch_args: {len(missing)} "
            f"missing, {len(unexpected)} unexpected, {len(wrong_shape)} of the wrong shape "
            f"(e.g. {(missing + unexpected + wrong_shape)[:3]})"
        )


def check_preprocessing(cfg: Mapping[str, Any], spec: BundleSpec) -> None:
    """The spec's preprocessing must be the one the rebuilt network was made for: one contract, not two."""
    for key in ("input_size", "in_chans", "mean", "std"):
        built, declared = cfg.get(key), getattr(spec, key)
        if isinstance(built, (list, tuple)):
            built = tuple(float(v) for v in built)
        if built != declared:
            raise BundleError(
                f"bundle {spec.version!r}: model.json says {key} {declared!r} but {spec.arch} built from its "
                f"arch_args has {built!r}; the bundle was edited or made wrongly"
            )


def check_contract(metadata: Mapping[str, str], spec: BundleSpec) -> None:
    """``model.json`` must still say what the weights were saved with (input size, mean, arch...)."""
    recorded_text = metadata.get(CONTRACT_KEY)
    if recorded_text is None:  # saved before contracts were recorded: the training recipe is all we have
        recipe = spec.training.get("recipe")
        trained = recipe.get("input_size") if isinstance(recipe, dict) else None
        if isinstance(trained, int) and trained != spec.input_size:
            raise BundleError(
                f"bundle {spec.version!r}: model.json says input_size {spec.input_size} but it was trained "
                f"at {trained}; the bundle was edited"
            )
        return
    try:
        recorded = json.loads(recorded_text)
    except (TypeError, json.JSONDecodeError):
        raise BundleError(f"bundle {spec.version!r}: the contract in its weights is unreadable") from None
    declared = json.loads(contract_text(spec.to_dict()))
    for key in CONTRACT_FIELDS:
        if not isinstance(recorded, dict) or recorded.get(key) != declared[key]:
            got = recorded.get(key) if isinstance(recorded, dict) else None
            raise BundleError(
                f"bundle {spec.version!r}: model.json says {key} {declared[key]!r:.60} but its weights were "
                f"saved with {got!r:.60}; the bundle was edited after it was made"
            )


def check_finite(tensors: Mapping[str, Any], path: Path) -> None:
    """No weight may be NaN or infinite (a cheap pass over every floating-point tensor)."""
    import torch

    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(f"{path}: tensor {name} holds NaN or infinite values; the bundle is damaged")


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"
