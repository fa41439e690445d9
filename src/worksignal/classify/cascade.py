"""The cascade: the fast tier labels everything, the accurate tier what the fast one is unsure
of, and the ensemble tier (the accurate one's views plus multilingual-e5) what the accurate
tier is still unsure of.

As a pipeline stage it takes an Arrow batch with `user_text` (first user turn) and
`context_text` (later user turns) and returns it with label columns; conversations
without user text get no labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from worksignal.classify.llm import LLMClassifier
from worksignal.classify.model import ClassifierModel, Prediction
from worksignal.classify.taxonomy import TOPIC_GROUPS
from worksignal.errors import UsageError

MODES = ("fast", "accurate", "ensemble", "cascade", "llm")
#: The LLM tier answers a label, not a probability: its work label is stored at this confidence.
LLM_CONFIDENCE = 0.9
DEFAULT_LLM_BELOW = 0.3


@dataclass
class Labels:
    work_probability: np.ndarray
    topic: np.ndarray
    topic_group: np.ndarray
    intent: np.ndarray
    tier: np.ndarray

    def __len__(self) -> int:
        return len(self.work_probability)

    def take(self, index: np.ndarray) -> Labels:
        """These labels at `index` (rows may repeat)."""
        return Labels(self.work_probability[index], self.topic[index], self.topic_group[index], self.intent[index],
                      self.tier[index])


class Cascade:
    """Label texts with one tier, or with the tiers in a cascade."""

    def __init__(self, model: ClassifierModel | None = None, mode: str = "cascade",
                 escalate_below: float | None = None, deepen_below: float | None = None,
                 llm: LLMClassifier | None = None,
                 llm_below: float = DEFAULT_LLM_BELOW, repeats_once: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == "llm" and llm is None:
            raise UsageError("the llm tier needs --llm-url and --llm-model.")
        self.model = model or ClassifierModel.load()
        self.mode = mode
        if mode == "ensemble" and "ensemble" not in self.model.tiers:
            raise UsageError("this model has no ensemble tier; retrain it with `worksignal train`.")
        self.escalate_below = self.model.escalate_below if escalate_below is None else escalate_below
        self.deepen_below = self.model.deepen_below if deepen_below is None else deepen_below
        self.llm = llm
        self.llm_below = llm_below
        self.repeats_once = repeats_once  # padding ("hi", "test") repeats: label each distinct conversation once

    @property
    def version(self) -> str:
        return self.model.version

    def _tier(self, name: str, first: list[str], context: list[str]) -> Prediction:
        features = self.model.encoders.features(name, first, context)
        return self.model.tiers[name].predict(features, first)

    def label(self, first: list[str], context: list[str] | None = None) -> Labels:
        """Labels for texts (first user turns) with their later turns as context.

        cascade: fast on all, accurate on what fast is unsure of, ensemble on what accurate is
        still unsure of, then (with an llm) the llm on what is still unsure. llm: fast on all,
        the llm on all, and the accurate tier only where the llm gave no answer (budget spent,
        endpoint down, unparseable reply).
        """
        context = context if context is not None else [""] * len(first)
        if self.repeats_once:
            distinct: dict[tuple[str, str], int] = {}
            inverse = np.fromiter((distinct.setdefault(pair, len(distinct)) for pair in zip(first, context, strict=True)),
                                  dtype=np.int64, count=len(first))
            if len(distinct) < len(first):
                return self._label([f for f, _ in distinct], [c for _, c in distinct]).take(inverse)
        return self._label(first, context)

    def _label(self, first: list[str], context: list[str]) -> Labels:
        if self.mode in ("accurate", "ensemble"):
            p = self._tier(self.mode, first, context)
            return Labels(p.work_probability, p.topic, p.topic_group, p.intent, np.full(len(first), self.mode, dtype=object))
        fast_features = self.model.encoders.features("fast", first, context)
        p = self.model.tiers["fast"].predict(fast_features, first)
        labels = Labels(p.work_probability.copy(), p.topic.copy(), p.topic_group.copy(), p.intent.copy(),
                        np.full(len(first), "fast", dtype=object))
        confidence = p.confidence.copy()
        if self.mode == "cascade":
            self._escalate(labels, confidence, np.flatnonzero(confidence < self.escalate_below), fast_features, first)
        if self.llm is not None and self.mode in ("cascade", "llm"):
            ask = np.arange(len(first)) if self.mode == "llm" else np.flatnonzero(confidence < self.llm_below)
            unanswered = [int(i) for i in ask if not self._ask_llm(labels, int(i), first[i], context[i])]
            if self.mode == "llm":
                self._escalate(labels, confidence, np.array(unanswered, dtype=np.int64), fast_features, first)
        return labels

    def _escalate(self, labels: Labels, confidence: np.ndarray, unsure: np.ndarray, fast_features: np.ndarray,
                  first: list[str]) -> None:
        """Relabel `unsure` with the accurate tier, reusing their static features, and those
        it is still unsure of with the ensemble tier (in the cascade)."""
        if not len(unsure):
            return
        unsure_first = [first[i] for i in unsure]
        features = self.model.encoders.accurate_from(fast_features[unsure], unsure_first)
        q = self.model.tiers["accurate"].predict(features, unsure_first)
        self._relabel(labels, confidence, unsure, q, "accurate")
        deeper = np.flatnonzero(q.confidence < self.deepen_below) if self.mode == "cascade" else np.zeros(0, np.int64)
        if len(deeper):
            deeper_first = [unsure_first[i] for i in deeper]
            r = self.model.tiers["ensemble"].predict(self.model.encoders.ensemble_from(features[deeper], deeper_first),
                                                     deeper_first)
            self._relabel(labels, confidence, unsure[deeper], r, "ensemble")

    @staticmethod
    def _relabel(labels: Labels, confidence: np.ndarray, index: np.ndarray, p: Prediction, tier: str) -> None:
        """Replace the labels at `index` with tier `tier`'s."""
        labels.work_probability[index] = p.work_probability
        labels.topic[index], labels.topic_group[index], labels.intent[index] = p.topic, p.topic_group, p.intent
        labels.tier[index] = tier
        confidence[index] = p.confidence

    def _ask_llm(self, labels: Labels, i: int, first: str, context: str) -> bool:
        """Label item i with the llm tier; False when it gave no answer (earlier label stands)."""
        assert self.llm is not None
        answer = self.llm.label([first, context] if context.strip() else [first])
        if answer is None:
            return False
        work, topic, intent = answer
        labels.work_probability[i] = LLM_CONFIDENCE if work else 1 - LLM_CONFIDENCE
        labels.topic[i], labels.topic_group[i] = topic, TOPIC_GROUPS[topic]
        labels.intent[i], labels.tier[i] = intent, "llm"
        return True

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        first = batch.column("user_text").to_pylist()
        context = batch.column("context_text").to_pylist() if "context_text" in batch.schema.names else None
        has_text = np.array([bool(t and t.strip()) for t in first])
        n = len(first)
        columns = {name: np.full(n, None, dtype=object) for name in
                   ("topic", "topic_group", "intent", "tier", "model_version")}
        probability = np.zeros(n, dtype=np.float32)
        idx = np.flatnonzero(has_text)
        if len(idx):
            labels = self.label([first[i] for i in idx], [context[i] or "" for i in idx] if context else None)
            probability[idx] = labels.work_probability
            columns["topic"][idx] = labels.topic
            columns["topic_group"][idx] = labels.topic_group
            columns["intent"][idx] = labels.intent
            columns["tier"][idx] = labels.tier
            columns["model_version"][idx] = self.version
        mask = ~has_text
        batch = batch.append_column("work_probability", pa.array(probability, pa.float32(), mask=mask))
        batch = batch.append_column("work", pa.array(probability >= 0.5, pa.bool_(), mask=mask))
        for name in ("topic", "topic_group", "intent", "tier", "model_version"):
            batch = batch.append_column(name, pa.array(columns[name], pa.string()))
        return batch
