import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from worksignal.classify.hashed import BUCKETS, CHUNK, MAX_CHARS, SIZES, HashedNgrams

texts = st.lists(st.text(max_size=60), max_size=12)


def ngram_count(text: str) -> int:
    normal = " ".join(text[:MAX_CHARS].lower().split())
    return sum(max(0, len(normal) - n + 1) for n in SIZES)


@settings(max_examples=60, deadline=None)
@given(texts)
def test_every_ngram_of_every_text_is_counted_once(batch):
    counts = HashedNgrams.counts(batch)
    assert counts.shape == (len(batch), BUCKETS)
    assert counts.sum(axis=1).A1.tolist() == [ngram_count(t) for t in batch]


@settings(max_examples=60, deadline=None)
@given(texts, st.integers(0, 11))
def test_a_text_hashes_the_same_whatever_its_neighbours(batch, i):
    """No n-gram spans two texts of a batch, and hashing does not depend on position."""
    if not batch:
        return
    i %= len(batch)
    together = HashedNgrams.counts(batch)[i]
    alone = HashedNgrams.counts([batch[i]])
    assert (together != alone).nnz == 0


def test_a_nul_inside_a_text_does_not_end_it():
    counts = HashedNgrams.counts(["ab\x00cd", "ab"])
    assert counts[0].sum() == ngram_count("ab\x00cd") == 4 + 3 + 2 and counts[1].sum() == 1


def test_case_and_spacing_do_not_matter_and_long_batches_are_chunked():
    a = HashedNgrams.counts(["Deploy  the\tService", "deploy the service"])
    assert (a[0] != a[1]).nnz == 0
    many = ["kubectl rollout status", "lasagne for six"] * (CHUNK // 2 + 10)
    counts = HashedNgrams.counts(many)
    assert counts.shape[0] == len(many) and (counts[0] != counts[CHUNK + 2]).nnz == 0


def test_fitted_vectors_are_unit_length_and_unfitted_use_is_an_error():
    import pytest

    ngrams = HashedNgrams().fit(["fix the build", "bake a cake", "quarterly report"])
    x = ngrams(["fix the cake", ""])
    assert np.isclose(np.sqrt(x[0].multiply(x[0]).sum()), 1.0) and x[1].nnz == 0
    with pytest.raises(ValueError, match="fitted"):
        HashedNgrams()(["x"])
