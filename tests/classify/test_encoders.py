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
