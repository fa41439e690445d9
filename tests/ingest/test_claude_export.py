import shutil
from pathlib import Path

from tests.conftest import FIXTURES, read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.claude_export import ClaudeExport, ClaudeUsers


def test_fixture_branches_blocks_attachments_and_broken_record(formats: Path):
    path = formats / "claude-export" / "chatlore-fixture-conversations.json"
    assert detect(Source(path)).name == "claude-export"
    records, quarantined = read_all(ClaudeExport(), path)
    assert [q.reason for q in quarantined] == ["missing_field"]
    first, old_style = records
    roles = [m["role"] for m in first["messages"]]
    assert roles == ["user", "assistant", "user"]
    joined = "\n".join(m["content"] for m in first["messages"])
    assert "Retried answer" in joined and "x does not live long enough" not in joined
    assert "internal reasoning" not in joined
    assert "fn main()" in joined  # the attachment's extracted content is what the person sent
    assert [m["content"] for m in old_style["messages"]] == ["Give me a name for a cat.", "Biscuit."]


def test_users_json_gives_identities(formats: Path, tmp_path: Path):
    shutil.copy(formats / "claude-export" / "chatlore-fixture-conversations.json", tmp_path / "conversations.json")
    shutil.copy(FIXTURES / "claude_users.json", tmp_path / "users.json")
    records, _ = read_all(ClaudeExport(), tmp_path / "conversations.json")
    assert records[0]["identity"] == "ada@acme.example"
    assert detect(Source(tmp_path / "users.json")).name == "claude-users"
    people, quarantined = read_all(ClaudeUsers(), tmp_path / "users.json")
    assert [p["identity"] for p in people] == ["ada@acme.example", "ben@acme.example"]
    assert [q.reason for q in quarantined] == ["missing_field"]
