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


def test_encoder_inputs_prefix_truncate_clip_and_pad_as_the_folder_says():
    """Serving and fine-tuning share EncoderInputs: e5's "query: " prefix comes first, long
    texts stop at max_tokens (ending in the closing token), reading stops at max_chars, and
    padding uses the folder's pad id under a zero mask."""
    from tokenizers import Tokenizer

    from worksignal.classify.encoders import MODELS, EncoderInputs

    inputs = EncoderInputs(MODELS / "e5", max_tokens=16)
    tokenizer = Tokenizer.from_file(str(MODELS / "e5" / "tokenizer.json"))
    ids, mask = inputs(["hi", "review this pull request " * 50])
    assert ids.shape == mask.shape == (2, 16) and ids.dtype == mask.dtype == np.int64
    assert ids[0].tolist()[: int(mask[0].sum())] == tokenizer.encode("query: hi").ids
    assert (ids[0][mask[0] == 0] == 1).all() and mask[0].sum() < 16  # pad_id 1 in e5's pooling.json
    assert mask[1].all() and ids[1][-1] == tokenizer.encode("x").ids[-1]  # truncated, closing token kept
    unbounded = EncoderInputs(MODELS / "e5", max_tokens=100_000)  # so only the character clip can cut
    long = ("ab " * inputs.max_chars)[: inputs.max_chars]
    assert np.array_equal(unbounded([long + "tail words"])[0], unbounded([long])[0])
    assert unbounded([long[:100] + "tail words"])[0].shape[1] > unbounded([long[:100]])[0].shape[1]
