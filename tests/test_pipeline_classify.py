"""Ingest labels with the cascade; `classify` relabels what another model version labelled."""

from pathlib import Path

from tests.conftest import FIXTURES
from worksignal.classify.model import ClassifierModel
from worksignal.classify.stage import classify_stage
from worksignal.pipeline import classify_store, ingest
from worksignal.store import Store


def test_ingest_labels_with_the_cascade_and_classify_relabels(store: Store, tmp_path: Path):
    ingest([FIXTURES / "openai_mixed.jsonl", FIXTURES / "litellm_spend_logs.json"], store, tier="rules")
    assert store.query("SELECT DISTINCT tier FROM labels") == [("rules",)]
    version = ClassifierModel.load().version
    result = classify_store(store, classify_stage("cascade"), version)
    assert result["relabelled"] == 3 and result["labelled"] == 0  # the content-less spend row stays unlabelled
    assert {r[0] for r in store.query("SELECT DISTINCT model_version FROM labels")} == {version}
    assert classify_store(store, classify_stage("cascade"), version)["relabelled"] == 0


def test_ingest_without_classify_then_classify(store: Store):
    ingest([FIXTURES / "openai_mixed.jsonl"], store, classify=False)
    assert store.query("SELECT count(*) FROM labels") == [(0,)]
    result = classify_store(store, classify_stage("fast"), ClassifierModel.load().version)
    assert result["labelled"] == 2 and result["tiers"] == {"fast": 2}
