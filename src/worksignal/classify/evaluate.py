"""Agreement of the classifier with labelled texts: kappa with a bootstrap interval, and more.

With `cv=K` the heads are refitted K times, each time without the fold being scored (the
project corpus stays in every training fold): the honest figure for text the shipped
model was trained on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from worksignal.classify.cascade import Cascade, Labels
from worksignal.classify.encoders import MODELS, encoder_fine_tuned, static_fine_tuned
from worksignal.classify.llm import LLMClassifier
from worksignal.classify.model import ClassifierModel, Encoders
from worksignal.classify.taxonomy import TOPIC_GROUPS
from worksignal.classify.train import (
    DEFAULT_ESCALATE_SHARE,
    build_prior,
    fit_thresholds,
    fit_tiers,
    text_hashes,
)


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    labels = np.unique(np.concatenate([a, b]))
    index = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        m[index[x], index[y]] += 1
    n = m.sum()
    observed = np.trace(m) / n
    expected = (m.sum(0) * m.sum(1)).sum() / n**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else 1.0


def calibration_error(truth: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: how far stated work probabilities sit from observed rates."""
    edges = np.minimum((probability * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = edges == b
        if members.any():
            error += members.mean() * abs(probability[members].mean() - truth[members].mean())
    return float(error)


def bootstrap_ci(a: np.ndarray, b: np.ndarray, rounds: int = 1000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    values = [cohen_kappa(a[idx], b[idx]) for idx in (rng.integers(0, len(a), len(a)) for _ in range(rounds))]
    return [round(float(np.quantile(values, 0.025)), 4), round(float(np.quantile(values, 0.975)), 4)]


def _predict(cascade: Cascade, texts: list[str]) -> tuple[Labels, float]:
    start = time.perf_counter()
    labels = cascade.label(texts)
    return labels, time.perf_counter() - start


def evaluate(rows: list[dict[str, Any]], *, model: ClassifierModel | None = None, mode: str = "cascade",
             cv: int = 0, extra_training: list[dict[str, Any]] | None = None, seed: int = 0,
             llm: LLMClassifier | None = None, work_prior: float | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Metrics for `rows` (text, work, optional topic) under one tier or the cascade; the
    cross-validated models serve at `work_prior` (default: the setting)."""
    texts = [r["text"] for r in rows]
    n = len(rows)
    work_p = np.zeros(n)
    topic = np.empty(n, dtype=object)
    group = np.empty(n, dtype=object)
    tier = np.empty(n, dtype=object)
    seconds = 0.0
    if cv:
        from sklearn.model_selection import StratifiedKFold

        work_prior = build_prior(work_prior)
        encoders = Encoders(memo=True)
        extra = extra_training or []
        y = np.array([int(r["work"]) for r in rows])
        for k, (train_idx, test_idx) in enumerate(StratifiedKFold(cv, shuffle=True, random_state=seed).split(texts, y)):
            if progress:
                progress(f"fold {k + 1}/{cv}")
            training = [rows[i] for i in train_idx] + extra
            tiers = fit_tiers(training, encoders, seed=seed)
            thresholds = fit_thresholds(tiers, encoders, training, DEFAULT_ESCALATE_SHARE, seed=seed,
                                        work_prior=work_prior)
            fold_model = ClassifierModel({"version": f"cv-fold-{k}", "thresholds": thresholds}, tiers, encoders=encoders)
            labels, spent = _predict(Cascade(fold_model, mode, llm=llm), [texts[i] for i in test_idx])
            seconds += spent
            work_p[test_idx], topic[test_idx], group[test_idx], tier[test_idx] = (
                labels.work_probability, labels.topic, labels.topic_group, labels.tier)
        overlap = 0
    else:
        model = model or ClassifierModel.load()
        work_prior = model.work_prior
        labels, seconds = _predict(Cascade(model, mode, llm=llm), texts)
        work_p, topic, group, tier = labels.work_probability, labels.topic, labels.topic_group, labels.tier
        overlap = int(np.isin(text_hashes(texts), model.train_hashes).sum())

    truth = np.array([int(r["work"]) for r in rows])
    predicted = (work_p >= 0.5).astype(int)
    tp = int(((predicted == 1) & (truth == 1)).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    topical = np.array([bool(r.get("topic")) for r in rows])
    result: dict[str, Any] = {
        "n": n,
        "mode": mode,
        "cv_folds": cv,
        "work_kappa": round(cohen_kappa(truth, predicted), 4),
        "work_kappa_ci": bootstrap_ci(truth, predicted),
        "work_accuracy": round(float((truth == predicted).mean()), 4),
        "work_f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "work_brier": round(float(np.mean((work_p - truth) ** 2)), 4),
        "work_calibration_error": round(calibration_error(truth, np.asarray(work_p, dtype=float)), 4),
        "work_share_true": round(float(truth.mean()), 4),
        "work_share_predicted": round(float(predicted.mean()), 4),
        "topic_kappa": None,
        "topic_group_kappa": None,
        "tier_shares": {k: round(v / n, 4) for k, v in sorted(Counter(tier.tolist()).items())},
        "prompts_per_second": round(n / seconds, 1) if seconds else None,
        "work_prior": work_prior,
        "overlap_with_training": overlap,
        # --cv refits heads, not encoders: a tuned encoder has seen the shipped labels.
        "encoder_fine_tuned": static_fine_tuned() or (mode != "fast" and encoder_fine_tuned())
        or (mode in ("ensemble", "cascade") and encoder_fine_tuned(MODELS / "e5")),
    }
    if topical.any():
        true_topic = np.array([r["topic"] for r in rows], dtype=object)[topical]
        result["topic_kappa"] = round(cohen_kappa(true_topic, topic[topical]), 4)
        true_group = np.array([TOPIC_GROUPS[t] for t in true_topic], dtype=object)
        result["topic_group_kappa"] = round(cohen_kappa(true_group, group[topical]), 4)
    languages = np.array([str(r.get("lang") or "") for r in rows])
    if languages.any():  # rows that say their language: where agreement is weak, by language
        result["work_kappa_by_lang"] = {
            lang: {"n": int((languages == lang).sum()),
                   "work_kappa": round(cohen_kappa(truth[languages == lang], predicted[languages == lang]), 4)}
            for lang in sorted(set(languages.tolist()) - {""}, key=lambda x: -int((languages == x).sum()))}
    result["confusion"] = {
        "true_work_pred_work": tp,
        "true_work_pred_nonwork": int(((predicted == 0) & (truth == 1)).sum()),
        "true_nonwork_pred_work": int(((predicted == 1) & (truth == 0)).sum()),
        "true_nonwork_pred_nonwork": int(((predicted == 0) & (truth == 0)).sum()),
    }
    return result
