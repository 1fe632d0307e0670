"""Inference: a trained bundle and frames in, Predictions out, on whichever engine this installation has.

    from c5desk.inference import make_predictor
    predictor = make_predictor(bundle, device="auto")        # Predictor; .device and .backend say where
    result = predictor.predict(frame)                          # Prediction: mask, P(malignant), mm, ...
    p, uncertainty, measurements = predictor.rescore(frame, edited_mask)

Modules: contract (Prediction, flip-TTA maths), preprocess (InputSpec: the one crop/resize/normalise),
predictor (the Predictor), engine + torch_engine + ort_engine (what runs the network), graphs (the
bundle's verified ONNX graphs, cached), devices, choice (the faster CPU engine), factory (make_predictor).
Importing this package does not import torch.
"""

from __future__ import annotations

from c5desk.inference.contract import Prediction, Prepared
from c5desk.inference.factory import make_predictor, torch_available
from c5desk.inference.predictor import Predictor
from c5desk.inference.preprocess import InputSpec

__all__ = ["InputSpec", "Prediction", "Predictor", "Prepared", "make_predictor", "torch_available"]
