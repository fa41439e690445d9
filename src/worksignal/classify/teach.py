"""Teach: label a sample of the organisation's own conversations with the LLM tier and
retrain the heads on them (the TnT-LLM distillation pattern), measuring agreement with
the LLM on a held-out part of the sample before and after."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from worksignal.classify.cascade import Cascade
from worksignal.classify.evaluate import cohen_kappa
from worksignal.classify.llm import LLMClassifier
from worksignal.classify.model import ClassifierModel, Encoders
from worksignal.classify.train import corpus_rows, train
from worksignal.errors import UsageError
from worksignal.store import Store

HELD_OUT = 0.2


def sample_conversations(store: Store, n: int, seed: int) -> list[tuple[str, str]]:
    """(first user turn, later user turns) of up to n conversations, drawn reproducibly."""
    rows = store.query(
        """
        SELECT list(content ORDER BY idx) AS turns
        FROM messages JOIN (
            SELECT conversation_id FROM conversations WHERE n_user_turns > 0
            ORDER BY hash(conversation_id || ?) LIMIT ?
        ) USING (conversation_id)
        WHERE role = 'user' GROUP BY conversation_id ORDER BY min(hash(conversation_id || ?))
        """,
        [str(seed), n, str(seed)],
    )
    return [(turns[0], "\n".join(turns[1:])) for (turns,) in rows]


def teach(store: Store, llm: LLMClassifier, out: Path | str, *, sample: int = 500, seed: int = 0,
          model: ClassifierModel | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    model = model or ClassifierModel.load()
    conversations = sample_conversations(store, sample, seed)
    if not conversations:
        raise UsageError("the store has no conversations with user text to learn from; ingest some first.")
    rows = []
    for i, (first, context) in enumerate(conversations):
        if progress and i % 25 == 0:
            progress(f"asking the LLM: {i:,}/{len(conversations):,}")
        answer = llm.label([first, context] if context.strip() else [first])
        if answer is not None:
            work, topic, intent = answer
            rows.append({"text": first, "context": context, "work": work, "topic": topic, "intent": intent})
    if len(rows) < 20 or len({r["work"] for r in rows}) < 2:
        raise UsageError(f"the LLM labelled {len(rows)} conversations, too few (or one class only) to teach from; "
                         "check --llm-url, or raise --sample or WORKSIGNAL_LLM_BUDGET.")
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = int(len(rows) * (1 - HELD_OUT))
    learn, check = [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]

    def agreement(m: ClassifierModel) -> float:
        labels = Cascade(m, "cascade").label([r["text"] for r in check], [r["context"] for r in check])
        return cohen_kappa(np.array([r["work"] for r in check]), (labels.work_probability >= 0.5).astype(int))

    before = agreement(model)
    if progress:
        progress("retraining the heads")
    # The sample's work share is the organisation's best-known prior: the model serves at it.
    work_share = float(np.mean([r["work"] for r in learn]))
    taught = train(learn + corpus_rows(), out, sources=["llm-labelled sample", "worksignal corpus"],
                   seed=seed, encoders=Encoders(memo=True), work_prior=min(max(work_share, 0.01), 0.99))
    return {
        "sampled": len(conversations),
        "llm_labelled": len(rows),
        "llm_calls": llm.calls,
        "trained_on": len(learn),
        "held_out": len(check),
        "work_share": round(work_share, 4),
        "work_kappa_before": round(before, 4),
        "work_kappa_after": round(agreement(taught), 4),
        "model_dir": str(out),
        "model_version": taught.version,
    }
