"""Cross-validated agreement of the shipped recipe, whose encoders were tuned on the labels.

`worksignal eval --cv K` refits heads per fold over fixed encoders; it cannot refit tuned
encoders. Two scripts do that, one tuning per fold, on the same folds, keeping out-of-fold
outputs: `scripts/finetune_encoder.py --cv K --oof F` (the accurate tier's MiniLM and its
heads) and `scripts/tune_static.py --cv K --oof F` (the fast tier's static vectors and the
fast tier's heads, fitted with worksignal's training code). This script adds, per fold, the
hashed n-gram work and topic-group heads, the Platt scaling of both dense work heads, each
tier's blend of its dense work head with the n-gram one and the escalation threshold, the
ensemble tier's e5 work head (with the corpus), its blend of three work views (on inner
out-of-fold e5 probabilities) and the deepening threshold, each fitted without the scored
fold, and combines them as the cascade does (topic group: each tier's dense and n-gram
probabilities multiplied; the ensemble tier's group is the accurate tier's), so every figure
is for text no part saw.
Work probabilities are served at `--work-prior` as the shipped model's are (moved from the
training folds' work share); `by_work_prior` shows what other priors would give.

    python scripts/cv_recipe.py --labels ../shared/data/labels/dev.jsonl \
        --oof build/oof_ft.npz --fast-oof build/oof_static.npz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from worksignal.classify.encoders import MODELS, OnnxEncoder
from worksignal.classify.evaluate import bootstrap_ci, calibration_error, cohen_kappa
from worksignal.classify.heads import fit_platt
from worksignal.classify.model import logit, prior_shift, sigmoid
from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS
from worksignal.classify.train import (
    DEFAULT_DEEPEN_SHARE,
    DEFAULT_ESCALATE_SHARE,
    DEFAULT_WORK_PRIOR,
    E5_CORPUS_WEIGHT,
    corpus_rows,
    deepen_threshold,
    e5_out_of_fold,
    fast_blend,
    fit_blend,
    fit_e5_head,
    ngram_out_of_fold,
    read_labelled,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--oof", type=Path, required=True, help="npz from finetune_encoder.py --cv K --oof")
    parser.add_argument("--fast-oof", type=Path, required=True, help="npz from tune_static.py --cv K --oof")
    parser.add_argument("--e5-oof", type=Path,
                        help="npz from finetune_encoder.py --base e5 --cv K --oof: the ensemble tier's e5 fine-tuned "
                             "(without it, a work head over frozen e5 vectors is fitted per fold)")
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--arrays", type=Path,
                        help="also write the per-text out-of-fold probabilities and routes (.npz), for routing studies")
    parser.add_argument("--escalate-share", type=float, default=DEFAULT_ESCALATE_SHARE)
    parser.add_argument("--deepen-share", type=float, default=DEFAULT_DEEPEN_SHARE)
    parser.add_argument("--work-prior", type=float, default=DEFAULT_WORK_PRIOR)
    args = parser.parse_args()

    rows = read_labelled([args.labels])
    texts = [r["text"] for r in rows]
    y = np.array([int(r["work"]) for r in rows])
    true_group = np.array([TOPIC_GROUPS[r["topic"]] for r in rows])
    oof, fast_oof = np.load(args.oof), np.load(args.fast_oof)
    ft_logit, fast_score = logit(oof["work"]), fast_oof["work_score"]
    if np.isnan(oof["work"]).any() or np.isnan(fast_score).any() or len(fast_score) != len(rows):
        raise SystemExit("an out-of-fold file lacks some folds or rows: run its --cv to the end over these labels")
    if "group_p" not in fast_oof.files:
        raise SystemExit(f"{args.fast_oof} has no group_p: rerun tune_static.py --cv with this version")
    n = len(rows)
    print("n-gram heads, out of fold", flush=True)
    ngram = ngram_out_of_fold(rows, corpus_rows(), args.cv)
    ngram_p, ngram_group = ngram["work"], np.log(np.maximum(ngram["group"], 1e-12))
    if args.e5_oof:
        e5_logit = logit(np.load(args.e5_oof)["work"])
        if np.isnan(e5_logit).any() or len(e5_logit) != n:
            raise SystemExit(f"{args.e5_oof} lacks some folds or rows: run its --cv to the end over these labels")
    else:
        corpus = corpus_rows(E5_CORPUS_WEIGHT)  # for the e5 work head
        print(f"encoding {n + len(corpus):,} texts with e5", flush=True)
        e5 = OnnxEncoder(MODELS / "e5")
        x_e5, x_corpus = e5(texts), e5([r["text"] for r in corpus])
        y_corpus = np.array([int(r["work"]) for r in corpus])
        w_corpus = np.array([float(r.get("weight", 1.0)) for r in corpus])

    def group_of(*log_p: np.ndarray) -> np.ndarray:
        return np.array(GROUPS)[sum(log_p).argmax(axis=1)]

    ft_group_log = np.log(np.maximum(oof["group"], 1e-12))
    static_group_log = np.log(np.maximum(fast_oof["group_p"], 1e-12))
    static_group, fast_group = group_of(static_group_log), group_of(static_group_log, ngram_group)
    ft_group, accurate_group = group_of(ft_group_log), group_of(ft_group_log, ngram_group)
    ft_p, static_p, fast_p = np.zeros(n), np.zeros(n), np.zeros(n)
    fast_raw, accurate_raw, shift = np.zeros(n), np.zeros(n), np.zeros(n)  # before the prior shift
    escalate, deepen = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    e5_p, ensemble_raw = np.zeros(n), np.zeros(n)
    for train_idx, test_idx in StratifiedKFold(args.cv, shuffle=True, random_state=0).split(texts, y):
        # The shipped model is Platt-scaled, blended and its threshold set on out-of-fold
        # scores (build_model.py --calibrate-with, --fast-oof); here on the other folds' only.
        shift[test_idx] = prior_shift(float(y[train_idx].mean()), args.work_prior)
        a, b = fit_platt(ft_logit[train_idx], y[train_idx] == 1)
        ft_p[test_idx] = sigmoid(a * ft_logit[test_idx] + b)
        blend = fit_blend(sigmoid(a * ft_logit[train_idx] + b), ngram_p[train_idx], y[train_idx])
        accurate_raw[test_idx] = blend.proba(np.column_stack([logit(ft_p[test_idx]), logit(ngram_p[test_idx])]))[:, 1]
        accurate_train = sigmoid(logit(blend.proba(np.column_stack([logit(sigmoid(a * ft_logit[train_idx] + b)),
                                                                    logit(ngram_p[train_idx])]))[:, 1])
                                 + shift[test_idx][0])
        if args.e5_oof:  # the fine-tuned head, Platt-scaled as the shipped one is
            a5, b5 = fit_platt(e5_logit[train_idx], y[train_idx] == 1)
            e5_p[test_idx], inner = sigmoid(a5 * e5_logit[test_idx] + b5), sigmoid(a5 * e5_logit[train_idx] + b5)
        else:
            e5_head = fit_e5_head(np.vstack([x_e5[train_idx], x_corpus]), np.concatenate([y[train_idx], y_corpus]),
                                  np.concatenate([np.ones(len(train_idx)), w_corpus]))
            e5_p[test_idx] = e5_head.proba(x_e5[test_idx])[:, 1]
            inner = e5_out_of_fold(x_e5[train_idx], y[train_idx], x_corpus, y_corpus, w_corpus, seed=1)
        blend3 = fit_blend(sigmoid(a * ft_logit[train_idx] + b), ngram_p[train_idx], y[train_idx], inner)
        ensemble_raw[test_idx] = blend3.proba(np.column_stack([logit(ft_p[test_idx]), logit(ngram_p[test_idx]),
                                                               logit(e5_p[test_idx])]))[:, 1]
        a, b = fit_platt(fast_score[train_idx], y[train_idx] == 1)
        static_p[test_idx] = sigmoid(a * fast_score[test_idx] + b)
        blend, thresholds, fast_train = fast_blend(sigmoid(a * fast_score[train_idx] + b), ngram_p[train_idx], y[train_idx],
                                       args.escalate_share, args.work_prior)
        fast_raw[test_idx] = blend.proba(np.column_stack([logit(static_p[test_idx]), logit(ngram_p[test_idx])]))[:, 1]
        fast_p[test_idx] = sigmoid(logit(fast_raw[test_idx]) + shift[test_idx])
        escalate[test_idx] = np.abs(fast_p[test_idx] - 0.5) * 2 < thresholds["escalate_below"]
        below = deepen_threshold(fast_train, accurate_train, thresholds["escalate_below"], args.deepen_share)
        accurate_test = sigmoid(logit(accurate_raw[test_idx]) + shift[test_idx])
        deepen[test_idx] = escalate[test_idx] & (np.abs(accurate_test - 0.5) * 2 < below)
    accurate_p = sigmoid(logit(accurate_raw) + shift)
    ensemble_p = sigmoid(logit(ensemble_raw) + shift)
    e5_served = sigmoid(logit(e5_p) + shift)  # uncalibrated head: its calibration error means little
    ft_p, static_p, ngram_served = (sigmoid(logit(p) + shift) for p in (ft_p, static_p, ngram_p))
    fast_conf = np.abs(fast_p - 0.5) * 2
    if args.arrays:
        np.savez(args.arrays, y=y, fast_p=fast_p, accurate_p=accurate_p, ensemble_p=ensemble_p, e5_p=e5_served,
                 ft_p=ft_p, static_p=static_p, ngram_p=ngram_served, escalate=escalate, deepen=deepen)

    def score(p: np.ndarray, group: np.ndarray | None) -> dict[str, object]:
        predicted = (p >= 0.5).astype(int)
        result = {"work_kappa": round(cohen_kappa(y, predicted), 4), "work_kappa_ci": bootstrap_ci(y, predicted),
                  "work_calibration_error": round(calibration_error(y, p), 4)}
        return result if group is None else result | {"topic_group_kappa": round(cohen_kappa(true_group, group.astype(str)), 4)}

    result = {
        "n": n, "cv_folds": args.cv, "work_prior": args.work_prior, "work_share": round(float(y.mean()), 4),
        "escalated_share": round(float(escalate.mean()), 4),
        "deepened_share": round(float(deepen.mean()), 4),
        "fast_static_alone": score(static_p, static_group),
        "fast": score(fast_p, fast_group),
        "fine_tuned_heads_alone": score(ft_p, ft_group),
        "ngram_heads_alone": score(ngram_served, group_of(ngram_group)),
        "accurate_averaged": score((ft_p + ngram_served) / 2, accurate_group),
        "accurate": score(accurate_p, accurate_group),
        "e5_head_alone": score(e5_served, None),
        "ensemble": score(ensemble_p, accurate_group),
        "cascade_without_ensemble": score(np.where(escalate, accurate_p, fast_p),
                                          np.where(escalate, accurate_group, fast_group)),
        "cascade": score(np.where(deepen, ensemble_p, np.where(escalate, accurate_p, fast_p)),
                         np.where(escalate, accurate_group, fast_group)),
    }
    # What passing more on to the ensemble tier would buy (of the escalated, those the
    # accurate tier is least sure of; `worksignal train --deepen-share`).
    result["cascade_by_deepen_share"] = {}
    accurate_conf = np.abs(accurate_p - 0.5) * 2
    for share in (0.0, 0.02, 0.05, 0.1, 0.2):
        deeper = escalate & (accurate_conf <= np.quantile(accurate_conf[escalate], min(share / escalate.mean(), 1.0)))
        deeper &= share > 0
        result["cascade_by_deepen_share"][str(share)] = round(cohen_kappa(
            y, (np.where(deeper, ensemble_p, np.where(escalate, accurate_p, fast_p)) >= 0.5).astype(int)), 4)
    # What escalating more would buy: the cascade at other shares of the fast tier's least
    # sure texts (a speed/agreement trade-off; `worksignal train --escalate-share`).
    result["cascade_by_share"] = {}
    for share in (0.1, 0.2, 0.3, 0.4, 0.5):
        unsure = fast_conf < np.quantile(fast_conf, share)
        result["cascade_by_share"][str(share)] = {
            "work_kappa": round(cohen_kappa(y, (np.where(unsure, accurate_p, fast_p) >= 0.5).astype(int)), 4),
            "topic_group_kappa": round(cohen_kappa(true_group, np.where(unsure, accurate_group, fast_group).astype(str)),
                                       4)}
    # What serving at another work prior would give (escalating the same share, of the
    # fast tier's least sure texts at that prior): the consumer/employer trade-off.
    result["by_work_prior"] = {}
    for prior in (None, 0.3, 0.4, 0.5):
        offset = np.zeros(n) if prior is None else shift + prior_shift(args.work_prior, prior)
        fast_at, accurate_at = sigmoid(logit(fast_raw) + offset), sigmoid(logit(accurate_raw) + offset)
        conf = np.abs(fast_at - 0.5) * 2
        unsure = conf < np.quantile(conf, args.escalate_share)
        cascade_at = np.where(unsure, accurate_at, fast_at)
        result["by_work_prior"]["calibration share" if prior is None else str(prior)] = {
            "cascade_work_kappa": round(cohen_kappa(y, (cascade_at >= 0.5).astype(int)), 4),
            "accurate_work_kappa": round(cohen_kappa(y, (accurate_at >= 0.5).astype(int)), 4),
            "fast_work_kappa": round(cohen_kappa(y, (fast_at >= 0.5).astype(int)), 4)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
