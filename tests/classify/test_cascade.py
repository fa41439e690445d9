import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worksignal.classify.cascade import Cascade
from worksignal.classify.model import ClassifierModel, ModelError, logit, prior_shift, sigmoid
from worksignal.classify.taxonomy import INTENTS, TOPIC_GROUPS
from worksignal.errors import UsageError


@pytest.fixture(scope="module")
def model() -> ClassifierModel:
    return ClassifierModel.load()


TEXTS = [
    "Fix this Terraform plan error: Error: Invalid for_each argument in module.vpc",
    "what should I cook for my kids tonight, they hate broccoli",
    "Rewrite this email to the client about the delayed shipment so it sounds less defensive",
    "hi",
    "Erstelle eine Zusammenfassung des Quartalsberichts für den Vorstand",
]


def test_labels_are_valid_and_consistent(model):
    labels = Cascade(model).label(TEXTS)
    assert len(labels) == len(TEXTS)
    assert np.all((labels.work_probability >= 0) & (labels.work_probability <= 1))
    for topic, group, intent, tier in zip(labels.topic, labels.topic_group, labels.intent, labels.tier, strict=True):
        assert TOPIC_GROUPS[topic] == group and intent in INTENTS and tier in ("fast", "accurate", "ensemble")


def test_obvious_english_cases(model):
    p = Cascade(model).label(TEXTS).work_probability
    assert p[0] > 0.5 and p[2] > 0.5
    assert p[1] < 0.5 and p[3] < 0.5


def test_obvious_german_work_case(model):
    # Both dense encoders come from the English all-MiniLM-L6-v2: this held only once the
    # n-gram view and the work prior (0.4, not the dev labels' 0.26) were in.
    assert Cascade(model).label(TEXTS[4:]).work_probability[0] > 0.5


def test_thresholds_decide_how_much_goes_to_each_tier(model):
    assert set(Cascade(model, escalate_below=0.0).label(TEXTS).tier) == {"fast"}
    assert set(Cascade(model, escalate_below=1.01, deepen_below=0.0).label(TEXTS).tier) == {"accurate"}
    assert set(Cascade(model, escalate_below=1.01, deepen_below=1.01).label(TEXTS).tier) == {"ensemble"}
    assert set(Cascade(model, mode="accurate").label(TEXTS).tier) == {"accurate"}
    assert set(Cascade(model, mode="ensemble").label(TEXTS).tier) == {"ensemble"}
    assert set(Cascade(model, mode="fast").label(TEXTS).tier) == {"fast"}


def test_the_ensemble_tier_is_the_accurate_tier_with_a_third_work_view(model):
    accurate = Cascade(model, mode="accurate").label(TEXTS)
    ensemble = Cascade(model, mode="ensemble").label(TEXTS)
    # topic and group come from the accurate tier's heads; only the work probability moves
    assert list(ensemble.topic) == list(accurate.topic) and list(ensemble.topic_group) == list(accurate.topic_group)
    assert not np.allclose(ensemble.work_probability, accurate.work_probability)
    deepened = Cascade(model, escalate_below=1.01, deepen_below=1.01).label(TEXTS)
    np.testing.assert_allclose(deepened.work_probability, ensemble.work_probability, atol=1e-6)


def test_a_model_without_an_ensemble_tier_still_loads_and_never_deepens(model, tmp_path):
    import shutil

    from worksignal.classify.encoders import MODELS

    shutil.copytree(MODELS, tmp_path / "m", ignore=shutil.ignore_patterns("static", "encoder", "e5", "ensemble.npz"))
    older = ClassifierModel.load(tmp_path / "m")
    assert "ensemble" not in older.tiers and older.deepen_below == 0.0
    assert set(Cascade(older, escalate_below=1.01).label(TEXTS).tier) == {"accurate"}
    with pytest.raises(UsageError, match="no ensemble tier"):
        Cascade(older, mode="ensemble")


def test_later_turns_are_context(model):
    fast = Cascade(model, mode="fast")
    alone = fast.label(["can you make it shorter"]).work_probability[0]
    with_context = fast.label(["can you make it shorter"], ["the quarterly revenue report for the board, with the EBITDA table"]).work_probability[0]
    assert alone != with_context


def test_stage_labels_batches_and_leaves_textless_rows_unlabelled(model):
    batch = pa.RecordBatch.from_pydict({"user_text": ["deploy failed with exit 137", "", None], "context_text": ["", "", ""]})
    out = Cascade(model)(batch)
    assert out.column("tier").to_pylist()[1:] == [None, None]
    assert out.column("work").to_pylist()[1:] == [None, None]
    assert out.column("model_version").to_pylist()[0] == model.version


def test_missing_model_folder_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="worksignal train"):
        ClassifierModel.load(tmp_path)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.001, 0.999), share=st.floats(0.01, 0.99), prior=st.floats(0.01, 0.99))
def test_prior_shift_moves_odds_by_the_ratio_of_prior_odds(p, share, prior):
    moved = float(sigmoid(logit(np.array(p)) + prior_shift(share, prior)))
    odds = lambda q: q / (1 - q)  # noqa: E731
    assert odds(moved) == pytest.approx(odds(p) * odds(prior) / odds(share), rel=1e-6)
    back = float(sigmoid(logit(np.array(moved)) + prior_shift(prior, share)))
    assert back == pytest.approx(p, abs=1e-9)
    assert prior_shift(share, share) == 0.0 and prior_shift(None, prior) == 0.0


def test_a_higher_work_prior_raises_every_work_probability_and_keeps_their_order(model):
    built_for = model.manifest["thresholds"]["work_prior"]
    assert model.work_prior == built_for and "+" not in model.version  # served as built
    low, high = ClassifierModel.load(work_prior=0.2), ClassifierModel.load(work_prior=0.6)
    p_low = Cascade(low, mode="accurate").label(TEXTS).work_probability
    p_high = Cascade(high, mode="accurate").label(TEXTS).work_probability
    assert (p_high > p_low).all()
    assert list(np.argsort(p_low)) == list(np.argsort(p_high))
    # Labels from another prior carry another version, so `classify` relabels them.
    assert low.version == f"{model.version}+work_prior=0.2" != high.version


def test_the_work_prior_setting_is_validated_at_the_cli(tmp_path):
    import subprocess
    import sys

    prompts = tmp_path / "in.jsonl"
    prompts.write_text('{"text": "hi"}\n')
    result = subprocess.run([sys.executable, "-m", "worksignal", "predict", str(prompts), "--output",
                             str(tmp_path / "out.jsonl"), "--work-prior", "1.5"], capture_output=True, text=True)
    assert result.returncode != 0 and "work_prior must be at most 0.99" in result.stderr


def test_repeated_conversations_are_labelled_once_and_alike(model):
    texts = ["hi", "Fix this Terraform plan error: Invalid for_each argument", "hi", "hi", "what to cook tonight"]
    context = ["", "", "", "earlier: a question about dinner", ""]
    once = Cascade(model).label(texts, context)
    each = Cascade(model, repeats_once=False).label(texts, context)
    assert np.allclose(once.work_probability, each.work_probability, atol=1e-3)  # int8 activations scale per batch
    assert list(once.topic) == list(each.topic) and list(once.tier) == list(each.tier)
    assert once.work_probability[0] == once.work_probability[2]  # same text, same context
