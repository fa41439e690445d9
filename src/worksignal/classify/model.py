"""The classifier model: tiers (encoders + heads), thresholds and a version, in one folder.

A model folder holds `manifest.json`, one `<tier>.npz` of heads per tier and `ngrams.npz`
(the n-gram view the tiers share); encoders are the shipped ones (encoders.py). The
ensemble tier is optional (a model folder written before it existed has none). The
package ships a trained model in `models/`; `worksignal train --out DIR` writes another
that `--model-dir DIR` (or WORKSIGNAL_MODEL_DIR) selects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from worksignal.classify.encoders import MODELS, OnnxEncoder, StaticEncoder
from worksignal.classify.hashed import HashedNgrams
from worksignal.classify.heads import LinearHead, load_heads
from worksignal.classify.taxonomy import GROUPS, TOPIC_GROUPS
from worksignal.config import setting
from worksignal.errors import WorksignalError

TIERS = ("fast", "accurate", "ensemble")
OPTIONAL_TIERS = ("ensemble",)
HEADS = ("work", "topic", "group", "intent", "work_blend", "work_e5")  # per tier, in <tier>.npz
NGRAM_HEADS = ("work_ngrams", "group_ngrams")  # shared by the tiers, in ngrams.npz with the idf
CONTEXT_WEIGHT = 0.3  # later user turns count, but the first turn leads
FIRST_TOPIC = {g: next(t for t, tg in TOPIC_GROUPS.items() if tg == g) for g in GROUPS}


class ModelError(WorksignalError):
    """The classifier model folder is missing or incomplete."""


@dataclass
class Prediction:
    """One tier's output for a list of texts."""

    work_probability: np.ndarray
    topic: np.ndarray
    topic_group: np.ndarray
    intent: np.ndarray
    confidence: np.ndarray  # how sure the work label is: |p - 0.5| * 2


class Encoders:
    """Loads each encoder once, on first use (cold start stays small for the fast tier).

    With `memo=True` (training, cross-validation) each text is encoded once per encoder;
    `static` swaps in another static model (a fold's own tuning, in cross-validation).
    """

    def __init__(self, memo: bool = False, static: StaticEncoder | None = None) -> None:
        self.memo: dict[tuple[str, str], np.ndarray] | None = {} if memo else None
        self._static = static

    def encode(self, name: str, texts: list[str]) -> np.ndarray:
        """Vectors from one encoder (static, minilm or e5), each text once when memoised."""
        encoder: StaticEncoder | OnnxEncoder = getattr(self, name)
        if self.memo is None:
            return encoder(texts)
        missing = list(dict.fromkeys(t for t in texts if (name, t) not in self.memo))
        if missing:
            for text, vector in zip(missing, encoder(missing), strict=True):
                self.memo[(name, text)] = vector
        return np.stack([self.memo[(name, t)] for t in texts]) if texts else np.zeros((0, encoder.dim), np.float32)

    @cached_property
    def static(self) -> StaticEncoder:
        return self._static or StaticEncoder()

    @cached_property
    def minilm(self) -> OnnxEncoder:
        return OnnxEncoder(MODELS / "encoder")

    @cached_property
    def e5(self) -> OnnxEncoder:
        return OnnxEncoder(MODELS / "e5")

    def features(self, tier: str, first: list[str], context: list[str]) -> np.ndarray:
        """The feature matrix a tier's heads read: first turn plus down-weighted context."""
        fast = self.encode("static", first).copy()
        has_context = np.array([bool(c.strip()) for c in context], dtype=bool)
        if has_context.any():
            idx = np.flatnonzero(has_context)
            fast[idx] += CONTEXT_WEIGHT * self.encode("static", [context[i] for i in idx])
        if tier == "fast":
            return fast
        accurate = self.accurate_from(fast, first)
        return accurate if tier == "accurate" else self.ensemble_from(accurate, first)

    def accurate_from(self, fast: np.ndarray, first: list[str]) -> np.ndarray:
        """The accurate tier's features, given the fast tier's for the same texts."""
        return np.hstack([fast, self.encode("minilm", first)])

    def ensemble_from(self, accurate: np.ndarray, first: list[str]) -> np.ndarray:
        """The ensemble tier's features, given the accurate tier's for the same texts."""
        return np.hstack([accurate, self.encode("e5", first)])


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def prior_shift(calibration_share: float | None, work_prior: float | None) -> float:
    """The logit offset that moves probabilities calibrated where `calibration_share` of
    texts were work to a population where `work_prior` are (label shift: Saerens et al., 2002)."""
    if calibration_share is None or work_prior is None:
        return 0.0
    return float(logit(np.array(work_prior)) - logit(np.array(calibration_share)))


