import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worksignal.pipeline import ingest, scan_store
from worksignal.privacy.scan import Scanner, ScanStage
from worksignal.store import Store


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


@pytest.mark.parametrize(("text", "kind"), [
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "assigned_secret"),
    ("DATABASE_URL=postgres://app:Xk9#mQ2v@db.internal:5432/prod", "connection_password"),
    ("postgres://admin:S3cretPass@db.internal:5432/app", "basic_auth_credentials"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1", "private_key"),
    ("use ghp_16C7e42F292c6912E7710c838347Ae178B4a for the CI", "github_token"),
    ("write to ana.silva@customer-mail.example today", "email"),
    ("call +44 20 7946 0958 after lunch", "phone"),
    ("card 4111 1111 1111 1111 expires 12/27", "card_number"),
    ("pay to DE89 3704 0044 0532 0130 00", "iban"),
    ("the host 10.20.30.40 is down", "ip_address"),
    ("SSN 123-45-6789 on the form", "us_ssn"),
])
def test_detects(scanner: Scanner, text: str, kind: str):
    found = scanner.scan(text, "first")
    assert kind in {s.type for s in found}, found
    span = next(s for s in found if s.type == kind)
    assert 0 <= span.start < span.end <= len(text)


@pytest.mark.parametrize("text", [
    "Please summarise the quarterly revenue report for the board meeting",
    "the function returns token_count = 42 and password_policy = strict",
    "card 4111 1111 1111 1112 fails the checksum",
    "order 123456789 shipped on 2026-09-01",
    "def parse(token): return token.strip()",
])
def test_ordinary_text_is_not_flagged(scanner: Scanner, text: str):
    assert scanner.scan(text, "first") == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_never_raises_and_spans_are_in_bounds(text: str):
    for span in SCANNER.scan(text, "first"):
        assert 0 <= span.start <= span.end <= len(text)


SCANNER = Scanner()


def test_stage_and_store_flags_and_spans(tmp_path: Path):
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"c{i}", "user": f"u{i}@acme.example", "messages": [
        {"role": "user", "content": text}]}) for i, text in enumerate([
            "deploy with aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "email bob.jones@client-corp.example the deck",
            "nothing to see here"])) + "\n")
    with Store(tmp_path / "s.duckdb") as db:
        ingest([path], db, tier="fast")
        flags = dict(db.query("SELECT c.source_id, f.secrets FROM flags f JOIN conversations c USING (conversation_id)"))
        assert flags == {"c0": 1, "c1": 0, "c2": 0}
        assert db.query("SELECT type FROM scan_spans ORDER BY type") == [("aws_access_key",), ("email",)]
        db.query("DELETE FROM flags")
        assert scan_store(db, ScanStage()) == {"scanned": 3, "with_findings": 2}


def test_stage_columns():
    batch = pa.RecordBatch.from_pydict({"user_text": ["mail x.y@corp.example", ""], "context_text": ["", ""]})
    out = ScanStage(SCANNER)(batch)
    assert out.column("secrets").to_pylist() == [0, 0]
    assert out.column("pii_counts").to_pylist() == [[("email", 1)], []]


def test_canaries_never_reach_non_admin_output(tmp_path: Path):
    """Planted canaries, emails and keys appear in no non-admin output: terminal, JSON, HTML."""
    canaries = ["CANARY-7f3a9c-ZEBRA", "canary.person@leak-test.example", "AKIAZZZZCANARY7777XX"]
    path = tmp_path / "logs.jsonl"
    rows = []
    for i in range(60):
        text = f"please fix the build {canaries[i % 3]} for the payments service"
        rows.append(json.dumps({"id": f"k{i}", "user": f"person{i % 12}@acme.example", "team": "payments",
                                "messages": [{"role": "user", "content": text}]}))
    path.write_text("\n".join(rows) + "\n")
    directory = tmp_path / "people.csv"
    directory.write_text("email,team,manager\n" + "".join(
        f"person{i}@acme.example,payments,{'' if i == 0 else 'person0@acme.example'}\n" for i in range(12)))
    store = str(tmp_path / "s.duckdb")
    env = os.environ.copy()
    subprocess.run([sys.executable, "-m", "worksignal", "ingest", str(directory), str(path), "--store", store,
                    "--tier", "fast"], check=True, capture_output=True, env=env)
    outputs = []
    views = [["--role", "analyst"], ["--role", "manager", "--as", "person0@acme.example"],
             ["--role", "employee", "--as", "person3@acme.example"]]
    for n, view in enumerate(views):
        for args in (["report"], ["report", "--json"]):
            html = tmp_path / f"report-{n}-{len(args)}.html"
            result = subprocess.run([sys.executable, "-m", "worksignal", *args, *view, "--html", str(html),
                                     "--store", store], check=True, capture_output=True, text=True, env=env)
            outputs += [result.stdout, result.stderr, html.read_text()]
    for output in outputs:
        for canary in [*canaries, "person0@acme.example", "person3@acme.example"]:
            assert canary not in output
    analyst, manager, employee = (json.loads(outputs[6 * n + 3]) for n in range(3))
    assert analyst["teams"][0]["secret_share"] > 0  # the finding is reported, not the secret
    assert manager["scope"] == "subtree" and manager["people"] == 12 and employee["conversations"] == 5
