"""One way to get a predictor, whichever engine this installation has.

    make_predictor(bundle, device="auto", backend="auto", tta=True, threshold=0.5, engine="auto")

engine 'auto' gives the torch Predictor (c5desk.infer: CUDA/MPS/CPU, and on the CPU PyTorch or ONNX Runtime,
whichever is faster here) when torch imports, else the OnnxPredictor (c5desk.onnx_infer: ONNX Runtime on
the bundle's exported graphs). The lean desktop bundle ships no torch, so it always gets the latter; the
GPU bundle and a development checkout get the former. Both have the same public API and give the same
Predictions. engine='torch' or 'onnx' forces one (an absent engine is then a clear ModelError).
"""

from __future__ import annotations

from pathlib import Path

from c5desk.errors import ModelError
from c5desk.predict_common import PredictorBase

ENGINES = ("auto", "torch", "onnx")


def torch_available() -> bool:
    """Whether torch imports here (the lean bundle leaves it out; a broken install counts as absent)."""
    try:
        import torch  # noqa: F401
    except (ImportError, OSError):  # e.g. a CUDA library missing from a damaged installation
        return False
    return True


def make_predictor(
    bundle: str | Path,
    device: str = "auto",
    backend: str = "auto",
    tta: bool = True,
    threshold: float = 0.5,
    engine: str = "auto",
) -> PredictorBase:
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "torch" or (engine == "auto" and torch_available()):
        if not torch_available():
            raise ModelError("the torch engine was requested but torch is not part of this installation")
        from c5desk.infer import Predictor

        return Predictor(bundle, device=device, backend=backend, tta=tta, threshold=threshold)
    from c5desk.onnx_infer import OnnxPredictor

    return OnnxPredictor(bundle, device=device, backend=backend, tta=tta, threshold=threshold)
