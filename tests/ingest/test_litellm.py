from tests.conftest import FIXTURES, read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.litellm import LiteLLMSpendLogs


def test_json_rows_with_and_without_content():
    path = FIXTURES / "litellm_spend_logs.json"
    assert detect(Source(path)).name == "litellm"
    records, quarantined = read_all(LiteLLMSpendLogs(), path)
    first, second = records
    assert first["identity"] == "ann@acme.example" and first["team"] == "data-science"
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["cost"] == 0.00042 and first["tokens_in"] == 21
    assert second["identity"] == "bo@acme.example" and second["messages"] == []
    assert sorted(q.reason for q in quarantined) == ["bad_field_type", "missing_field"]


def test_csv_export():
    path = FIXTURES / "litellm_spend_logs.csv"
    assert detect(Source(path)).name == "litellm"
    records, quarantined = read_all(LiteLLMSpendLogs(), path)
    assert [r["source_id"] for r in records] == ["chatcmpl-101", "chatcmpl-102"]
    assert records[0]["messages"][0]["content"].startswith("Explain this stack trace")
    assert [(q.location.rsplit(":", 1)[1], q.reason) for q in quarantined] == [("4", "bad_field_type")]
