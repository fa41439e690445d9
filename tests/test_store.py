import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES
from worksignal.errors import StoreError
from worksignal.pipeline import ingest
from worksignal.store import SCHEMA_VERSION, Store


def _line(cid: str, *turns: str, user: str = "amy@acme.example") -> str:
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": turn})
    return json.dumps({"id": cid, "user": user, "team": "payments", "messages": messages})


def test_reingest_changes_nothing(store: Store):
    first = ingest([FIXTURES / "openai_mixed.jsonl", FIXTURES / "people.csv"], store)
    before = store.fingerprint()
    again = ingest([FIXTURES / "openai_mixed.jsonl", FIXTURES / "people.csv"], store)
    assert (again.ingested, again.updated) == (0, 0)
    assert again.unchanged == first.ingested + first.updated  # directory rows update people first seen in logs
    assert again.quarantined == first.quarantined  # reported again, stored once
    assert store.fingerprint() == before


def test_conversation_with_new_turns_is_updated_in_place(store: Store, tmp_path: Path):
    path = tmp_path / "logs.jsonl"
    path.write_text(_line("a", "draft the memo", "ok") + "\n" + _line("b", "hi") + "\n")
    ingest([path], store)
    path.write_text(_line("a", "draft the memo", "ok", "shorter", "done") + "\n" + _line("b", "hi") + "\n")
    report = ingest([path], store)
    assert (report.ingested, report.updated, report.unchanged) == (0, 1, 1)
    assert store.query("SELECT count(*), sum(n_messages) FROM conversations") == [(2, 5)]
    assert store.query("SELECT count(*) FROM messages") == [(5,)]
    assert store.query("SELECT count(*) FROM labels") == [(2,)]
    # An older, shorter copy arriving later does not roll the conversation back.
    path.write_text(_line("a", "draft the memo", "ok") + "\n")
    report = ingest([path], store)
    assert (report.updated, report.unchanged) == (0, 1)
    assert store.query("SELECT n_messages FROM conversations ORDER BY n_messages DESC LIMIT 1") == [(4,)]


def test_conversation_without_id_is_updated_when_it_grows(store: Store, tmp_path: Path):
    path = tmp_path / "noid.jsonl"
    base = {"user": "amy@acme.example", "created_at": "2026-09-01T10:00:00Z"}
    path.write_text(json.dumps({**base, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) + "\n")
    ingest([path], store)
    path.write_text(json.dumps({**base, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                                                      {"role": "user", "content": "more"}]}) + "\n")
    assert ingest([path], store).updated == 1
    assert store.query("SELECT count(*) FROM conversations") == [(1,)]


def test_every_record_is_stored_or_quarantined_exactly_once(store: Store):
    report = ingest([FIXTURES / "openai_mixed.jsonl"], store)
    non_blank = sum(1 for line in (FIXTURES / "openai_mixed.jsonl").read_text().splitlines() if line.strip())
    assert report.ingested + report.quarantined == non_blank
    stored = store.query("SELECT count(*) FROM conversations")[0][0]
    quarantined = store.query("SELECT count(*) FROM quarantine")[0][0]
    assert stored + quarantined == non_blank
    locations = {r[0].rsplit(":", 1)[1] for r in store.query("SELECT source_location FROM conversations")}
    q_locations = {r[0].rsplit(":", 1)[1] for r in store.query("SELECT location FROM quarantine")}
    assert not locations & q_locations


def test_directory_wins_over_log_team_and_builds_org_paths(store: Store):
    ingest([FIXTURES / "openai_mixed.jsonl"], store)
    ingest([FIXTURES / "people.csv"], store)
    rows = dict(store.query("SELECT team, count(*) FROM people GROUP BY team"))
    assert rows["payments"] == 2 and rows["legal"] == 1
    paths = [r[0] for r in store.query("SELECT org_path FROM people WHERE source = 'directory'")]
    assert sum(p.count("/") == 1 for p in paths) == 2  # bob and carol report to alice


def test_schema_version_and_newer_store_refused(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    with Store(path) as db:
        assert db.version() == SCHEMA_VERSION
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match="newer than this worksignal"):
        Store(path)


def test_read_only_store_must_exist(tmp_path: Path):
    with pytest.raises(StoreError, match="worksignal ingest"):
        Store(tmp_path / "missing.duckdb", read_only=True)
