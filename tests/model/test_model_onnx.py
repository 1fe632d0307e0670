"""ONNX export of c5net_tiny: onnxruntime reproduces torch, with a free batch dimension."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from c5desk.errors import ModelError
from c5desk.model import create_model, export_onnx
from c5desk.model.onnx_export import INPUT_NAME, OUTPUT_NAMES

SIZE = 64


def test_onnxruntime_matches_torch_for_any_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=SIZE).eval()
    path = export_onnx(model, tmp_path / "tiny.onnx", SIZE)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.onnx"]  # written via a temporary name, renamed
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [INPUT_NAME]
    assert [o.name for o in session.get_outputs()] == list(OUTPUT_NAMES)
    for batch in (1, 3):
        x = torch.randn(batch, 1, SIZE, SIZE)
        with torch.inference_mode():
            expected = [t.numpy() for t in model(x)]
        got = session.run(None, {INPUT_NAME: x.numpy()})
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)


def test_export_keeps_the_training_mode(tmp_path: Path) -> None:
    model = create_model("cswin_unet_tiny", input_size=SIZE).train()
    export_onnx(model, tmp_path / "m.onnx", SIZE, batch_dynamic=False)
    assert model.training


def test_export_rejects_sizes_not_divisible_by_32(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="multiple of 32"):
        export_onnx(create_model("c5net_tiny", input_size=SIZE), tmp_path / "m.onnx", 70)
