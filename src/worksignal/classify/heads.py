"""Linear heads over text features, stored as plain arrays (no pickles), with calibration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LinearHead:
    """Multinomial (or binary, with a Platt-calibrated sigmoid) linear classifier."""

    classes: list[str]
    weights: np.ndarray  # (features, classes) or (features, 1) for binary
    bias: np.ndarray
    platt: tuple[float, float] = (1.0, 0.0)  # binary only: p = sigmoid(a * score + b)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias

    def proba_sparse(self, x: Any) -> np.ndarray:
        """As `proba`, for a scipy sparse matrix."""
        return self._proba(np.asarray(x @ self.weights) + self.bias)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in `classes` order."""
        return self._proba(self.scores(x))

    def _proba(self, z: np.ndarray) -> np.ndarray:
        if z.shape[1] == 1:
            a, b = self.platt
            positive = 1.0 / (1.0 + np.exp(-(a * z[:, 0] + b)))
            return np.stack([1 - positive, positive], axis=1)
        return _softmax(z)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}.classes": np.array(self.classes),
            f"{prefix}.weights": self.weights.astype(np.float32),
            f"{prefix}.bias": self.bias.astype(np.float32),
            f"{prefix}.platt": np.array(self.platt, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> LinearHead:
        return cls(
            classes=[str(c) for c in arrays[f"{prefix}.classes"]],
            weights=arrays[f"{prefix}.weights"],
            bias=arrays[f"{prefix}.bias"],
            platt=tuple(float(v) for v in arrays[f"{prefix}.platt"]),  # type: ignore[arg-type]
        )


def fit_head(x: Any, labels: list[str] | np.ndarray, *, c: float = 2.0, calibrate: bool = True,
             seed: int = 0, weights: np.ndarray | None = None) -> LinearHead:
    """Logistic regression; a binary head gets Platt scaling fitted on out-of-fold scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    classes = sorted(set(y.tolist()))
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(x, y, sample_weight=weights)
    if len(classes) == 2:
        head = LinearHead([str(k) for k in model.classes_], model.coef_.T.copy(), model.intercept_.copy())
        if calibrate and min(np.bincount(np.searchsorted(model.classes_, y))) >= 5:
            oof = np.zeros(len(y))
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
                fold = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(
                    x[tr], y[tr], sample_weight=None if weights is None else weights[tr])
                oof[te] = fold.decision_function(x[te])
            head.platt = fit_platt(oof, y == model.classes_[1], weights)
        return head
    return LinearHead([str(k) for k in model.classes_], model.coef_.T.copy(), model.intercept_.copy())



def fit_platt(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Platt scaling (a, b) for p = sigmoid(a * score + b), from scores the head did not train on."""
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(scores[:, None], positive, sample_weight=weights)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


def save_heads(path: Path, heads: dict[str, LinearHead], extra: dict[str, np.ndarray] | None = None) -> None:
    arrays: dict[str, np.ndarray] = dict(extra or {})
    for name, head in heads.items():
        arrays.update(head.to_arrays(name))
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_heads(path: Path, names: list[str]) -> tuple[dict[str, LinearHead], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    heads = {name: LinearHead.from_arrays(arrays, name) for name in names if f"{name}.classes" in arrays}
    return heads, arrays
