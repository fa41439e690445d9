from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES, read_all
from worksignal.errors import UsageError
from worksignal.ingest import Source, detect
from worksignal.ingest.tabular import Table, parse_mapping


def test_csv_with_column_mapping():
    mapping = parse_mapping(["conv=conversation_id", "who=user", "dept=team", "when=started_at",
                             "prompt_text=text", "answer=response"])
    records, quarantined = read_all(Table(mapping), FIXTURES / "conversations.csv")
    (record,) = records
    assert record["identity"] == "ann@acme.example" and record["team"] == "finance"
    assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
    assert sorted(q.reason for q in quarantined) == ["bad_timestamp", "no_messages"]


def test_bad_mapping_is_a_usage_error():
    with pytest.raises(UsageError, match="COLUMN=FIELD"):
        parse_mapping(["prompt_text=prompt"])


def test_parquet(tmp_path: Path):
    path = tmp_path / "logs.parquet"
    pq.write_table(pa.table({
        "id": ["p1", "p2"], "user": ["a@acme.example", "b@acme.example"],
        "prompt": ["Draft the Q3 board memo", None], "tokens_in": [10, 3],
    }), path)
    assert detect(Source(path)).name == "table"
    records, quarantined = read_all(Table(), path)
    assert [r["source_id"] for r in records] == ["p1"]
    assert [q.reason for q in quarantined] == ["no_messages"]
