"""Model bundle: a folder holding ``model.safetensors`` (weights) and ``model.json`` (everything else).

The JSON spec names the architecture and its arguments (``create_model(arch, **arch_args)`` rebuilds the
network), the preprocessing contract (input_size, in_chans, mean, std), class names, lineage (version,
parent), provenance (training data summary, metrics, creation time) and the SHA-256 of the weights, checked
before every load. Weights are read with safetensors only: a bundle can never execute code when opened.

torch is imported inside the functions that need it, so ``read_spec`` (listing versions) stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c5desk.errors import BundleError, ModelError
from c5desk.fsio import StagedFolder
from c5desk.model.spec_check import check_spec_fields

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "model.json"


@dataclass(frozen=True)
class BundleSpec:
    """The parsed ``model.json`` of a bundle (every key required, no others allowed)."""

    format_version: int
    arch: str
    arch_args: dict[str, Any]
    input_size: int
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    version: str
    parent: str | None
    created: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    weights_sha256: str
    notes: str

    @classmethod
    def from_dict(cls, data: Any, source: str = SPEC_FILE) -> BundleSpec:
        if not isinstance(data, dict):
            raise BundleError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise BundleError(f"{source}: unknown keys {unknown}, missing keys {missing}")
        check_spec_fields(data, source, FORMAT_VERSION)
        values = dict(data)
        for key in ("mean", "std", "class_names"):
            values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("mean", "std", "class_names"):
            data[key] = list(data[key])
        return data


def read_spec(folder: str | Path) -> BundleSpec:
    """Parse and validate ``folder/model.json`` (does not touch the weights)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"no model bundle at {folder}: not a folder")
    spec_path = folder / SPEC_FILE
    try:
        text = spec_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a model bundle: {SPEC_FILE} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read {spec_path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{spec_path} is not valid JSON: {exc}") from exc
    return BundleSpec.from_dict(data, str(spec_path))


def save_bundle(
    model: nn.Module,
    folder: str | Path,
    *,
    arch: str,
    arch_args: Mapping[str, Any],
    version: str,
    parent: str | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    notes: str = "",
) -> Path:
    """Write ``model`` as a new bundle at ``folder`` (atomically; an existing bundle is never overwritten).

    ``arch``/``arch_args`` must rebuild this very network (checked against its weights before writing);
    preprocessing fields come from ``model.default_cfg``.
    """
    from safetensors.torch import save as serialize

    folder = Path(folder)
    cfg = getattr(model, "default_cfg", None)
    if not isinstance(cfg, dict):
        raise BundleError("model has no default_cfg; build it with c5desk.model.create_model")
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    _check_rebuildable(arch, dict(arch_args), tensors)
    try:
        weights = serialize(tensors, metadata={"format": "pt"})
    except (ValueError, RuntimeError) as exc:
        raise BundleError(f"cannot serialise the weights of {arch}: {exc}") from exc
    spec = BundleSpec.from_dict(
        {
            "format_version": FORMAT_VERSION,
            "arch": arch,
            "arch_args": _json_roundtrip(dict(arch_args), "arch_args"),
            "input_size": cfg.get("input_size"),
            "in_chans": cfg.get("in_chans"),
            "mean": list(cfg.get("mean", ())),
            "std": list(cfg.get("std", ())),
            "class_names": list(cfg.get("class_names", ())),
            "version": version,
            "parent": parent,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training": _json_roundtrip(dict(training or {}), "training"),
            "metrics": _json_roundtrip(dict(metrics or {}), "metrics"),
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
            "notes": notes,
        },
        source=f"bundle {version!r}",
    )
    spec_text = json.dumps(spec.to_dict(), indent=2, allow_nan=False) + "\n"
    _write_folder_atomically(folder, {WEIGHTS_FILE: weights, SPEC_FILE: spec_text.encode("utf-8")})
    return folder


def load_bundle(folder: str | Path, device: str = "cpu") -> tuple[nn.Module, BundleSpec]:
    """Verify and load a bundle: returns (model in eval mode on ``device``, spec)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as deserialize

    from c5desk.model.registry import create_model

    folder = Path(folder)
    spec = read_spec(folder)
    weights_path = folder / WEIGHTS_FILE
    try:
        weights = weights_path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle {folder} has no {WEIGHTS_FILE}") from None
    except OSError as exc:
        raise BundleError(f"cannot read {weights_path}: {exc}") from exc
    if hashlib.sha256(weights).hexdigest() != spec.weights_sha256:
        raise BundleError(f"{weights_path} does not match its recorded SHA-256 (truncated or modified)")
    try:
        tensors = deserialize(weights)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{weights_path} is not a valid safetensors file: {exc}") from exc
    try:
        model = create_model(spec.arch, **spec.arch_args)
    except ModelError as exc:
        raise BundleError(f"bundle {spec.version!r} cannot be rebuilt: {exc}") from exc
    _check_preprocessing(model.default_cfg, spec)
    _load_weights(model, tensors, spec)
    try:
        model.to(device)
    except (RuntimeError, ValueError, AssertionError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot move model {spec.version!r} to device {device!r}: {reason}") from exc
    return model.eval(), spec


def make_random_bundle(
    folder: str | Path,
    arch: str = "c5net_tiny",
    input_size: int = 64,
    *,
    seed: int = 0,
    version: str | None = None,
    parent: str | None = None,
    **arch_args: Any,
) -> Path:
    """FOR TESTS ONLY: save a bundle of a randomly initialised ``arch`` (its predictions are meaningless).

    The version string always starts with ``random-`` and metrics are empty, so such a bundle can never pass
    for a trained model. Deterministic for a given ``seed``; the caller's RNG state is left untouched.
    """
    import torch

    from c5desk.model.registry import create_model

    version = version or f"random-{arch}-{input_size}-s{seed}"
    if not version.startswith("random-"):
        raise BundleError(f"random test bundles must have a version starting with 'random-', got {version!r}")
    args = {"input_size": input_size, **arch_args}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(arch, **args)
    notes = "FOR TESTS ONLY: random weights, not a trained model."
    return save_bundle(model, folder, arch=arch, arch_args=args, version=version, parent=parent, notes=notes)


def _check_rebuildable(arch: str, arch_args: dict[str, Any], tensors: Mapping[str, Any]) -> None:
    """Build ``arch`` on the meta device (no memory, no init cost) and compare parameter names and shapes."""
    import torch

    from c5desk.model.registry import create_model

    try:
        with torch.device("meta"):
            reference = create_model(arch, **arch_args).state_dict()
    except ModelError as exc:
        raise BundleError(f"cannot save: {exc}") from exc
    expected = {k: tuple(v.shape) for k, v in reference.items()}
    actual = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != actual:
        wrong_shape = {k for k in expected if actual.get(k, expected[k]) != expected[k]}
        differing = sorted(set(expected) ^ set(actual) | wrong_shape)
        raise BundleError(f"cannot save: the weights do not fit {arch}{arch_args} (e.g. {differing[:3]})")


def _check_preprocessing(cfg: Mapping[str, Any], spec: BundleSpec) -> None:
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


def _load_weights(model: nn.Module, tensors: dict[str, Any], spec: BundleSpec) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong_shape:
        raise BundleError(
            f"weights of bundle {spec.version!r} do not fit {spec.arch}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong_shape)} of the wrong shape "
            f"(e.g. {(missing + unexpected + wrong_shape)[:3]})"
        )
    model.load_state_dict(tensors, strict=True)


def _json_roundtrip(value: dict[str, Any], what: str) -> dict[str, Any]:
    """Return ``value`` as it will read back from JSON (tuples become lists); reject what JSON cannot hold."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{what} must be plain JSON data (no NaN, tensors or objects): {exc}") from exc


def _write_folder_atomically(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into a hidden sibling folder, fsync, then rename it to ``folder``."""
    try:
        with StagedFolder(folder) as staging:
            for name, data in files.items():
                (staging / name).write_bytes(data)
    except FileExistsError:
        raise BundleError(f"refusing to overwrite {folder}: it already exists") from None
    except OSError as exc:
        raise BundleError(f"cannot write bundle {folder}: {exc}") from exc
