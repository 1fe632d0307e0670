"""Model bundles: round trip, lineage fields, atomic writes and one clear BundleError per kind of damage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from c5desk.errors import BundleError, ModelError
from c5desk.model import create_model
from c5desk.model.bundle import (
    SPEC_FILE,
    WEIGHTS_FILE,
    BundleSpec,
    load_bundle,
    make_random_bundle,
    read_spec,
    save_bundle,
)


def edit_spec(bundle: Path, **changes) -> None:
    data = json.loads((bundle / SPEC_FILE).read_text())
    data.update(changes)
    (bundle / SPEC_FILE).write_text(json.dumps(data))


def test_round_trip_keeps_weights_and_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=64).eval()
    folder = save_bundle(
        model,
        tmp_path / "v2",
        arch="c5net_tiny",
        arch_args={"input_size": 64},
        version="v2",
        parent="v1",
        training={"frames": 12, "folds": [1, 2]},
        metrics={"dice": 0.5},
        notes="unit test",
    )
    loaded, spec = load_bundle(folder)
    assert not loaded.training
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        for a, b in zip(model(x), loaded(x), strict=True):
            torch.testing.assert_close(a, b)
    assert (spec.version, spec.parent, spec.arch, spec.input_size) == ("v2", "v1", "c5net_tiny", 64)
    assert spec.training == {"frames": 12, "folds": [1, 2]} and spec.metrics == {"dice": 0.5}
    assert spec.mean == model.default_cfg["mean"] and spec.class_names == ("benign", "malignant")
    assert spec.created.endswith("+00:00") and len(spec.weights_sha256) == 64
    assert read_spec(folder) == spec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v2"]  # no temporary folder left behind


def test_random_bundle_is_marked_as_a_test_artefact(tiny_bundle: Path) -> None:
    spec = read_spec(tiny_bundle)
    assert spec.version.startswith("random-") and spec.metrics == {} and "TESTS ONLY" in spec.notes
    with pytest.raises(BundleError, match="random-"):
        make_random_bundle(tiny_bundle.parent / "other", version="v7")


def test_random_bundles_are_reproducible_and_leave_the_rng_alone(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = read_spec(make_random_bundle(tmp_path / "a", seed=5))
    assert torch.equal(torch.rand(1), expected_next)
    b = read_spec(make_random_bundle(tmp_path / "b", seed=5))
    c = read_spec(make_random_bundle(tmp_path / "c", seed=6))
    assert a.weights_sha256 == b.weights_sha256 != c.weights_sha256


def test_refuses_to_overwrite_an_existing_bundle(tiny_bundle: Path) -> None:
    before = (tiny_bundle / SPEC_FILE).read_bytes()
    with pytest.raises(BundleError, match="refusing to overwrite"):
        make_random_bundle(tiny_bundle, seed=9)
    assert (tiny_bundle / SPEC_FILE).read_bytes() == before


def test_an_empty_placeholder_folder_may_be_filled(tmp_path: Path) -> None:
    (tmp_path / "slot").mkdir()
    assert read_spec(make_random_bundle(tmp_path / "slot")).arch == "c5net_tiny"


def test_save_refuses_arguments_that_would_not_rebuild_the_model(tmp_path: Path) -> None:
    model = create_model("c5net_tiny", input_size=64)
    with pytest.raises(BundleError, match="do not fit"):
        narrower = {"embed_dims": [16, 32, 64, 128]}
        save_bundle(model, tmp_path / "x", arch="c5net_tiny", arch_args=narrower, version="x")
    with pytest.raises(BundleError, match="unknown model architecture"):
        save_bundle(model, tmp_path / "y", arch="nope", arch_args={}, version="y")
    with pytest.raises(BundleError, match="plain JSON"):
        nan_metrics = {"auc": float("nan")}
        save_bundle(model, tmp_path / "z", arch="c5net_tiny", arch_args={}, version="z", metrics=nan_metrics)
    with pytest.raises(BundleError, match="version must be"):
        save_bundle(model, tmp_path / "w", arch="c5net_tiny", arch_args={}, version="bad version/")
    assert list(tmp_path.iterdir()) == []


def test_unavailable_device_is_a_model_error(tiny_bundle: Path) -> None:
    with pytest.raises(ModelError, match="cannot move model"):
        load_bundle(tiny_bundle, device="no-such-device")


def test_missing_folder_and_files(tmp_path: Path, tiny_bundle: Path) -> None:
    with pytest.raises(BundleError, match="not a folder"):
        load_bundle(tmp_path / "absent")
    (tiny_bundle / WEIGHTS_FILE).unlink()
    with pytest.raises(BundleError, match=f"no {WEIGHTS_FILE}"):
        load_bundle(tiny_bundle)
    (tiny_bundle / SPEC_FILE).unlink()
    with pytest.raises(BundleError, match=f"{SPEC_FILE} is missing"):
        load_bundle(tiny_bundle)


def test_truncated_weights_are_detected(tiny_bundle: Path) -> None:
    weights = tiny_bundle / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(tiny_bundle)


def test_tampered_weights_are_detected(tiny_bundle: Path) -> None:
    weights = tiny_bundle / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # one bit in the last tensor, same length
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(tiny_bundle)


def test_weights_that_are_not_safetensors_are_refused_even_with_a_matching_hash(tiny_bundle: Path) -> None:
    import hashlib

    garbage = b"\x80\x04not a safetensors file"
    (tiny_bundle / WEIGHTS_FILE).write_bytes(garbage)
    edit_spec(tiny_bundle, weights_sha256=hashlib.sha256(garbage).hexdigest())
    with pytest.raises(BundleError, match="not a valid safetensors"):
        load_bundle(tiny_bundle)


def test_spec_that_is_not_json(tiny_bundle: Path) -> None:
    (tiny_bundle / SPEC_FILE).write_text("{ this is not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_spec(tiny_bundle)
    (tiny_bundle / SPEC_FILE).write_bytes(b"\xff\xfe\x00")
    with pytest.raises(BundleError, match="cannot read"):
        read_spec(tiny_bundle)
    (tiny_bundle / SPEC_FILE).write_text("[1, 2]")
    with pytest.raises(BundleError, match="expected a JSON object"):
        read_spec(tiny_bundle)


def test_unknown_and_missing_keys(tiny_bundle: Path) -> None:
    edit_spec(tiny_bundle, surprise=1)
    with pytest.raises(BundleError, match=r"unknown keys \['surprise'\]"):
        read_spec(tiny_bundle)
    data = json.loads((tiny_bundle / SPEC_FILE).read_text())
    del data["surprise"], data["std"]
    (tiny_bundle / SPEC_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"missing keys \['std'\]"):
        read_spec(tiny_bundle)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_size": 100}, "input_size must be"),
        ({"std": [0.0]}, "std must be"),
        ({"mean": [0.1, 0.2]}, "one value per input channel"),
        ({"created": "yesterday"}, "created must be"),
        ({"weights_sha256": "abc"}, "weights_sha256 must be"),
        ({"format_version": 99}, "newer than this c5desk reads"),
        ({"class_names": ["only-one"]}, "class_names must be"),
    ],
)
def test_invalid_fields_are_named(tiny_bundle: Path, changes: dict, message: str) -> None:
    edit_spec(tiny_bundle, **changes)
    with pytest.raises(BundleError, match=message):
        read_spec(tiny_bundle)


def test_unknown_architecture(tiny_bundle: Path) -> None:
    edit_spec(tiny_bundle, arch="c5net_gigantic")
    with pytest.raises(BundleError, match=r"cannot be rebuilt.*unknown model architecture"):
        load_bundle(tiny_bundle)


def test_weights_that_do_not_fit_the_architecture(tiny_bundle: Path) -> None:
    edit_spec(tiny_bundle, arch="unet_resnet")
    with pytest.raises(BundleError, match="do not fit unet_resnet"):
        load_bundle(tiny_bundle)
    edit_spec(tiny_bundle, arch="c5net_tiny", arch_args={"input_size": 64, "embed_dims": [16, 32, 64, 128]})
    with pytest.raises(BundleError, match="of the wrong shape"):
        load_bundle(tiny_bundle)


def test_spec_from_dict_round_trips() -> None:
    spec = BundleSpec(1, "c5net_tiny", {}, 64, 1, (0.3,), (0.2,), ("benign", "malignant"), "v1", None,
                      "2025-01-01T00:00:00+00:00", {}, {}, "0" * 64, "")  # fmt: skip
    assert BundleSpec.from_dict(spec.to_dict()) == spec


def test_reading_a_spec_does_not_import_torch(tiny_bundle: Path) -> None:
    code = (
        "import sys\nfrom c5desk.model.bundle import read_spec\n"
        f"print(read_spec({str(tiny_bundle)!r}).version, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [read_spec(tiny_bundle).version, "False"]
