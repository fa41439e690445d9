"""Cross-validated agreement of the shipped recipe with a fine-tuned accurate tier.

`worksignal eval --cv K` refits heads per fold over fixed encoders; it cannot refit a
fine-tuned encoder. `scripts/finetune_encoder.py --cv K --oof F` does that (one fine-tune
per fold) and keeps the fine-tuned heads' out-of-fold probabilities. This script fits, on
the same folds, everything else the shipped model uses (the fast tier, the hashed n-gram
work head, the escalation threshold) with worksignal's own training code, and combines
them exactly as the cascade does, so every figure is for text the parts never saw.

    python scripts/cv_recipe.py --labels ../shared/data/labels/dev.jsonl --oof build/oof_ft.npz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from worksignal.classify.encoders import encoder_fine_tuned
from worksignal.classify.evaluate import bootstrap_ci, calibration_error, cohen_kappa
from worksignal.classify.heads import fit_platt
from worksignal.classify.model import Encoders
from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS
from worksignal.classify.train import (
    DEFAULT_ESCALATE_SHARE,
    corpus_rows,
    escalation_threshold,
    fit_ngram_head,
    fit_tiers,
    read_labelled,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--oof", type=Path, required=True, help="npz from finetune_encoder.py --cv K --oof")
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--escalate-share", type=float, default=DEFAULT_ESCALATE_SHARE)
    args = parser.parse_args()

    rows = read_labelled([args.labels])
    texts = [r["text"] for r in rows]
    y = np.array([int(r["work"]) for r in rows])
    true_group = np.array([TOPIC_GROUPS[r["topic"]] for r in rows])
    oof = np.load(args.oof)
    ft_work, ft_group = oof["work"], np.array(GROUPS)[oof["group"].argmax(axis=1)]
    if np.isnan(ft_work).any():
        raise SystemExit(f"{args.oof} lacks some folds: run the fine-tune CV to the end")
    corpus = corpus_rows()
    encoders = Encoders(memo=True)
    # The stock accurate tier is a comparison only, and only while the shipped encoder is
    # the stock one: a fine-tuned encoder has seen every fold.
    stock = not encoder_fine_tuned()
    n = len(rows)
    fast_p, fast_conf, fast_group = np.zeros(n), np.zeros(n), np.empty(n, dtype=object)
    ngram_p, stock_p, stock_group = np.zeros(n), np.zeros(n), np.empty(n, dtype=object)
    escalate = np.zeros(n, dtype=bool)
    folds = list(StratifiedKFold(args.cv, shuffle=True, random_state=0).split(texts, y))
    fold_index = [test_idx for _, test_idx in folds]
    for k, (train_idx, test_idx) in enumerate(folds):
        print(f"fold {k + 1}/{args.cv}", flush=True)
        training = [rows[i] for i in train_idx] + corpus
        tiers = fit_tiers(training, encoders, names=("fast", "accurate") if stock else ("fast",))
        threshold = escalation_threshold(tiers, encoders, training, args.escalate_share)
        test = [texts[i] for i in test_idx]
        fast = tiers["fast"].predict(encoders.features("fast", test, [""] * len(test)), test)
        fast_p[test_idx], fast_conf[test_idx], fast_group[test_idx] = fast.work_probability, fast.confidence, fast.topic_group
        escalate[test_idx] = fast.confidence < threshold
        if stock:
            stock_tier = tiers["accurate"].predict(encoders.features("accurate", test, [""] * len(test)), test)
            stock_p[test_idx], stock_group[test_idx] = stock_tier.work_probability, stock_tier.topic_group
        weights = np.array([float(r.get("weight", 1.0)) for r in training])
        ngrams, head = fit_ngram_head([r["text"] for r in training], [str(int(r["work"])) for r in training], weights)
        ngram_p[test_idx] = head.proba_sparse(ngrams(test))[:, head.classes.index("1")]

    # The shipped head is Platt-scaled on these out-of-fold scores (build_model.py
    # --calibrate-with); here each fold's scaling is fitted on the other folds only.
    calibrated = np.zeros(n)
    logit = np.log(np.clip(ft_work, 1e-6, 1 - 1e-6) / np.clip(1 - ft_work, 1e-6, 1))
    for test_idx in fold_index:
        rest = np.setdiff1d(np.arange(n), test_idx)
        a, b = fit_platt(logit[rest], y[rest] == 1)
        calibrated[test_idx] = 1.0 / (1.0 + np.exp(-(a * logit[test_idx] + b)))
    tuned_p = (calibrated + ngram_p) / 2  # the accurate tier with the fine-tuned encoder
    cascade_p = np.where(escalate, tuned_p, fast_p)
    cascade_group = np.where(escalate, ft_group, fast_group)
    stock_cascade_p = np.where(escalate, stock_p, fast_p)
    stock_cascade_group = np.where(escalate, stock_group, fast_group)

    def score(p: np.ndarray, group: np.ndarray) -> dict[str, object]:
        predicted = (p >= 0.5).astype(int)
        return {"work_kappa": round(cohen_kappa(y, predicted), 4), "work_kappa_ci": bootstrap_ci(y, predicted),
                "work_calibration_error": round(calibration_error(y, p), 4),
                "topic_group_kappa": round(cohen_kappa(true_group, group.astype(str)), 4)}

    result = {
        "n": n, "cv_folds": args.cv, "escalated_share": round(float(escalate.mean()), 4),
        "fast": score(fast_p, fast_group),
        "fine_tuned_heads_alone": score(ft_work, ft_group),
        "accurate_fine_tuned": score(tuned_p, ft_group),
        "cascade_fine_tuned": score(cascade_p, cascade_group),
    }
    # What escalating more would buy: the cascade at other shares of the fast tier's least
    # sure texts (a speed/agreement trade-off; `worksignal train --escalate-share`).
    result["cascade_fine_tuned_by_share"] = {}
    for share in (0.1, 0.2, 0.3, 0.4, 0.5):
        unsure = fast_conf < np.quantile(fast_conf, share)
        result["cascade_fine_tuned_by_share"][str(share)] = {
            "work_kappa": round(cohen_kappa(y, (np.where(unsure, tuned_p, fast_p) >= 0.5).astype(int)), 4),
            "topic_group_kappa": round(cohen_kappa(true_group, np.where(unsure, ft_group, fast_group).astype(str)), 4)}
    if stock:
        result |= {"accurate_stock": score(stock_p, stock_group),
                   "cascade_stock": score(stock_cascade_p, stock_cascade_group)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
