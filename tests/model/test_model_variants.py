"""Registry and the fixed model API, for every registered variant (small inputs keep this fast)."""

from __future__ import annotations

import pytest
import torch

from c5desk.errors import ModelError
from c5desk.model import create_model, list_models

ALL_VARIANTS = ["c5net_tiny", "c5net_small", "c5net_base", "unet_resnet", "unet_resnet34", "cswin_unet_tiny"]
MASK_CONDITIONED = ["c5net_tiny", "unet_resnet", "cswin_unet_tiny"]


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("c5net_tiny", input_size=64).eval()


def test_registry_lists_every_variant() -> None:
    assert set(ALL_VARIANTS) <= set(list_models())


def test_created_models_remember_how_to_rebuild_themselves() -> None:
    model = create_model("unet_resnet", input_size=96, decoder_channels=[64, 32, 16, 8])
    assert model.arch_name == "unet_resnet"
    assert model.arch_args == {"input_size": 96, "decoder_channels": [64, 32, 16, 8]}
    rebuilt = create_model(model.arch_name, **model.arch_args)
    rebuilt.load_state_dict(model.state_dict())  # same architecture, so the weights fit exactly


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelError, match="unknown model architecture 'c5net_huge'") as info:
        create_model("c5net_huge")
    assert "c5net_tiny" in str(info.value) and "unet_resnet34" in str(info.value)


def test_bad_builder_arguments_raise_model_error() -> None:
    with pytest.raises(ModelError, match="cannot build"):
        create_model("c5net_tiny", no_such_argument=3)
    with pytest.raises(ModelError, match="multiple of 32"):
        create_model("c5net_tiny", input_size=100)
    with pytest.raises(ModelError, match="timm ResNet"):
        create_model("c5net_tiny", cnn_name="vit_base_patch16_224")


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_every_variant_follows_the_api(name: str) -> None:
    model = create_model(name, input_size=64).eval()
    cfg = model.default_cfg
    assert cfg["input_size"] == 64 and cfg["in_chans"] == 1
    assert cfg["class_names"] == ["benign", "malignant"] and len(cfg["mean"]) == len(cfg["std"]) == 1
    with torch.inference_mode():
        seg, cls = model(torch.randn(2, 1, 64, 64))
        features = model.encode(torch.randn(1, 1, 64, 64))
        assert tuple(model.segment(features).shape) == (1, 1, 64, 64)
        assert tuple(model.classify(features).shape) == (1, 2)
    assert type(model(torch.randn(1, 1, 64, 64))) is tuple
    assert tuple(seg.shape) == (2, 1, 64, 64) and tuple(cls.shape) == (2, 2)
    assert torch.isfinite(seg).all() and torch.isfinite(cls).all()


@pytest.mark.parametrize("size", [96, 160])
def test_sizes_whose_maps_do_not_divide_by_seven_still_work(size: int) -> None:
    model = create_model("c5net_tiny", input_size=size).eval()
    with torch.inference_mode():
        seg, cls = model(torch.randn(1, 1, size, size))
    assert tuple(seg.shape) == (1, 1, size, size) and tuple(cls.shape) == (1, 2)


def test_parameter_counts_grow_tiny_small_base() -> None:
    with torch.device("meta"):  # counting needs shapes only
        models = [create_model(n) for n in ("c5net_tiny", "c5net_small", "c5net_base")]
    counts = [sum(p.numel() for p in m.parameters()) for m in models]
    assert counts[0] < counts[1] < counts[2]
    assert counts[0] < 10_000_000  # the CPU variant must stay small


def test_forward_equals_encode_segment_classify(tiny: torch.nn.Module) -> None:
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        seg, cls = tiny(x)
        features = tiny.encode(x)
        seg2 = tiny.segment(features)
        cls2 = tiny.classify(features, torch.sigmoid(seg2))
        cls3 = tiny.classify(features)  # None = the model's own mask
    torch.testing.assert_close(seg2, seg)
    torch.testing.assert_close(cls2, cls)
    torch.testing.assert_close(cls3, cls)


