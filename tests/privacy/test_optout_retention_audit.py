import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import FIXTURES
from worksignal.classify.model import ClassifierModel
from worksignal.classify.stage import classify_stage
from worksignal.pipeline import classify_store, ingest
from worksignal.store import MIGRATIONS, SCHEMA_VERSION, Store


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "worksignal", *args], capture_output=True, text=True,
                          check=True, env=os.environ.copy())


def _labelled_people(store: Store) -> dict[str, int]:
    return dict(store.query("SELECT c.person_key, count(l.conversation_id) FROM conversations c "
                            "LEFT JOIN labels l USING (conversation_id) GROUP BY 1"))


def test_directory_opt_out_means_no_labels_at_ingest(store: Store):
    # carol is opted out in the directory; ingested first, it governs the logs that follow.
    ingest([FIXTURES / "people.csv", FIXTURES / "openai_mixed.jsonl"], store, tier="fast")
    carol = store.query("SELECT person_key FROM people WHERE opted_out")[0][0]
    labelled = _labelled_people(store)
    assert carol not in labelled or labelled[carol] == 0
    assert sum(labelled.values()) == 2


def test_optout_command_removes_labels_and_classify_skips_then_optin(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    with Store(path) as db:
        ingest([FIXTURES / "openai_mixed.jsonl"], db, tier="fast")
    result = run("people", "optout", "ALICE.example@acme.example", "--store", str(path))
    assert "1 labels removed" in result.stdout
    version = ClassifierModel.load().version
    with Store(path) as db:
        assert db.query("SELECT count(*) FROM labels") == [(1,)]
        assert classify_store(db, classify_stage("fast"), version)["labelled"] == 0
    run("people", "optin", "alice.example@acme.example", "--store", str(path))
    with Store(path) as db:
        assert classify_store(db, classify_stage("fast"), version)["labelled"] == 1


def test_purge_drops_old_content_and_keeps_labels(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    with Store(path) as db:
        ingest([FIXTURES / "openai_mixed.jsonl"], db, tier="fast")  # c-1: 2026-09-01, c-2: 2026-09-02
        before = db.query("SELECT count(*) FROM labels")
    data = json.loads(run("purge", "--older-than", "1d", "--store", str(path), "--json").stdout)
    assert data["messages_purged"] == 4 and data["older_than_days"] == 1
    with Store(path) as db:
        assert db.query("SELECT count(*) FROM messages WHERE content IS NOT NULL") == [(0,)]
        assert db.query("SELECT count(*) FROM labels") == before
        assert db.query("SELECT count(*) FROM audit_log WHERE command = 'purge'") == [(1,)]
    # Re-ingesting the same file does not bring purged content back.
    with Store(path) as db:
        ingest([FIXTURES / "openai_mixed.jsonl"], db, tier="fast")
        assert db.query("SELECT count(*) FROM messages WHERE content IS NOT NULL") == [(0,)]


def test_report_is_audited(tmp_path: Path):
    path = tmp_path / "s.duckdb"
    with Store(path) as db:
        ingest([FIXTURES / "openai_mixed.jsonl"], db, tier="fast")
    env = {**os.environ, "WORKSIGNAL_ACTOR": "works-council"}
    subprocess.run([sys.executable, "-m", "worksignal", "report", "--store", str(path), "--json"],
                   check=True, capture_output=True, env=env)
    for view in (["--role", "manager", "--as", "lead@example.com"], ["--role", "employee", "--as", "me@example.com"]):
        subprocess.run([sys.executable, "-m", "worksignal", "report", "--store", str(path), "--json", *view],
                       check=True, capture_output=True, env=env)
    with Store(path) as db:
        rows = db.query("SELECT actor, role, command, detail FROM audit_log ORDER BY asked_at")
    # Every query but a person's look at their own data is audited, naming whose view it was.
    assert [r[:3] for r in rows] == [("works-council", "analyst", "report"), ("works-council", "manager", "report")]
    assert "as=" in rows[1][3] and "lead@example.com" not in rows[1][3]


def test_forward_migration_from_version_one(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    with Store(path) as db:
        assert db.version() == SCHEMA_VERSION >= 2
        assert db.query("SELECT count(*) FROM audit_log") == [(0,)]
