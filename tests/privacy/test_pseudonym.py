from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from worksignal.errors import PseudonymKeyError
from worksignal.pipeline import ingest
from worksignal.privacy.pseudonym import Pseudonymiser, load_key
from worksignal.store import Store


@given(identity=st.text(min_size=1).filter(str.strip))
def test_stable_per_key_and_different_across_keys(identity: str):
    a, b = Pseudonymiser(b"key-a-0123456789abcdef"), Pseudonymiser(b"key-b-0123456789abcdef")
    assert a.person_key(identity) == Pseudonymiser(b"key-a-0123456789abcdef").person_key(identity)
    assert a.person_key(identity) != b.person_key(identity)
    assert a.person_key(identity) == a.person_key(f"  {identity.casefold()} ")


def test_email_case_and_spaces_do_not_split_a_person():
    p = Pseudonymiser(b"k" * 32)
    assert p.person_key("Alice@Acme.example ") == p.person_key("alice@acme.example")
    assert p.person_key("") is None and p.person_key(None) is None


def test_key_file_created_once_with_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.delenv("WORKSIGNAL_KEY")
    key_file = tmp_path / "conf" / "key"
    first = load_key(key_file)
    assert "created a new pseudonymisation key" in capsys.readouterr().err
    assert load_key(key_file) == first
    assert capsys.readouterr().err == ""
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_missing_key_without_create_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORKSIGNAL_KEY")
    with pytest.raises(PseudonymKeyError, match="WORKSIGNAL_KEY"):
        load_key(tmp_path / "none", create=False)


def test_raw_identities_never_reach_the_store(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    with Store(path) as db:
        ingest([FIXTURES / "openai_mixed.jsonl", FIXTURES / "people.csv", FIXTURES / "litellm_spend_logs.json"], db)
    raw = path.read_bytes()
    for identity in (b"alice.example@acme.example", b"Alice.Example@acme.example", b"bob@acme.example", b"ann@acme.example"):
        assert identity not in raw
        assert identity.lower() not in raw.lower()
