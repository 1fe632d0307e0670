"""Softmax regression for `python -m training descriptors`: one linear model per descriptor on standardised
features (optionally their principal components), its regularisation, class weighting and number of
components chosen by the pooled out-of-fold Cohen's kappa over the train folds, then refitted on them all."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from c5desk.lesion.lexicon import DESCRIPTORS
from training.data import DataError
from training.descriptor_agreement import cohen_kappa

L2_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
DIMS_GRID = (16, 32, 64)  # principal components tried for the encoder's wide features


@dataclass
class Fit:
    """A linear softmax model on standardised features: the most probable of `classes` per row."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray
    config: tuple[float, bool, int | None] = (1.0, False, None)  # l2, balanced class weights, PCA dims
    cv_kappa: float = math.nan

    def predict(self, x: np.ndarray) -> list[str]:
        logits = ((x - self.mean) / self.scale) @ self.weights.T + self.bias
        return [self.classes[i] for i in logits.argmax(axis=1)]


def softmax_regression(z: np.ndarray, y: np.ndarray, k: int, l2: float, balanced: bool) -> np.ndarray:
    """(k, d + 1) weights with the bias last, minimising the (class-)weighted mean cross-entropy
    + l2/2 |W|² by damped Newton steps: exact and fast for the few hundred parameters fitted here."""
    n, d = z.shape
    xa = np.hstack([z, np.ones((n, 1))])
    weight = (n / (k * np.maximum(np.bincount(y, minlength=k), 1)))[y] if balanced else np.ones(n)
    weight = weight / weight.sum()
    onehot = np.eye(k)[y]
    penalty = np.tile(np.r_[np.full(d, l2), 1e-4], k)  # a whisper on the bias keeps the Hessian definite
    theta = np.zeros(k * (d + 1))

    def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
        logits = xa @ t.reshape(k, d + 1).T
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-(weight * (onehot * log_p).sum(axis=1)).sum() + 0.5 * penalty @ t**2), np.exp(log_p)

    outer = (xa[:, :, None] * xa[:, None, :]).reshape(n, -1)  # x xᵀ per row: the Hessian is one product
    value, p = objective(theta)
    for _ in range(50):
        grad = (((p - onehot) * weight[:, None]).T @ xa).ravel() + penalty * theta
        curvature = weight[:, None, None] * (p[:, :, None] * np.eye(k) - p[:, :, None] * p[:, None, :])
        blocks = (curvature.reshape(n, k * k).T @ outer).reshape(k, k, d + 1, d + 1)
        hessian = blocks.transpose(0, 2, 1, 3).reshape(grad.size, grad.size)
        step = np.linalg.solve(hessian + np.diag(penalty), grad)
        for _halving in range(30):  # backtracking: Newton can overshoot on nearly separable classes
            candidate = theta - step
            new_value, new_p = objective(candidate)
            if new_value <= value:
                break
            step = step / 2
        done = value - new_value < 1e-10
        theta, value, p = candidate, new_value, new_p
        if done:
            break
    return theta.reshape(k, d + 1)


def fit_descriptor(x: np.ndarray, labels: Sequence[str], folds: np.ndarray, name: str) -> Fit:
    """The configuration of best pooled out-of-fold kappa on these (train) rows, refitted on all of them.

    Configurations: l2 x (plain, balanced class weights), and for wide inputs (the encoder's) the number of
    principal components kept. Ties keep the earlier, simpler one (fewer components, stronger l2)."""
    classes = tuple(term for term in DESCRIPTORS[name] if term in set(labels))
    if len(classes) < 2:
        raise DataError(f"{name}: the train rows show fewer than two terms ({', '.join(classes)})")
    y = np.array([classes.index(term) for term in labels])
    if np.unique(folds).size < 2:  # a folder without folds: four interleaved ones
        folds = np.arange(len(y)) % 4
    dims_grid = (None,) if x.shape[1] <= max(DIMS_GRID) else DIMS_GRID
    configs = [(l2, balanced, dims) for dims in dims_grid for l2 in reversed(L2_GRID) for balanced in (0, 1)]
    spaces = {fold: _Space.of(x[folds != fold]) for fold in np.unique(folds)}
    best_kappa, best_config = -math.inf, configs[0]
    for config in configs:
        predicted = np.empty_like(y)
        for fold, space in spaces.items():
            held = folds == fold
            model = space.fit(y[folds != fold], classes, config)
            predicted[held] = [classes.index(t) for t in model.predict(x[held])]
        kappa = cohen_kappa(y, predicted, len(classes))
        if np.isfinite(kappa) and kappa > best_kappa + 1e-9:
            best_kappa, best_config = kappa, config
    final = _Space.of(x).fit(y, classes, best_config)
    final.cv_kappa = best_kappa if np.isfinite(best_kappa) else math.nan
    return final


@dataclass
class _Space:
    """Standardised training features and their principal directions (computed once per fold)."""

    mean: np.ndarray
    scale: np.ndarray
    z: np.ndarray
    directions: np.ndarray  # (features, components), strongest first

    @staticmethod
    def of(x: np.ndarray) -> _Space:
        mean, scale = x.mean(axis=0), x.std(axis=0)
        z = (x - mean) / np.where(scale > 1e-9, scale, 1.0)
        if z.shape[1] <= max(DIMS_GRID):
            return _Space(mean, np.where(scale > 1e-9, scale, 1.0), z, np.eye(z.shape[1]))
        # Through the rows' Gram matrix: n x n, much cheaper than an SVD of the wide feature matrix.
        values, vectors = np.linalg.eigh(z @ z.T)
        order = np.argsort(values)[::-1][: max(DIMS_GRID)]
        keep = order[values[order] > 1e-9 * max(values.max(), 1e-300)]
        directions = z.T @ vectors[:, keep] / np.sqrt(values[keep])
        return _Space(mean, np.where(scale > 1e-9, scale, 1.0), z, directions)

    def fit(self, y: np.ndarray, classes: tuple[str, ...], config: tuple) -> Fit:
        l2, balanced, dims = config
        basis = self.directions[:, :dims] if dims else self.directions
        theta = softmax_regression(self.z @ basis, y, len(classes), l2, bool(balanced))
        # Back in the standardised feature space: one linear model, whatever was fitted.
        return Fit(classes, self.mean, self.scale, theta[:, :-1] @ basis.T, theta[:, -1], config)
