"""Hashed word and character n-grams with TF-IDF weights: a sparse view that catches the
surface cues (code, jargon, scripts of other languages) dense sentence embeddings blur."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

BUCKETS = 2**18
MAX_CHARS = 2000


class HashedNgrams:
    """Stateless hashing plus a fitted inverse-document-frequency vector (shipped as an array)."""

    def __init__(self, idf: np.ndarray | None = None) -> None:
        self.words = HashingVectorizer(n_features=BUCKETS, alternate_sign=False, ngram_range=(1, 2), norm=None)
        self.chars = HashingVectorizer(n_features=BUCKETS, alternate_sign=False, analyzer="char_wb",
                                       ngram_range=(2, 4), norm=None)
        self.idf = idf

    def counts(self, texts: list[str]) -> csr_matrix:
        clipped = [t[:MAX_CHARS] for t in texts]
        return hstack([self.words.transform(clipped), self.chars.transform(clipped)]).tocsr()

    def fit(self, texts: list[str]) -> HashedNgrams:
        document_frequency = np.bincount(self.counts(texts).indices, minlength=2 * BUCKETS)
        self.idf = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(np.float32)
        return self

    def __call__(self, texts: list[str]) -> csr_matrix:
        if self.idf is None:
            raise ValueError("HashedNgrams must be fitted (or given an idf) before use")
        x = self.counts(texts)
        x.data = np.log1p(x.data) * self.idf[x.indices]  # sublinear term frequency
        return normalize(x)
