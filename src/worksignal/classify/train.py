"""Fit the tiers' heads from labelled texts and write a model folder.

Training rows are JSON objects with `text`, `work` (0/1) and optionally `topic` and
`intent`; the project's own corpus (classify/corpus/) is added unless asked not to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from worksignal.classify.encoders import MODELS, encoder_fine_tuned, static_fine_tuned
from worksignal.classify.hashed import HashedNgrams
from worksignal.classify.heads import LinearHead, fit_head, save_heads
from worksignal.classify.model import (
    NGRAM_HEADS,
    TIERS,
    ClassifierModel,
    Encoders,
    Tier,
    logit,
    prior_shift,
    sigmoid,
)
from worksignal.classify.taxonomy import GROUPS, INTENTS, TOPIC_GROUPS
from worksignal.config import setting
from worksignal.errors import UsageError

CORPUS = Path(__file__).parent / "corpus"
DEFAULT_ESCALATE_SHARE = 0.2
#: Share of all texts the ensemble tier sees: of those escalated, the ones the accurate tier
#: is least sure of. It runs a second, larger encoder, so this share is what its cost buys.
DEFAULT_DEEPEN_SHARE = 0.05
#: The work share a model serves at unless told otherwise (the `work_prior` setting). The
#: shipped labels are consumer chat, about a quarter work; an employer's assistant carries
#: more. 0.4 is the largest prior that cost the dev labels' cross-validated cascade kappa
#: no more than 0.005 (scripts/cv_recipe.py --work-prior), and it lifts the employee-style
#: simulator bank a good deal; both were looked at to choose it (README, Classifier).
DEFAULT_WORK_PRIOR = 0.4
#: The corpus is written to cover the enterprise; counted at half weight it teaches the
#: enterprise cases without swamping the base rate of an organisation's own labels.
CORPUS_WEIGHT = 0.5


def read_labelled(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Rows with text and a 0/1 work label; anything else is a usage error naming the line."""
    rows = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as f:
            lines = list(f)
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                assert isinstance(row.get("text"), str) and int(row["work"]) in (0, 1)
            except (ValueError, AssertionError, KeyError, TypeError):
                raise UsageError(f"{path}:{number}: expected a JSON object with text and work (0/1).") from None
            if row.get("topic") is not None and row["topic"] not in TOPIC_GROUPS:
                raise UsageError(f"{path}:{number}: unknown topic {row['topic']!r}.")
            rows.append(row)
    return rows


def corpus_rows(weight: float = CORPUS_WEIGHT) -> list[dict[str, Any]]:
    return [{**row, "weight": weight} for row in read_labelled(sorted(CORPUS.glob("*.jsonl")))]


def _minilm() -> str:
    return "all-MiniLM-L6-v2 fine-tuned on the shipped labels" if encoder_fine_tuned() else "all-MiniLM-L6-v2"


def e5_description() -> str:
    tuned = "fine-tuned on the shipped labels (top layers)" if encoder_fine_tuned(MODELS / "e5") else "frozen"
    return f"multilingual-e5-small, {tuned} (ONNX int8, pruned vocabulary)"


E5_C = 10.0  # the e5 work head's inverse regularisation (5-fold on the dev labels: better than 1)
#: The corpus's weight in the e5 work head (the other heads count it at CORPUS_WEIGHT). In a
#: scratch comparison on the dev folds, at 0.5 the head learns the corpus's enterprise framing
#: and the ensemble gains little on dev (0.713 against the accurate tier's 0.697); at 0 it loses the
#: employee-style bank (0.836 against 0.850); 0.1 keeps most of both (0.727 and 0.853, and
#: 0.81 against 0.71 on the bank's other languages). Chosen seeing both (README, Classifier).
E5_CORPUS_WEIGHT = 0.1


def _static() -> str:
    tuned = ", tuned on the shipped labels" if static_fine_tuned() else ""
    return f"static (model2vec, distilled from all-MiniLM-L6-v2{tuned})"


def build_prior(work_prior: float | None = None) -> float:
    """The work prior a model is built (or cross-validated) for: the value, else the setting,
    else DEFAULT_WORK_PRIOR."""
    return float(setting("work_prior", work_prior) or DEFAULT_WORK_PRIOR)


