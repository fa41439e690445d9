import numpy as np

from worksignal.classify.encoders import StaticEncoder


def test_static_vectors_are_model2vecs_own():
    """The encoder's sparse mean gives model2vec's `encode` vectors (which round to float16)."""
    encoder = StaticEncoder()
    texts = ["Fix this Terraform plan error in module.vpc", "", "what should I cook tonight?",
             "Составь план встречи с командой", "x" * 5000, "會議紀要"]
    ours = encoder(texts)
    theirs = np.asarray(encoder.model.encode([t[: encoder.max_chars] for t in texts], show_progress_bar=False),
                        dtype=np.float32)
    assert ours.shape == (len(texts), encoder.dim) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 2e-3
    assert np.allclose(np.linalg.norm(ours[[0, 2, 3]], axis=1), 1.0, atol=1e-5)
    assert encoder([]).shape == (0, encoder.dim)


def test_e5_places_a_translation_nearer_than_another_topic():
    """The ensemble tier's encoder is multilingual: a request and its translations sit closer
    together than two English requests on different subjects."""
    from worksignal.classify.encoders import MODELS, OnnxEncoder

    encoder = OnnxEncoder(MODELS / "e5")
    vectors = encoder([
        "Summarise the quarterly sales report for the board meeting",
        "Fasse den Quartalsbericht über die Verkäufe für die Vorstandssitzung zusammen",
        "取締役会のために四半期の売上報告書を要約してください",
        "Suggest a vegetarian recipe for dinner tonight",
    ])
    # The fine-tuned copy serves raw mean-pooled vectors (its heads read those): compare directions.
    english, german, japanese, other = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert english @ german > english @ other + 0.05
    assert english @ japanese > english @ other + 0.05
    assert encoder([]).shape == (0, encoder.dim)