@pytest.mark.parametrize("name", MASK_CONDITIONED)
def test_classification_follows_the_mask(name: str) -> None:
    torch.manual_seed(3)
    model = create_model(name, input_size=64).eval()
    x = torch.randn(1, 1, 64, 64)
    left, right = torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64)
    left[..., 16:48, 4:28], right[..., 8:30, 36:62] = 1.0, 1.0
    with torch.inference_mode():
        features = model.encode(x)
        scores = [model.classify(features, mask) for mask in (left, right)]
    assert not torch.allclose(scores[0], scores[1], atol=1e-5)


def test_plain_unet_baseline_ignores_the_mask() -> None:
    model = create_model("unet_resnet34", input_size=64).eval()
    with torch.inference_mode():
        features = model.encode(torch.randn(1, 1, 64, 64))
        empty = model.classify(features, torch.zeros(1, 1, 64, 64))
        full = model.classify(features, torch.ones(1, 1, 64, 64))
    torch.testing.assert_close(empty, full)


def trained_one_step(x: torch.Tensor) -> torch.nn.Module:
    """c5net_tiny after one optimiser step: the couplings start closed (zero-init) and open on step one."""
    model = create_model("c5net_tiny", input_size=64).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    seg, cls = model(x)
    (seg.square().mean() + cls.square().mean()).backward()
    optimiser.step()
    optimiser.zero_grad()
    return model


def test_gradients_reach_both_branches_and_heads() -> None:
    torch.manual_seed(4)
    x = torch.randn(2, 1, 64, 64)
    model = trained_one_step(x)
    seg, cls = model(x)
    (seg.square().mean() + cls.square().mean()).backward()
    parts = {
        "cnn": model.encoder.cnn,
        "transformer": model.encoder.transformer,
        "couplings": model.encoder.couplings,
        "decoder": model.decoder,
        "classifier": model.classifier,
    }
    for part, module in parts.items():
        grads = [p.grad.abs().sum() for p in module.parameters() if p.grad is not None]
        assert grads and float(sum(grads)) > 0, f"no gradient reached the {part}"


def test_classification_loss_does_not_move_the_decoder() -> None:
    """The predicted mask is detached before it conditions the classifier (see DualTaskNet.forward)."""
    torch.manual_seed(5)
    x = torch.randn(2, 1, 64, 64)
    model = trained_one_step(x)
    _, cls = model(x)
    cls.sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in model.decoder.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.encoder.transformer.parameters())


def test_channels_last_gives_the_same_outputs(tiny: torch.nn.Module) -> None:
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        expected = tiny(x)
        tiny_cl = create_model("c5net_tiny", input_size=64).eval()
        tiny_cl.load_state_dict(tiny.state_dict())
        tiny_cl = tiny_cl.to(memory_format=torch.channels_last)
        got = tiny_cl(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        ((1, 64, 64), torch.float32, "expected input of shape"),
        ((1, 3, 64, 64), torch.float32, "expected input of shape"),
        ((1, 1, 64, 80), torch.float32, "multiples of 32"),
        ((1, 1, 64, 64), torch.uint8, "floating-point"),
    ],
)
def test_bad_inputs_raise_model_error(tiny: torch.nn.Module, shape, dtype, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        tiny(torch.zeros(shape, dtype=dtype))


def test_mask_of_the_wrong_shape_raises_model_error(tiny: torch.nn.Module) -> None:
    with torch.inference_mode():
        features = tiny.encode(torch.randn(2, 1, 64, 64))
        with pytest.raises(ModelError, match="mask_prob must have shape"):
            tiny.classify(features, torch.ones(1, 1, 64, 64))
        with pytest.raises(ModelError, match="mask_prob must have shape"):
            tiny.classify(features, torch.ones(2, 1, 32, 32))