def heads_digest(tiers_heads: Iterable[dict[str, LinearHead]], thresholds: dict[str, Any] | None = None) -> str:
    """The model version's suffix: it names everything that decides a label (weights, biases,
    calibration, thresholds and work prior), so any change of data or recipe relabels."""
    fingerprint = hashlib.blake2b(digest_size=4)
    for heads in tiers_heads:
        for name in sorted(heads):
            for key, array in heads[name].to_arrays(name).items():  # as saved, so a reload names it alike
                if not key.endswith(".classes"):
                    fingerprint.update(array.tobytes())
    if thresholds:
        fingerprint.update(json.dumps(thresholds, sort_keys=True).encode())
    return fingerprint.hexdigest()


def normalised(text: str) -> str:
    """Lowercased, whitespace collapsed: how two texts are judged the same one."""
    return " ".join(text.lower().split())


def text_hashes(texts: Iterable[str]) -> np.ndarray:
    """64-bit digests of normalised texts: lets `eval` notice it is scoring training text."""
    return np.array(sorted({int.from_bytes(hashlib.blake2b(normalised(t).encode(), digest_size=8).digest(), "little")
                            for t in texts}), dtype=np.uint64)


def fit_ngram_heads(rows: list[dict[str, Any]], seed: int = 0,
                    group: bool = True) -> tuple[HashedNgrams, dict[str, LinearHead]]:
    """The work and (unless not asked) topic-group heads over hashed character n-grams
    (each tier's second view)."""
    texts = [r["text"] for r in rows]
    weights = np.array([float(r.get("weight", 1.0)) for r in rows])
    ngrams = HashedNgrams().fit(texts)
    x = ngrams(texts)
    heads = {"work_ngrams": fit_head(x, [str(int(r["work"])) for r in rows], c=10.0, seed=seed, weights=weights)}
    topical = [i for i, r in enumerate(rows) if r.get("topic")]
    if group and len({TOPIC_GROUPS[rows[i]["topic"]] for i in topical}) >= 2:
        heads["group_ngrams"] = fit_head(x[topical], [TOPIC_GROUPS[rows[i]["topic"]] for i in topical], c=10.0,
                                         seed=seed, weights=weights[topical])
    return ngrams, heads


def ngram_out_of_fold(rows: list[dict[str, Any]], extra: list[dict[str, Any]], folds: int = 5,
                      seed: int = 0, group: bool = True) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities of the n-gram heads on `rows` (`extra` joins every training
    fold): `work` (of work=1) and, if asked and rows have topics, `group` (GROUPS order).
    The folds are those the encoder-tuning scripts use."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array([int(r["work"]) for r in rows])
    out = {"work": np.zeros(len(rows)), "group": np.zeros((len(rows), len(GROUPS)))}
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        ngrams, heads = fit_ngram_heads([rows[i] for i in train_idx] + extra, seed, group)
        x = ngrams([rows[i]["text"] for i in test_idx])
        out["work"][test_idx] = heads["work_ngrams"].proba_sparse(x)[:, heads["work_ngrams"].classes.index("1")]
        if "group_ngrams" in heads:
            head = heads["group_ngrams"]
            out["group"][np.ix_(test_idx, [GROUPS.index(c) for c in head.classes])] = head.proba_sparse(x)
    return out


def fit_blend(dense: np.ndarray, sparse: np.ndarray, work: np.ndarray, e5: np.ndarray | None = None) -> LinearHead:
    """The `work_blend` head: how much to trust each view, from probabilities on unseen text
    (in Tier.predict's order: dense, n-gram, then e5 where the tier has it)."""
    from sklearn.linear_model import LogisticRegression

    x = np.column_stack([logit(dense), logit(sparse)] + ([] if e5 is None else [logit(e5)]))
    model = LogisticRegression(C=1e6, max_iter=1000).fit(x, np.asarray(work).astype(int))
    return LinearHead(["0", "1"], model.coef_.T.copy(), model.intercept_.copy())


