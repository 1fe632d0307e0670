"""One way to get a predictor, whichever engine this installation has.

    make_predictor(bundle, device="auto", backend="auto", tta=True, threshold=0.5) -> Predictor

backend 'auto': without torch (the lean desktop bundle) ONNX Runtime on the bundle's graphs; with torch,
PyTorch on an accelerator when `device` resolves to one, and on the CPU whichever of PyTorch and ONNX
Runtime is faster on this machine (c5desk.inference.choice). 'torch' or 'onnxruntime' forces one (an
absent one is a clear ModelError). With device 'auto', a GPU that cannot take the model falls back to the
CPU and says so in `predictor.note`; a device named explicitly is used or refused, never swapped.
"""

from __future__ import annotations

from pathlib import Path

from c5desk.errors import ModelError
from c5desk.inference.engine import Engine
from c5desk.inference.familiarity import load as load_familiarity
from c5desk.inference.predictor import Predictor
from c5desk.model.bundle import BundleSpec, read_spec

BACKENDS = ("auto", "torch", "onnxruntime")


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
) -> Predictor:
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    folder = Path(bundle)
    spec = read_spec(folder)
    familiarity = load_familiarity(folder, spec.familiarity)
    if backend == "onnxruntime" or (backend == "auto" and not torch_available()):
        engine = _ort_engine(folder, spec, device)
        return Predictor(spec, engine, tta=tta, threshold=threshold, familiarity=familiarity)
    if not torch_available():
        raise ModelError("the torch backend was requested but torch is not part of this installation")
    engine, note = _torch_side_engine(folder, spec, device, backend)
    return Predictor(spec, engine, tta=tta, threshold=threshold, note=note, familiarity=familiarity)


def _ort_engine(folder: Path, spec: BundleSpec, device: str) -> Engine:
    from c5desk.inference.graphs import ensure_graphs, locate_graphs
    from c5desk.inference.ort_engine import OrtEngine

    graphs = ensure_graphs(folder, spec) if torch_available() else locate_graphs(folder, spec)
    return OrtEngine(graphs, device)


def _torch_side_engine(folder: Path, spec: BundleSpec, device: str, backend: str) -> tuple[Engine, str]:
    """(engine, note) with torch installed: the accelerator, else the faster CPU engine."""
    import torch

    from c5desk.inference.choice import faster_cpu_engine
    from c5desk.inference.devices import resolve_device
    from c5desk.inference.torch_engine import TorchEngine
    from c5desk.model.bundle import load_bundle

    target = resolve_device(device)
    model, _spec = load_bundle(folder, device="cpu")
    note = ""
    if target.type != "cpu":
        try:
            return TorchEngine(model, target), note
        except (ModelError, RuntimeError) as exc:  # CUDA out of memory is a RuntimeError
            if (device or "auto").lower() != "auto":
                raise ModelError(f"the model does not fit on {target}: {exc}".splitlines()[0]) from exc
            note = f"GPU not usable ({(str(exc) or type(exc).__name__).splitlines()[0]}); running on the CPU"
            model = model.to("cpu")
    engine = TorchEngine(model, torch.device("cpu"))
    if backend == "torch":
        return engine, note
    return faster_cpu_engine(engine, folder, spec), note
