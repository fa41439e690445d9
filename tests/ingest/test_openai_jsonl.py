import gzip
from pathlib import Path

from tests.conftest import FIXTURES, read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.openai_jsonl import OpenAIJsonl


def test_mixed_file_stores_good_lines_and_quarantines_each_bad_one_with_its_line():
    records, quarantined = read_all(OpenAIJsonl(), FIXTURES / "openai_mixed.jsonl")
    assert [r["source_id"] for r in records] == ["c-1", "c-2"]
    reasons = {q.location.rsplit(":", 1)[1]: q.reason for q in quarantined}
    assert reasons == {
        "3": "invalid_json",
        "4": "bad_message",
        "5": "bad_timestamp",
        "6": "bad_field_type",
        "7": "not_an_object",
        "9": "no_messages",
        "10": "bad_field_type",
        "11": "bad_message",
        "12": "invalid_json",  # truncated last line
    }


def test_metadata_is_read_from_top_level_and_metadata_object():
    records, _ = read_all(OpenAIJsonl(), FIXTURES / "openai_mixed.jsonl")
    first, second = records
    assert first["identity"] == "Alice.Example@acme.example"
    assert (first["team"], first["model"], first["tool"]) == ("payments", "gpt-4o", "chatgpt-enterprise")
    assert (first["tokens_in"], first["tokens_out"]) == (12, 30)
    assert first["started_at"].isoformat() == "2026-09-01T09:00:00+00:00"
    assert second["team"] == "legal"
    assert second["messages"][1] == {"role": "user", "content": "Summarise this NDA clause"}


def test_invalid_utf8_line_is_quarantined_as_encoding_error():
    records, quarantined = read_all(OpenAIJsonl(), FIXTURES / "openai_encoding.jsonl")
    assert [r["source_id"] for r in records] == ["enc-2"]
    assert records[0]["messages"][0]["content"] == "café in utf-8"
    assert [q.reason for q in quarantined] == ["invalid_encoding"]


def test_huge_line_is_quarantined_without_losing_the_next_line(tmp_path: Path):
    path = tmp_path / "huge.jsonl"
    huge = '{"id": "big", "messages": [{"role": "user", "content": "' + "x" * 50_000 + '"}]}'
    ok = '{"id": "ok", "messages": [{"role": "user", "content": "fine"}]}'
    path.write_text(huge + "\n" + ok + "\n")
    records, quarantined = read_all(OpenAIJsonl(), path, max_bytes=10_000)
    assert [r["source_id"] for r in records] == ["ok"]
    assert [(q.location.rsplit(":", 1)[1], q.reason) for q in quarantined] == [("1", "record_too_large")]


def test_gzip_input_and_truncated_gzip(tmp_path: Path):
    lines = b"".join(
        b'{"id": "g%d", "messages": [{"role": "user", "content": "line %d"}]}\n' % (i, i) for i in range(2000)
    )
    whole = tmp_path / "logs.jsonl.gz"
    whole.write_bytes(gzip.compress(lines))
    records, quarantined = read_all(OpenAIJsonl(), whole)
    assert len(records) == 2000 and not quarantined
    assert detect(Source(whole)).name == "openai-jsonl"

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(lines)[:-40])
    records, quarantined = read_all(OpenAIJsonl(), cut)
    assert len(records) < 2000
    assert quarantined[-1].reason in ("truncated_input", "invalid_json")


def test_shared_openai_samples_parse(formats: Path):
    for path in sorted((formats / "openai-chat-jsonl").glob("*.jsonl")):
        records, quarantined = read_all(OpenAIJsonl(), path, max_bytes=16 << 20)
        lines = sum(1 for line in path.read_bytes().splitlines() if line.strip())
        assert len(records) + len(quarantined) == lines
        assert records, path
    drone, _ = read_all(OpenAIJsonl(), formats / "openai-chat-jsonl" / "openai-cookbook-drone_training.jsonl")
    assert drone[0]["messages"][-1] == {"role": "assistant", "content": "[tool call: takeoff_drone]"}