def e5_out_of_fold(x: np.ndarray, work: np.ndarray, x_extra: np.ndarray, work_extra: np.ndarray,
                   weight_extra: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """The e5 work head's probabilities on labelled texts it did not train on (the extra
    rows, the corpus, in every fold)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(work))
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, work):
        head = fit_e5_head(np.vstack([x[train_idx], x_extra]), np.concatenate([work[train_idx], work_extra]),
                           np.concatenate([np.ones(len(train_idx)), weight_extra]))
        out[test_idx] = head.proba(x[test_idx])[:, 1]
    return out


def fit_e5_head(x: np.ndarray, work: np.ndarray, weights: np.ndarray) -> LinearHead:
    """Logistic regression on e5 vectors (a frozen e5's), uncalibrated: the ensemble's blend calibrates it."""
    return fit_head(x, [str(int(w)) for w in work], c=E5_C, calibrate=False, weights=weights)


def fit_tiers(rows: list[dict[str, Any]], encoders: Encoders, *, seed: int = 0, names: tuple[str, ...] = TIERS,
              progress: Callable[[str], None] | None = None) -> dict[str, Tier]:
    """Heads for each tier over its features; both tiers share the n-gram heads."""
    texts = [r["text"] for r in rows]
    empty = [""] * len(texts)
    weights = np.array([float(r.get("weight", 1.0)) for r in rows])
    work = [str(int(r["work"])) for r in rows]
    if progress:
        progress(f"hashing {len(texts):,} texts and fitting the n-gram heads")
    ngrams, ngram_heads = fit_ngram_heads(rows, seed)
    tiers = {}
    for name in names:
        if progress:
            progress(f"encoding {len(texts):,} texts for the {name} tier")
        x = encoders.features(name, texts, empty)
        heads: dict[str, LinearHead] = {"work": fit_head(x, work, seed=seed, weights=weights), **ngram_heads}
        topical = [i for i, r in enumerate(rows) if r.get("topic")]
        heads["topic"] = fit_head(x[topical], [rows[i]["topic"] for i in topical], seed=seed, weights=weights[topical])
        with_intent = [i for i, r in enumerate(rows) if r.get("intent") in INTENTS]
        if len({rows[i]["intent"] for i in with_intent}) >= 2:
            heads["intent"] = fit_head(x[with_intent], [rows[i]["intent"] for i in with_intent], seed=seed,
                                       weights=weights[with_intent])
        tiers[name] = Tier(name, heads, ngrams)
    return tiers


def dense_out_of_fold(tier: str, model_tiers: dict[str, Tier], encoders: Encoders, rows: list[dict[str, Any]],
                      seed: int = 0) -> np.ndarray:
    """A tier's dense work probabilities on texts its head did not train on.

    The blend and the escalation thresholds are set on these: on its own training texts a
    tier is surer than on new ones, and a threshold set there would escalate too little.
    """
    from sklearn.model_selection import StratifiedKFold

    texts = [r["text"] for r in rows]
    x = encoders.features(tier, texts, [""] * len(texts))
    work = np.array([str(int(r["work"])) for r in rows])
    weights = np.array([float(r.get("weight", 1.0)) for r in rows])
    p = np.zeros(len(rows))
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, work):
        fold = fit_head(x[train_idx], work[train_idx], calibrate=False, seed=seed, weights=weights[train_idx])
        fold.platt = model_tiers[tier].heads["work"].platt  # the shipped head's calibration
        p[test_idx] = fold.proba(x[test_idx])[:, fold.classes.index("1")]
    return p


def fast_blend(dense_p: np.ndarray, ngram_p: np.ndarray, work: np.ndarray, escalate_share: float,
               work_prior: float | None = None) -> tuple[LinearHead, dict[str, float | None], np.ndarray]:
    """The fast tier's blend of its two work views and the confidence under which the
    `escalate_share` of texts it is least sure of go to the accurate tier, both from
    out-of-fold probabilities of the two views. The threshold is set on probabilities moved
    to `work_prior`, as the model will serve them (returned too, for the deepening threshold);
    the calibration share is recorded for that."""
    blend = fit_blend(dense_p, ngram_p, work)
    share = float(np.mean(work))
    p = sigmoid(logit(blend.proba(np.column_stack([logit(dense_p), logit(ngram_p)]))[:, 1])
                + prior_shift(share, work_prior))
    escalate_below = float(np.quantile(np.abs(p - 0.5) * 2, min(escalate_share, 1.0))) if escalate_share > 0 else 0.0
    return blend, {"escalate_below": round(escalate_below, 6), "escalate_share": escalate_share,
                   "calibration_work_share": round(share, 4), "work_prior": work_prior}, p


def deepen_threshold(fast_p: np.ndarray, accurate_p: np.ndarray, escalate_below: float,
                     deepen_share: float) -> float:
    """Accurate-tier confidence under which an escalated text goes on to the ensemble tier, so
    that `deepen_share` of all texts do (from out-of-fold probabilities, as served)."""
    escalated = np.abs(fast_p - 0.5) * 2 < escalate_below
    if deepen_share <= 0 or not escalated.any():
        return 0.0
    confidence = np.abs(accurate_p[escalated] - 0.5) * 2
    return float(np.quantile(confidence, min(deepen_share / escalated.mean(), 1.0)))


def fit_thresholds(model_tiers: dict[str, Tier], encoders: Encoders, rows: list[dict[str, Any]],
                   escalate_share: float, seed: int = 0, work_prior: float | None = None,
                   deepen_share: float = DEFAULT_DEEPEN_SHARE) -> dict[str, float | None]:
    """Give the fast tier its work blend; returns the model's thresholds (escalation, and
    deepening where the model has an ensemble tier), set on out-of-fold probabilities."""
    y = np.array([int(r["work"]) for r in rows])
    ngram_p = ngram_out_of_fold(rows, [], seed=seed, group=False)["work"]
    fast_dense = dense_out_of_fold("fast", model_tiers, encoders, rows, seed)
    blend, thresholds, fast_p = fast_blend(fast_dense, ngram_p, y, escalate_share, work_prior)
    model_tiers["fast"].heads["work_blend"] = blend
    if "ensemble" in model_tiers:
        shift = prior_shift(float(np.mean(y)), work_prior)
        # this accurate tier has no blend: it averages its dense and n-gram views (Tier.predict)
        accurate_p = sigmoid(logit((dense_out_of_fold("accurate", model_tiers, encoders, rows, seed) + ngram_p) / 2)
                             + shift)
        thresholds["deepen_below"] = round(deepen_threshold(fast_p, accurate_p, float(thresholds["escalate_below"] or 0),
                                                            deepen_share), 6)
        thresholds["deepen_share"] = deepen_share
    return thresholds


def train(rows: list[dict[str, Any]], out: Path | str, *, sources: list[str], seed: int = 0,
          escalate_share: float = DEFAULT_ESCALATE_SHARE, deepen_share: float = DEFAULT_DEEPEN_SHARE,
          encoders: Encoders | None = None,
          work_prior: float | None = None, progress: Callable[[str], None] | None = None) -> ClassifierModel:
    """Fit every tier on `rows` and write the model folder `out`, built to serve at `work_prior`
    (else the setting, else DEFAULT_WORK_PRIOR): the escalation threshold is set there."""
    if len(rows) < 50 or len({int(r["work"]) for r in rows}) < 2:
        raise UsageError("training needs at least 50 rows with both work=0 and work=1.")
    work_prior = build_prior(work_prior)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encoders = encoders or Encoders(memo=True)  # each tier, and each out-of-fold pass, reuses the vectors
    tiers = fit_tiers(rows, encoders, seed=seed, progress=progress)
    if progress:
        progress("fitting the fast tier's blend and the escalation thresholds on out-of-fold scores")
    thresholds = fit_thresholds(tiers, encoders, rows, escalate_share, seed=seed, work_prior=work_prior,
                                deepen_share=deepen_share)
    texts = [r["text"] for r in rows]
    hashes = text_hashes(texts)
    fast = tiers["fast"]
    assert fast.ngrams is not None and fast.ngrams.idf is not None
    parts = {name: {k: v for k, v in tier.heads.items() if k not in NGRAM_HEADS} for name, tier in tiers.items()}
    parts["ngrams"] = {k: fast.heads[k] for k in NGRAM_HEADS if k in fast.heads}
    for name, heads in parts.items():
        save_heads(out / f"{name}.npz", heads, {"idf": fast.ngrams.idf} if name == "ngrams" else {"train_hashes": hashes})
    digest = heads_digest(parts.values(), thresholds)  # as build_model.py's restamp reads them back
    manifest = {
        "version": f"cascade-{datetime.now(UTC):%Y%m%d}-{digest}",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(rows),
        "work_share": round(float(np.mean([int(r["work"]) for r in rows])), 4),
        "sources": sources,
        "tiers": {"fast": {"encoder": f"{_static()}; work and topic group also from hashed character n-grams"},
                  "accurate": {"encoder": f"{_static()} + {_minilm()} (ONNX int8); work and topic group also from hashed character n-grams"},
                  "ensemble": {"encoder": f"the accurate tier's + {e5_description()}"}},
        "thresholds": thresholds,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return ClassifierModel(manifest, tiers, hashes, encoders)  # serves at the prior its thresholds record
