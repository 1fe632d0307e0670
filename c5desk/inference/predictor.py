"""Predictor: frames in, Predictions out — mask, contours, P(malignant), uncertainty, measurements.

One class whatever runs the network (an Engine: PyTorch or ONNX Runtime, see c5desk.inference.engine); get
one with c5desk.inference.make_predictor. Preprocessing follows the bundle's spec (InputSpec), so the model
sees what it saw in training.

Each frame runs as itself and mirrored left-right in one batch (flip test-time augmentation); how the two
views make P(malignant), its uncertainty, the score spread and the outline's instability is written down
in c5desk.inference.contract.

Every answer is checked before it is handed out: a model whose outputs are NaN or infinite (damaged weights,
a graph gone wrong) is a ModelError, never a "benign" with P(malignant) = nan. The check is here, after the
engine, so it covers PyTorch and ONNX Runtime alike.

Nothing is outlined outside the frame's imaging area (c5desk.io.sector: the DICOM region, refined to the
sector inside it, else the sector or rectangle found in the pixels): the probability map is zeroed there, so
the black surround, burned-in text and rulers never become candidates. Each Prediction's extras say whether
the frame is in scope for the model (c5desk.inference.scope: colour Doppler, not an ultrasound image; and
for a bundle with feature statistics, c5desk.inference.familiarity: unlike its training frames, e.g. another
organ).

Prompts (c5desk.inference.prompt): predict(frame, prompt=...) runs the model and refines its mask with the
prompt; refine(frame, prompt) does the same from the frame's cached probability map and encoder features, so
a click costs the refinement, the small head and the measurements, never the network's encoder. A bundle
with prompt support (model v2) takes the prompt as network inputs: the prompt maps
(c5desk.inference.prompt_maps) and the cached features go through the prompt encoder and the decoder
(engine.forward_prompted); older bundles are refined from their probability map (prompt_refine).

A model with a lesion-present output (model v2) answers "no lesion found" when it says there is none
(c5desk.inference.presence).

Not thread-safe: it keeps the last frame's encoder features and probability map so that re-scoring edits
and prompts of that frame only run the small head. Use one Predictor per thread (the app runs all model
work on one worker thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from c5desk.errors import ModelError
from c5desk.inference.contract import (
    MALIGNANT,
    Prediction,
    Prepared,
    binary_entropy,
    combine_views,
    with_mirror,
)
from c5desk.inference.engine import Engine
from c5desk.inference.familiarity import Familiarity, descriptors, with_familiarity
from c5desk.inference.preprocess import Geometry, InputSpec, mask_to_model, to_frame
from c5desk.inference.presence import bundle_cut, keep_prompted_regions, with_presence
from c5desk.inference.prompt import Prompt, refine_mask
from c5desk.inference.prompt_maps import frame_prompt_maps
from c5desk.inference.regions import predicted_lesions
from c5desk.inference.scope import assess
from c5desk.io.frame import Frame
from c5desk.io.sector import ImagingArea, frame_area
from c5desk.lesion.descriptors import describe_lesion
from c5desk.lesion.measure import Measurements, lesion_contours, measure_mask
from c5desk.model.bundle import BundleSpec


@dataclass(frozen=True)
class _Encoded:
    """The encoder features of one frame (both TTA views), for re-scoring edits of that frame."""

    key: tuple[str, int]
    features: Any
    geometry: Geometry


class Predictor:
    def __init__(
        self,
        spec: BundleSpec,
        engine: Engine,
        *,
        tta: bool = True,
        threshold: float = 0.5,
        note: str = "",
        familiarity: Familiarity | None = None,
    ) -> None:
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0 < threshold < 1):
            raise ModelError(f"mask threshold must be a number between 0 and 1, exclusive; got {threshold!r}")
        self.spec, self.engine = spec, engine
        self.input = InputSpec.of(spec)
        self.tta, self.threshold = tta, threshold
        self.note = note  # e.g. the visible GPU → CPU fallback, shown beside the model
        self.familiarity = familiarity  # the out-of-scope check on the network's features (model v2)
        self.presence_threshold = bundle_cut(spec)
        self._encoded: _Encoded | None = None
        self._predicted: tuple[tuple[str, int], Prediction] | None = None  # the last frame's own result
        self._area: tuple[tuple[str, int], ImagingArea | None] | None = None  # the last frame's imaging area

    @property
    def version(self) -> str:
        return str(self.spec.version)

    @property
    def device(self) -> str:
        return self.engine.device

    @property
    def backend(self) -> str:
        return self.engine.name

    # ---- predicting ------------------------------------------------------------------------------------
    def prepare(self, frame: Frame) -> Prepared:
        """Crop, resize and normalise a frame, find its imaging area and scope (thread-safe: batch scoring
        does it on a reader thread)."""
        tensor, geometry = self.input.model_input(frame.grey, frame.region)
        area = frame_area(frame)
        return Prepared(frame, tensor, geometry, area, assess(frame, area))

    def predict(self, frame: Frame, prompt: Prompt | None = None) -> Prediction:
        """The model's result for a frame; with a prompt, its mask refined by the prompt (and re-scored)."""
        prompt = self._checked_prompt(frame, prompt)
        prepared = self.prepare(frame)
        self._area = ((frame.source_id, frame.index), prepared.area)
        prediction = self.predict_prepared([prepared], keep_features=True)[0]
        # BI-RADS terms and each region's own score for a frame someone reads (the app, the DICOM node);
        # batch scoring has no use for them
        if prediction.mask.any():
            prediction.descriptors = describe_lesion(frame.grey, prediction.mask, frame.mm_per_px)
            prediction.lesions = predicted_lesions(
                prediction.prob,
                prediction.mask,
                frame.mm_per_px,
                lambda region: self._mask_score(frame, region)[0],
            )
        self._predicted = ((frame.source_id, frame.index), prediction)
        return prediction if prompt is None else self._prompted(frame, prediction, prompt)

    def refine(self, frame: Frame, prompt: Prompt, base: Prediction | None = None) -> Prediction:
        """predict(frame, prompt) reusing the frame's probability map (`base`, this model's result for the
        frame, else the cached one) and encoder features: the full network runs only without either."""
        prompt = self._checked_prompt(frame, prompt)
        cached = self._predicted
        if base is None and cached is not None and cached[0] == (frame.source_id, frame.index):
            base = cached[1]
        usable = base is not None and base.model_version == self.version and base.prob.shape == frame.shape
        if not usable:
            return self.predict(frame, prompt)
        return self._prompted(frame, base, prompt)  # type: ignore[arg-type]

    def predict_batch(self, frames: list[Frame]) -> list[Prediction]:
        return self.predict_prepared([self.prepare(f) for f in frames])

    def predict_prepared(self, items: list[Prepared], keep_features: bool = False) -> list[Prediction]:
        """`keep_features` (one frame): its encoder features are kept, so that the first edit or prompt of
        the frame does not run the encoder again."""
        if not items:
            return []
        n = len(items)
        batch = np.stack([item.tensor for item in items])
        can_keep = hasattr(self.engine, "forward_keeping")
        keep = keep_features and n == 1 and can_keep
        familiar = self.familiarity is not None and can_keep
        call = self.engine.forward_keeping if keep or familiar else self.engine.forward
        what = f"inference failed on a batch of {n}"
        seg, cls, present, *kept = self._guarded(what, call, self._views(batch))
        distances = self._distances(kept[0]) if familiar else None
        if keep:
            frame = items[0].frame
            self._encoded = _Encoded((frame.source_id, frame.index), kept[0], items[0].geometry)
        seg, p, spread, seg_unc = combine_views(seg, cls[:, MALIGNANT], n, self.tta)
        if present is not None:  # both views' mean, like P(malignant)
            present = (present[:n] + present[n:]) / 2 if self.tta else present
        for i, item in enumerate(items):
            finite = np.isfinite(p[i]) and np.isfinite(seg[i]).all()
            if not finite or (present is not None and not np.isfinite(present[i])):
                raise ModelError(f"model produced no finite result for {_name(item.frame)}")
        predictions = [
            self._finish(item, seg[i], float(p[i]), float(spread[i]), float(seg_unc[i]))
            for i, item in enumerate(items)
        ]
        return self._with_model_checks(predictions, present, distances)

    def _distances(self, features: Any) -> np.ndarray:
        """Each frame's distance to the bundle's training frames in feature space."""
        assert self.familiarity is not None
        return self.familiarity.distances(descriptors(features, 2 if self.tta else 1))

    def _with_model_checks(
        self, predictions: list[Prediction], present: np.ndarray | None, distances: np.ndarray | None
    ) -> list[Prediction]:
        """Model v2's "no lesion found" (P(lesion) under the bundle's cut) and out-of-scope check on the
        network's features (c5desk.inference.presence and .familiarity)."""
        if present is not None:
            cut = self.presence_threshold
            predictions = [
                with_presence(pr, float(pl), cut) for pr, pl in zip(predictions, present, strict=True)
            ]
        if distances is not None and self.familiarity is not None:
            far = self.familiarity.cut
            predictions = [
                with_familiarity(pr, float(d), far) for pr, d in zip(predictions, distances, strict=True)
            ]
        return predictions

    # ---- re-scoring an edited mask ---------------------------------------------------------------------
    def rescore(self, frame: Frame, mask: np.ndarray) -> tuple[float, float, Measurements | None]:
        """P(malignant), its uncertainty and measurements for THIS mask (e.g. a clinician's edit).

        The encoder runs once per frame; later edits only re-run the mask-conditioned head.
        """
        if np.shape(mask) != frame.grey.shape:
            raise ModelError(f"mask shape {np.shape(mask)} does not match the frame {frame.grey.shape}")
        p, _spread = self._mask_score(frame, mask)
        return p, float(binary_entropy(p)), measure_mask(mask, frame.mm_per_px)

    def _mask_score(self, frame: Frame, mask: np.ndarray) -> tuple[float, float]:
        """P(malignant) of the mask-conditioned head on the cached features, and its flip-TTA spread."""
        encoded = self._encode(frame)
        mask_small = self._views(mask_to_model(np.asarray(mask), encoded.geometry)[None, None])
        probs = self._guarded("rescoring failed", self.engine.classify, encoded.features, mask_small)
        views = probs[:, MALIGNANT]
        p = float(views.mean())
        if not math.isfinite(p):
            raise ModelError(f"model produced no finite result for the edited mask of {_name(frame)}")
        return p, float(abs(views[0] - views[-1]))

    # ---- prompts ---------------------------------------------------------------------------------------
    def _checked_prompt(self, frame: Frame, prompt: Prompt | None) -> Prompt | None:
        if prompt is None:
            return None
        if not isinstance(prompt, Prompt):
            raise ModelError(f"a prompt is a c5desk.inference.prompt.Prompt, not {type(prompt).__name__}")
        if self.spec.prompt_support and not hasattr(self.engine, "forward_prompted"):
            # a promptable bundle on an engine without prompt inputs is refused rather than silently
            # refined as if the network had never seen the prompt
            raise ModelError(
                f"model {self.version} declares prompt support, but the {self.backend} engine has no prompt"
                " inputs: update c5desk to use this bundle"
            )
        return prompt.checked(frame.shape)

    def _prompted(self, frame: Frame, base: Prediction, prompt: Prompt) -> Prediction:
        """The model's result with the prompt's mask: outlined, measured, described and re-scored."""
        if self.spec.prompt_support:
            mask = self._network_prompted(frame, prompt) & self._area_of(frame)
        else:
            mask = refine_mask(base.prob, frame.grey, prompt, self.threshold) & self._area_of(frame)
        p, spread = self._mask_score(frame, mask)
        names = self.spec.class_names
        return replace(
            base,
            mask=mask,
            contours=lesion_contours(mask),
            p_malignant=p,
            uncertainty=float(binary_entropy(p)),
            score_spread=spread,
            label=names[MALIGNANT] if p >= 0.5 else names[0],
            measurements=measure_mask(mask, frame.mm_per_px),
            descriptors=describe_lesion(frame.grey, mask, frame.mm_per_px) if mask.any() else {},
            extras=_prompted_extras(base, prompt),
        )

    def _network_prompted(self, frame: Frame, prompt: Prompt) -> np.ndarray:
        """The promptable network's mask for the prompt, from the frame's cached encoder features."""
        encoded = self._encode(frame)
        maps = self._views(frame_prompt_maps(prompt, encoded.geometry)[None])
        seg = self._guarded("the prompt failed", self.engine.forward_prompted, encoded.features, maps)
        if not np.isfinite(seg).all():
            raise ModelError(f"model produced no finite result for the prompt on {_name(frame)}")
        prob, _p, _spread, _unc = combine_views(seg, np.zeros(len(seg)), 1, self.tta)
        return keep_prompted_regions(to_frame(prob[0], encoded.geometry) >= self.threshold, prompt)

    def _area_of(self, frame: Frame) -> np.ndarray:
        """The frame's imaging area mask (a grown click region never spills into the black surround)."""
        key = (frame.source_id, frame.index)
        if self._area is None or self._area[0] != key or self._area[1] is None:
            self._area = (key, frame_area(frame))
        return self._area[1].mask  # type: ignore[union-attr]

    def _encode(self, frame: Frame) -> _Encoded:
        key = (frame.source_id, frame.index)
        if self._encoded is None or self._encoded.key != key:
            item = self.prepare(frame)
            features = self._guarded("rescoring failed", self.engine.encode, self._views(item.tensor[None]))
            self._encoded = _Encoded(key, features, item.geometry)
        return self._encoded

    # ---- shared steps ----------------------------------------------------------------------------------
    def _views(self, batch: np.ndarray) -> np.ndarray:
        return with_mirror(batch) if self.tta else batch

    def _guarded(self, what: str, call, *args: Any) -> Any:
        """Run an engine call; a failure (out of memory...) frees memory and becomes a one-line ModelError."""
        try:
            return call(*args)
        except (RuntimeError, MemoryError) as exc:
            self._encoded = self._predicted = None
            self.engine.release()
            raise ModelError(f"{what}: {exc}".splitlines()[0]) from exc

    def _finish(self, item: Prepared, seg: np.ndarray, p: float, spread: float, seg_unc: float) -> Prediction:
        frame = item.frame
        prob = to_frame(seg, item.geometry)
        if item.area is not None:
            prob[~item.area.mask] = 0.0  # the surround (text, rulers, black) is never a candidate
        mask = prob >= self.threshold
        names = self.spec.class_names
        return Prediction(
            prob=prob,
            mask=mask,
            contours=lesion_contours(mask),
            p_malignant=p,
            uncertainty=float(binary_entropy(p)),
            score_spread=spread,
            seg_uncertainty=seg_unc,
            label=names[MALIGNANT] if p >= 0.5 else names[0],
            calibrated=frame.calibrated,
            measurements=measure_mask(mask, frame.mm_per_px),
            model_version=self.version,
            device=self.device,
            backend=self.backend,
            source_id=frame.source_id,
            frame_index=frame.index,
            extras={"threshold": self.threshold, **_scope_extras(item)},  # threshold: the slider's start
        )


def _prompted_extras(base: Prediction, prompt: Prompt) -> dict[str, object]:
    """The base's extras with the prompt; a clinician pointing at a lesion overrides "no lesion found"."""
    extras = {**base.extras, "prompt": prompt.to_json()}
    if "lesion_found" in extras:
        extras["lesion_found"] = True
    return extras


def _scope_extras(item: Prepared) -> dict[str, object]:
    """in_scope, scope_reason and where the imaging area came from ("dicom", "detected", "whole frame")."""
    extras = item.scope.extras() if item.scope is not None else {}
    if item.area is not None:
        extras["imaging_area"] = item.area.source
    return extras


def _name(frame: Frame) -> str:
    """How an error names a frame: its index and its (de-identified) source."""
    return f"frame {frame.index} of {frame.source_id}" if frame.source_id else f"frame {frame.index}"
