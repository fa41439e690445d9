"""The shipped training corpus: valid rows, no repeats, and kept apart from the simulator's
prompt bank, which stands in for employee-style text the classifier has not seen."""

import json
from collections import Counter
from pathlib import Path

from worksignal.classify.taxonomy import INTENTS
from worksignal.classify.train import CORPUS, normalised, read_labelled


def test_every_corpus_row_is_a_full_label_and_no_text_repeats():
    rows = read_labelled(sorted(CORPUS.glob("*.jsonl")))  # raises on a bad row, naming the line
    assert all(r.get("topic") and r.get("intent") in INTENTS for r in rows)
    repeats = [t for t, n in Counter(normalised(r["text"]) for r in rows).items() if n > 1]
    assert repeats == []
    languages = Counter(r.get("lang") for r in rows if r.get("lang") not in (None, "en"))
    assert sum(n >= 40 for n in languages.values()) >= 10  # real logs are about a fifth not English


def test_the_corpus_shares_only_short_padding_with_the_simulator_bank():
    """Bank texts in the corpus would flatter the employee-style figures; only one-liners
    such as "hi" or "tell me a fun fact" may occur in both."""
    bank_folder = Path(CORPUS).parent.parent / "simulate" / "bank"
    bank = {normalised(row["text"]) for path in bank_folder.glob("*.jsonl")
            for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if "text" in row}
    shared = [r["text"] for r in read_labelled(sorted(CORPUS.glob("*.jsonl"))) if normalised(r["text"]) in bank]
    assert all(len(t.split()) <= 12 for t in shared), [t for t in shared if len(t.split()) > 12]
