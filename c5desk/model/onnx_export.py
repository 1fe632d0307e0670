"""Export a registered model to ONNX (for onnxruntime deployment or inspection).

torch 2.14's default exporter (``dynamo=True``) needs the ``onnxscript`` package, which this project does not
ship; the TorchScript-based exporter (``dynamo=False``) is still present, handles every op these models use
(scaled_dot_product_attention from opset 14) and needs nothing extra, so it is used here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from c5desk.errors import ModelError

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("seg_logits", "cls_logits")


def export_onnx(model: nn.Module, path: str | Path, input_size: int, batch_dynamic: bool = True) -> Path:
    """Write ``model`` (in eval mode) to ``path`` as ONNX; returns the path.

    Input ``image`` (B, in_chans, input_size, input_size) float32, normalised as in ``model.default_cfg``;
    outputs ``seg_logits`` (B, 1, S, S) and ``cls_logits`` (B, 2). The spatial size is fixed at export
    (stripe widths are chosen from it); with ``batch_dynamic`` the batch dimension is free. The file appears
    atomically: it is written next to ``path`` and renamed into place.
    """
    path = Path(path)
    if input_size < 32 or input_size % 32:
        raise ModelError(f"ONNX export needs an input size that is a multiple of 32, got {input_size}")
    in_chans = int(getattr(model, "default_cfg", {}).get("in_chans", 1))
    example = torch.zeros(1, in_chans, input_size, input_size)
    dynamic_axes = None
    if batch_dynamic:
        dynamic_axes = {INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in OUTPUT_NAMES}}
    temp_path = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    was_training = model.training
    model.eval()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # The legacy exporter announces its deprecation and traces Python ints; both are expected here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(temp_path),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
        os.replace(temp_path, path)
    except (RuntimeError, OSError, torch.onnx.errors.OnnxExporterError) as exc:
        temp_path.unlink(missing_ok=True)
        raise ModelError(f"ONNX export to {path} failed: {exc}") from exc
    finally:
        model.train(was_training)
    return path
