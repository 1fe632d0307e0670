"""Model bundle: a folder holding ``model.safetensors`` (weights) and ``model.json`` (everything else).

The JSON spec names the architecture and its arguments (``create_model(arch, **arch_args)`` rebuilds the
network), the preprocessing contract (input_size, in_chans, mean, std), class names, lineage (version,
parent), provenance (training data summary, metrics, creation time) and the SHA-256 of the weights, checked
before every load. Weights are read with safetensors only: a bundle can never execute code when opened.
Loading checks everything a file could get wrong before a network is built (c5desk.model.weights_check):
bounds on arch_args, the weights' size, their shapes against a meta-device build, the preprocessing
contract the weights were saved with, and finite values.

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
from c5desk.fsio import StagedFolder, is_hidden
from c5desk.model.spec_check import check_spec_fields
from c5desk.model.weights_check import (
    CONTRACT_KEY,
    check_contract,
    check_finite,
    check_shapes,
    contract_text,
    read_header,
    read_weights,
    reference_shapes,
)

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "model.json"
OPTIONAL_KEYS = ("prompt_support", "presence_threshold", "familiarity")


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
    # The network takes a prompt (box, clicks, previous mask) as inputs (c5desk.inference.prompt). Optional
    # in model.json and written only when true, so bundles made before it load and hash as they did.
    prompt_support: bool = False
    # Model v2's "no lesion found" cut on P(lesion) (c5desk.inference.presence), chosen with the model.
    presence_threshold: float | None = None
    # Where the training frames' feature statistics are and the out-of-scope cut
    # (c5desk.inference.familiarity); written by training when the bundle is published.
    familiarity: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str = SPEC_FILE) -> BundleSpec:
        if not isinstance(data, dict):
            raise BundleError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data and n not in OPTIONAL_KEYS]
        if unknown or missing:
            raise BundleError(f"{source}: unknown keys {unknown}, missing keys {missing}")
        check_spec_fields(data, source, FORMAT_VERSION)
        if not isinstance(data.get("prompt_support", False), bool):
            raise BundleError(f"{source}: prompt_support must be true or false")
        arch_args = data.get("arch_args")
        built_with_prompts = isinstance(arch_args, dict) and arch_args.get("prompts") is True
        if data.get("prompt_support", False) != built_with_prompts:
            raise BundleError(f"{source}: prompt_support must say whether arch_args has prompts: true")
        values = dict(data)
        for key in ("mean", "std", "class_names"):
            values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("mean", "std", "class_names"):
            data[key] = list(data[key])
        if not data["prompt_support"]:
            del data["prompt_support"]
        for key in ("presence_threshold", "familiarity"):
            if data[key] is None:
                del data[key]
        return data


def read_spec(folder: str | Path) -> BundleSpec:
    """Parse and validate ``folder/model.json`` (does not touch the weights)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"no model bundle at {folder}: not a folder")
    if is_hidden(folder):  # e.g. .v2.partial-123: a bundle still being written (fsio.StagedFolder)
        raise BundleError(f"{folder} is a hidden staging folder, not a finished model bundle")
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
    presence_threshold: float | None = None,
    familiarity: Any = None,
) -> Path:
    """Write ``model`` as a new bundle at ``folder`` (atomically; an existing bundle is never overwritten).

    ``arch``/``arch_args`` must rebuild this very network (checked against its weights before writing);
    preprocessing fields come from ``model.default_cfg``. ``familiarity`` (c5desk.inference.familiarity:
    the training frames' feature statistics, with ``to_bytes`` and ``spec_entry``) is written beside them.
    """
    folder = Path(folder)
    cfg = getattr(model, "default_cfg", None)
    if not isinstance(cfg, dict):
        raise BundleError("model has no default_cfg; build it with c5desk.model.create_model")
    plain_args = _json_roundtrip(dict(arch_args), "arch_args")
    weights = _serialised_weights(model, arch, plain_args, cfg)
    stats = None if familiarity is None else familiarity.to_bytes()
    spec = BundleSpec.from_dict(
        {
            "format_version": FORMAT_VERSION,
            "arch": arch,
            "arch_args": plain_args,
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
            # a network built with prompt inputs (model v2) says so, so engines know to feed them
            "prompt_support": bool(plain_args.get("prompts", False)),
            "presence_threshold": presence_threshold,
            "familiarity": None
            if stats is None
            else familiarity.spec_entry(hashlib.sha256(stats).hexdigest()),
        },
        source=f"bundle {version!r}",
    )
    spec_text = json.dumps(spec.to_dict(), indent=2, allow_nan=False) + "\n"
    files = {WEIGHTS_FILE: weights, SPEC_FILE: spec_text.encode("utf-8")}
    if stats is not None:
        files[spec.familiarity["file"]] = stats  # type: ignore[index]
    _write_folder_atomically(folder, files)
    return folder


def _serialised_weights(model: nn.Module, arch: str, plain_args: dict[str, Any], cfg: dict) -> bytes:
    """The safetensors bytes of ``model``, checked to rebuild ``arch``, with its preprocessing contract."""
    from safetensors.torch import save as serialize

    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    _check_rebuildable(arch, plain_args, tensors)
    # The contract travels inside the hashed weights, so a later edit of model.json cannot change it. It is
    # the only metadata key: safetensors writes several in no fixed order, which would change the hash.
    contract = contract_text({**cfg, "arch": arch, "arch_args": plain_args})
    try:
        return serialize(tensors, metadata={CONTRACT_KEY: contract})
    except (ValueError, RuntimeError) as exc:
        raise BundleError(f"cannot serialise the weights of {arch}: {exc}") from exc


def sha256_of(familiarity: Any) -> str:
    return hashlib.sha256(familiarity.to_bytes()).hexdigest()


def load_bundle(folder: str | Path, device: str = "cpu") -> tuple[nn.Module, BundleSpec]:
    """Verify and load a bundle: returns (model in eval mode on ``device``, spec).

    Nothing is allocated for the network until the spec, the weights' size, shapes, contract and values
    have all been checked (see the module docstring).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as deserialize

    from c5desk.model.registry import create_model

    folder = Path(folder)
    spec = read_spec(folder)
    _check_arch_args_known(spec)
    weights_path = folder / WEIGHTS_FILE
    weights = read_weights(weights_path, spec)
    shapes, metadata = read_header(weights, weights_path)
    check_shapes(reference_shapes(spec), shapes, spec)
    check_contract(metadata, spec)
    try:
        tensors = deserialize(weights)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{weights_path} is not a valid safetensors file: {exc}") from exc
    check_finite(tensors, weights_path)
    try:
        model = create_model(spec.arch, **spec.arch_args)
    except ModelError as exc:
        raise BundleError(f"bundle {spec.version!r} cannot be rebuilt: {exc}") from exc
    model.load_state_dict(tensors, strict=True)
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


def _check_arch_args_known(spec: BundleSpec) -> None:
    """Every arch_args key must be an argument of this architecture (bounds are checked by read_spec)."""
    from c5desk.model.registry import accepted_args

    try:
        accepted = accepted_args(spec.arch)
    except ModelError as exc:
        raise BundleError(f"bundle {spec.version!r} cannot be rebuilt: {exc}") from exc
    unknown = sorted(set(spec.arch_args) - accepted) if accepted is not None else []
    if unknown:
        raise BundleError(
            f"bundle {spec.version!r}: arch_args.{unknown[0]} is not an argument of {spec.arch}"
        )


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