def _in_groups(head: LinearHead, proba: np.ndarray) -> np.ndarray:
    """A group head's log-probabilities in GROUPS order (-inf for a group it never saw)."""
    out = np.full((len(proba), len(GROUPS)), -np.inf)
    out[:, [GROUPS.index(c) for c in head.classes]] = np.log(np.maximum(proba, 1e-12))
    return out


@dataclass
class Tier:
    """Heads over a tier's dense features, and a second view over hashed character n-grams.

    The n-gram view has its own work and topic-group heads. Work: the two views' probabilities
    (and, in the ensemble tier, a third from the `work_e5` head) are combined by a `work_blend`
    head fitted on out-of-fold probabilities of each (logistic regression over their logits),
    or else averaged. Topic group: the two views' probabilities
    are multiplied (their log-probabilities summed), a combination with nothing to fit.
    """

    name: str
    heads: dict[str, LinearHead]
    ngrams: HashedNgrams | None = None
    work_shift: float = 0.0  # prior_shift(): from the calibration set's work share to the organisation's

    def predict(self, features: np.ndarray, texts: list[str]) -> Prediction:
        """Labels for `texts`, whose dense features are `features` (the n-gram view hashes the texts)."""
        work = self.heads["work"]
        p = work.proba(features)[:, work.classes.index("1")]
        topic_head = self.heads["topic"]
        topic_p = topic_head.proba(features)
        # The group comes from a group head where the tier has one (a fine-tuned encoder's),
        # else from summed topic probabilities; the topic is the most likely topic inside
        # that group, so topic and group always agree.
        groups = np.array([TOPIC_GROUPS[c] for c in topic_head.classes])
        if "group" in self.heads:
            group_log_p = _in_groups(self.heads["group"], self.heads["group"].proba(features))
        else:
            group_log_p = np.log(np.maximum(np.stack([topic_p[:, groups == g].sum(axis=1) for g in GROUPS], axis=1),
                                            1e-12))
        work_ngrams, group_ngrams = self.heads.get("work_ngrams"), self.heads.get("group_ngrams")
        if self.ngrams is not None and (work_ngrams is not None or group_ngrams is not None):
            x = self.ngrams(texts)
            if work_ngrams is not None:
                q = work_ngrams.proba_sparse(x)[:, work_ngrams.classes.index("1")]
                blend = self.heads.get("work_blend")
                views = [logit(p), logit(q)]
                if "work_e5" in self.heads:
                    e5 = self.heads["work_e5"]
                    views.append(logit(e5.proba(features)[:, e5.classes.index("1")]))
                p = blend.proba(np.column_stack(views))[:, 1] if blend else np.mean([sigmoid(v) for v in views], axis=0)
            if group_ngrams is not None:
                group_log_p = group_log_p + _in_groups(group_ngrams, group_ngrams.proba_sparse(x))
        if self.work_shift:
            p = sigmoid(logit(p) + self.work_shift)
        group = np.array(GROUPS)[group_log_p.argmax(axis=1)]
        masked = np.where(groups[None, :] == group[:, None], topic_p, -1.0)
        topic = np.array(topic_head.classes)[masked.argmax(axis=1)]
        stray = groups[masked.argmax(axis=1)] != group  # a group the topic head never saw: its first code
        topic[stray] = [FIRST_TOPIC[g] for g in group[stray]]
        if "intent" in self.heads:
            intent_head = self.heads["intent"]
            intent = np.array(intent_head.classes)[intent_head.proba(features).argmax(axis=1)]
        else:
            intent = np.full(len(p), "asking")
        return Prediction(p, topic, group, intent, np.abs(p - 0.5) * 2)


