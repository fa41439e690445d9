from pathlib import Path

from tests.conftest import FIXTURES, read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.otlp import Otlp


def test_newer_captured_span(formats: Path):
    records, quarantined = read_all(Otlp(), formats / "otel-genai" / "genai-interlingua-raw-openai-v2-captured.otlp.json")
    assert not quarantined
    (record,) = records
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert record["messages"][1]["content"] == "Where is order A-1187?"
    assert (record["tokens_in"], record["tokens_out"]) == (412, 27)
    assert record["model"] == "gpt-4o-mini-2024-07-18"


def test_legacy_indexed_attributes_and_identity(formats: Path):
    adapter = Otlp()
    records, _ = read_all(adapter, formats / "otel-genai" / "genai-interlingua-openllmetry-legacy-indexed.otlp.json")
    (record,) = records
    assert record["identity"] == "u-7741"
    assert record["messages"][-1] == {"role": "assistant", "content": "[tool call: lookup_order]"}
    assert adapter.skipped == 1  # the child HTTP span


def test_structured_output_and_conversation_id(formats: Path):
    path = formats / "otel-genai" / "polylogue-otel-genai-trace.otlp.json"
    assert detect(Source(path)).name == "otlp"
    records, _ = read_all(Otlp(), path)
    (record,) = records
    assert record["source_id"] == "conversation-demo-7"
    assert record["messages"] == [
        {"role": "user", "content": "Find tomorrow's weather."},
        {"role": "assistant", "content": "I'll check the forecast."},
    ]


def test_event_forms_jsonl_and_bad_request():
    adapter = Otlp()
    records, quarantined = read_all(adapter, FIXTURES / "otlp_events.jsonl")
    by_id = {r["source_id"]: r for r in records}
    assert by_id["sess-ev-1"]["identity"] == "kim@acme.example"
    assert [m["role"] for m in by_id["sess-ev-1"]["messages"]] == ["system", "user", "assistant"]
    assert by_id["sess-ev-1"]["tokens_out"] == 12
    assert by_id["bb02"]["messages"][0]["content"] == "Translate the release notes to German"
    assert by_id["bb02"]["identity"] == "lee@acme.example"
    assert by_id["cc03"]["messages"] == [] and by_id["cc03"]["tokens_in"] == 9  # usage without content
    assert [(q.location.rsplit(":", 1)[1], q.reason) for q in quarantined] == [("3", "missing_field")]
    assert adapter.skipped == 1
