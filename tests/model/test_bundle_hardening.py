"""Hand-edited bundles: refused with one line naming the field, before any network is built for real."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as deserialize
from safetensors.torch import save as serialize

from c5desk import settings
from c5desk.errors import BundleError
from c5desk.model import registry
from c5desk.model.bundle import SPEC_FILE, WEIGHTS_FILE, load_bundle, read_spec
from c5desk.model.catalog import Catalog
from c5desk.model.weights_check import CONTRACT_KEY

SHIPPED = settings.RESOURCES / "models" / "c5net_tiny-busbra-v1"


def edit_spec(bundle: Path, **changes) -> None:
    data = json.loads((bundle / SPEC_FILE).read_text())
    data.update(changes)
    (bundle / SPEC_FILE).write_text(json.dumps(data))


def edit_arch_args(bundle: Path, **changes) -> None:
    data = json.loads((bundle / SPEC_FILE).read_text())
    edit_spec(bundle, arch_args={**data["arch_args"], **changes})


def rewrite_weights(bundle: Path, change=None, metadata: dict | None = None) -> None:
    """Re-save the weights (changed by `change`, with `metadata`) and record their hash, as a forger would."""
    path = bundle / WEIGHTS_FILE
    tensors = deserialize(path.read_bytes())
    if change is not None:
        change(tensors)
    data = serialize(tensors, metadata=metadata)
    path.write_bytes(data)
    edit_spec(bundle, weights_sha256=hashlib.sha256(data).hexdigest())


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """The device of every network create_model builds; a real (non-meta) build fails the test."""
    seen: list[str] = []
    real = registry.create_model

    def spy(name, **overrides):
        device = torch.empty(0).device.type
        seen.append(device)
        if device != "meta":
            raise AssertionError("a network was built for real from an unchecked spec")
        return real(name, **overrides)

    monkeypatch.setattr(registry, "create_model", spy)
    return seen


# ---- point 1: arch_args are bounded and checked against the weights before a real build ----------------
def test_out_of_bounds_arch_args_are_refused_before_anything_is_built(tiny_bundle: Path, builds) -> None:
    edit_arch_args(tiny_bundle, embed_dims=[100_000] * 4)
    with pytest.raises(BundleError, match=r"arch_args\.embed_dims must be four widths 4\.\.1024, got \[1"):
        load_bundle(tiny_bundle)
    edit_arch_args(tiny_bundle, embed_dims=[32, 64, 128, 256], depths=[1, 1, 500, 1])
    with pytest.raises(BundleError, match=r"arch_args\.depths must be four depths 1\.\.32"):
        read_spec(tiny_bundle)  # the catalogue sees it too, without torch
    assert builds == []


def test_a_huge_network_from_in_bounds_arguments_is_refused_by_its_size(tiny_bundle: Path, builds) -> None:
    edit_arch_args(tiny_bundle, embed_dims=[1024] * 4, num_heads=[16] * 4, depths=[16] * 4, mlp_ratio=16.0)
    with pytest.raises(BundleError, match=r"give a transformer over 1024 MiB of weights, the limit"):
        load_bundle(tiny_bundle)
    assert builds == []


def test_meta_build_bounds_the_exact_size(tiny_bundle: Path, builds) -> None:
    edit_arch_args(tiny_bundle, cnn_name="resnet34", cnn_channels=[2048] * 4)  # every value in bounds
    limit = r"arch_args would build a network of \d+\.\d GiB; the limit is 1\.0 GiB"
    with pytest.raises(BundleError, match=limit):
        load_bundle(tiny_bundle)
    assert builds == ["meta"]


def test_weights_file_over_the_limit_is_not_read(tiny_bundle: Path, monkeypatch) -> None:
    monkeypatch.setattr("c5desk.model.weights_check.MAX_WEIGHT_BYTES", 1 << 20)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read {self}"))
    with pytest.raises(BundleError, match=r"model\.safetensors is \d+\.\d MiB; the limit is 1\.0 MiB"):
        load_bundle(tiny_bundle)


def test_arch_args_that_do_not_fit_the_weights_are_found_on_the_meta_device(
    tiny_bundle: Path, builds
) -> None:
    edit_arch_args(tiny_bundle, embed_dims=[1024, 1024, 1024, 1024], num_heads=[8] * 4)
    with pytest.raises(BundleError, match=r"do not fit c5net_tiny with its arch_args: .* of the wrong shape"):
        load_bundle(tiny_bundle)
    assert builds == ["meta"]  # the comparison ran, and nothing was allocated


def test_arch_args_keys_must_belong_to_the_architecture(tiny_bundle: Path, builds) -> None:
    edit_arch_args(tiny_bundle, surprise=1)
    with pytest.raises(
        BundleError, match=r"arch_args\.surprise is not an argument of any known architecture"
    ):
        read_spec(tiny_bundle)
    edit_spec(tiny_bundle, arch="unet_resnet", arch_args={"input_size": 64, "embed_dims": [32, 64, 128, 256]})
    with pytest.raises(BundleError, match=r"arch_args\.embed_dims is not an argument of unet_resnet"):
        load_bundle(tiny_bundle)
    edit_spec(tiny_bundle, arch="c5net_tiny", arch_args={"input_size": 64, "architecture": "unet_resnet"})
    with pytest.raises(BundleError, match=r"arch_args\.architecture is not an argument"):
        load_bundle(tiny_bundle)
    assert builds == []


# ---- point 3: nothing non-finite in model.json or in the weights ---------------------------------------
@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"mean": [NaN]', "mean"),
        ('"std": [Infinity]', "std"),
        ('"mean": [1e999]', "mean"),
        ('"metrics": {"auc": NaN}', r"metrics\.auc"),
    ],
)
def test_non_finite_numbers_in_the_spec_are_refused(tiny_bundle: Path, text: str, field: str) -> None:
    data = json.loads((tiny_bundle / SPEC_FILE).read_text())
    key = text.split('"')[1]
    data[key] = "@@"
    (tiny_bundle / SPEC_FILE).write_text(json.dumps(data).replace(f'"{key}": "@@"', text))
    with pytest.raises(BundleError, match=rf"model\.json: {field}(\[0\])? must be a finite number"):
        read_spec(tiny_bundle)


def test_non_finite_arch_args_are_refused(tiny_bundle: Path) -> None:
    edit_arch_args(tiny_bundle, mean=["@@"])
    text = (tiny_bundle / SPEC_FILE).read_text().replace('"@@"', "NaN")
    (tiny_bundle / SPEC_FILE).write_text(text)
    with pytest.raises(BundleError, match=r"arch_args\.mean\[0\] must be a finite number"):
        read_spec(tiny_bundle)


def test_nan_weights_with_a_recomputed_hash_are_refused(tiny_bundle: Path) -> None:
    metadata = {CONTRACT_KEY: _contract(tiny_bundle)}
    rewrite_weights(tiny_bundle, lambda t: t["classifier.fc.weight"].fill_(float("nan")), metadata)
    with pytest.raises(BundleError, match=r"tensor classifier\.fc\.weight holds NaN or infinite values"):
        load_bundle(tiny_bundle)


# ---- point 7: the preprocessing contract travels in the hashed weights -----------------------------------
def test_input_size_edited_consistently_is_refused(tiny_bundle: Path) -> None:
    load_bundle(tiny_bundle)  # the untouched bundle loads
    edit_spec(tiny_bundle, input_size=96, arch_args={"input_size": 96})
    with pytest.raises(
        BundleError, match=r"says input_size 96 but its weights were saved with 64; .* edited"
    ):
        load_bundle(tiny_bundle)


def test_mean_edited_consistently_is_refused(tiny_bundle: Path) -> None:
    edit_spec(tiny_bundle, mean=[0.5], arch_args={"input_size": 64, "mean": [0.5]})
    with pytest.raises(BundleError, match=r"says mean \[0\.5\] but its weights were saved with \[0\.326\]"):
        load_bundle(tiny_bundle)


def test_a_bundle_saved_before_contracts_still_loads_but_keeps_its_training_size(tiny_bundle: Path) -> None:
    rewrite_weights(tiny_bundle, metadata={"format": "pt"})  # as every bundle was written before
    edit_spec(tiny_bundle, training={"recipe": {"input_size": 64}})
    assert load_bundle(tiny_bundle)[1].input_size == 64
    edit_spec(tiny_bundle, input_size=96, arch_args={"input_size": 96})
    with pytest.raises(BundleError, match=r"says input_size 96 but it was trained at 64"):
        load_bundle(tiny_bundle)


@pytest.mark.skipif(not (SHIPPED / SPEC_FILE).is_file(), reason="the shipped bundle is not in this checkout")
def test_the_shipped_192_bundle_edited_to_224_is_refused(tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(SHIPPED, tmp_path / "shipped", ignore=shutil.ignore_patterns("replay")))
    edit_spec(bundle, input_size=224, arch_args={"input_size": 224})
    with pytest.raises(BundleError, match=r"says input_size 224 but it was trained at 192"):
        load_bundle(bundle)


# ---- point 7: hidden staging folders are never bundles ---------------------------------------------------
def test_hidden_staging_folders_are_neither_listed_nor_loaded(tiny_bundle: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    staging = Path(shutil.copytree(tiny_bundle, models / ".v2.partial-123"))
    catalog = Catalog(models, tmp_path / "shipped")
    assert catalog.scan().entries == {}
    with pytest.raises(BundleError, match=r"\.v2\.partial-123 is a hidden staging folder"):
        load_bundle(staging)
    with pytest.raises(BundleError, match="hidden staging folder"):
        catalog.register(staging)
    assert catalog.scan().entries == {}


def _contract(bundle: Path) -> str:
    """The contract recorded in a bundle's weights."""
    from c5desk.model.weights_check import read_header

    path = bundle / WEIGHTS_FILE
    return read_header(path.read_bytes(), path)[1][CONTRACT_KEY]