@dataclass
class ClassifierModel:
    """Tiers and thresholds; with a `work_prior`, work probabilities are moved to that work share."""

    manifest: dict[str, Any]
    tiers: dict[str, Tier]
    train_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    encoders: Encoders = field(default_factory=Encoders)
    work_prior: float | None = None  # None: the prior the model was built for, where it records one

    def __post_init__(self) -> None:
        if self.work_prior is None:
            self.work_prior = self.built_for_prior
        shift = prior_shift(self.calibration_work_share, self.work_prior)
        self.tiers = {name: replace(tier, work_shift=shift) for name, tier in self.tiers.items()}

    def _recorded(self, key: str) -> float | None:
        """A number the manifest's thresholds record (None in a model built before they did)."""
        value = self.manifest.get("thresholds", {}).get(key)
        return None if value is None else float(value)

    @property
    def calibration_work_share(self) -> float | None:
        """Work share of the labelled rows the work probabilities were calibrated on."""
        return self._recorded("calibration_work_share")

    @property
    def built_for_prior(self) -> float | None:
        """The work prior the escalation threshold was set at."""
        return self._recorded("work_prior")

    @property
    def version(self) -> str:
        """The label version: the manifest's, marked when served at another work prior than it was
        built for (so `worksignal classify` relabels when the prior changes)."""
        built_for = self.built_for_prior
        if self.work_prior is None or built_for is None or abs(self.work_prior - built_for) < 1e-9:
            return str(self.manifest["version"])
        return f"{self.manifest['version']}+work_prior={self.work_prior:g}"

    @property
    def escalate_below(self) -> float:
        """Fast-tier confidence under which a conversation goes to the accurate tier."""
        return float(self.manifest["thresholds"]["escalate_below"])

    @property
    def deepen_below(self) -> float:
        """Accurate-tier confidence under which an escalated conversation goes on to the
        ensemble tier (0: never, as in a model without one)."""
        return float(self.manifest["thresholds"].get("deepen_below", 0.0)) if "ensemble" in self.tiers else 0.0

    @classmethod
    def load(cls, model_dir: Path | str | None = None, work_prior: float | None = None) -> ClassifierModel:
        """The model in `model_dir` (else the shipped one), served at the `work_prior` setting
        (else at the prior it was built for)."""
        folder = Path(model_dir) if model_dir else MODELS
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise ModelError(
                f"no classifier model in {folder} (manifest.json missing); run `worksignal train` "
                "or drop --model-dir to use the shipped model."
            )
        manifest = json.loads(manifest_path.read_text())
        ngram_heads: dict[str, LinearHead] = {}
        ngrams = None
        if (folder / "ngrams.npz").is_file():
            ngram_heads, arrays = load_heads(folder / "ngrams.npz", list(NGRAM_HEADS))
            ngrams = HashedNgrams(arrays["idf"])
        tiers, hashes = {}, np.zeros(0, dtype=np.uint64)
        for name in TIERS:
            path = folder / f"{name}.npz"
            if not path.is_file() and name in OPTIONAL_TIERS:
                continue
            if not path.is_file():
                raise ModelError(f"model folder {folder} lacks {path.name}; retrain with `worksignal train`.")
            heads, arrays = load_heads(path, list(HEADS))
            if "work" not in heads or "topic" not in heads:
                raise ModelError(f"{path} lacks the work or topic head; retrain with `worksignal train`.")
            tiers[name] = Tier(name, {**heads, **ngram_heads}, ngrams)
            hashes = arrays.get("train_hashes", hashes)
        return cls(manifest, tiers, hashes, work_prior=setting("work_prior", work_prior) or None)
