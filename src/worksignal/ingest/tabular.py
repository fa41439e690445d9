"""CSV and Parquet: one row per conversation, columns mapped onto canonical fields."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.parquet as pq

from worksignal.errors import UsageError
from worksignal.ingest.base import (
    SHAPE_ERRORS,
    Adapter,
    Output,
    Quarantined,
    Record,
    RecordError,
    as_float,
    as_int,
    as_text,
    conversation,
    parse_timestamp,
    redacted_excerpt,
    unexpected,
)
from worksignal.ingest.openai_jsonl import parse_messages
from worksignal.ingest.source import PARQUET_MAGIC, Source

#: Canonical fields a table column can be mapped to, with the column names taken by default.
FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_id": ("conversation_id", "id", "session_id", "request_id"),
    "user": ("user", "email", "user_email", "user_id"),
    "team": ("team", "department"),
    "tool": ("tool", "app", "source"),
    "model": ("model",),
    "started_at": ("started_at", "created_at", "timestamp", "time", "date"),
    "tokens_in": ("tokens_in", "prompt_tokens", "input_tokens"),
    "tokens_out": ("tokens_out", "completion_tokens", "output_tokens"),
    "cost": ("cost", "cost_usd", "spend"),
    "text": ("text", "prompt", "user_message", "question", "content"),
    "response": ("response", "answer", "assistant_message", "completion"),
    "messages": ("messages",),
}


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """`column=field` pairs from `--map` as {field: column}, checked against FIELDS."""
    mapping = {}
    for pair in pairs or []:
        column, sep, field = pair.partition("=")
        if not sep or not column or field not in FIELDS:
            raise UsageError(
                f"--map {pair!r}: expected COLUMN=FIELD with FIELD one of {', '.join(FIELDS)}."
            )
        mapping[field] = column
    return mapping


class CsvRows(Adapter):
    """Base for CSV inputs: rows as dicts, bad rows quarantined with their line number."""

    def parse(self, row: dict[str, Any], location: str) -> Record:
        raise NotImplementedError

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        csv.field_size_limit(max_record_bytes)
        try:
            with source.text_stream() as text:
                text.reconfigure(errors="surrogateescape")
                reader = csv.DictReader(text)
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        location = f"{source.name}:{reader.line_num}"
                        yield Quarantined(source.name, location, "invalid_csv", str(exc), "")
                        continue
                    location = f"{source.name}:{reader.line_num}"
                    try:
                        if any(isinstance(v, str) and _has_surrogates(v) for v in row.values()):
                            raise RecordError("invalid_encoding", "row is not valid UTF-8")
                        if None in row:
                            raise RecordError("invalid_csv", "row has more fields than the header")
                        yield self.parse(row, location)
                    except (RecordError, *SHAPE_ERRORS) as exc:
                        err = exc if isinstance(exc, RecordError) else unexpected(exc)
                        excerpt = ",".join(str(v) for v in row.values() if v is not None)
                        excerpt = excerpt.encode("utf-8", "replace").decode()
                        yield Quarantined(source.name, location, err.reason, err.detail, redacted_excerpt(excerpt))
        except (UnicodeDecodeError, EOFError, OSError) as exc:
            yield Quarantined(source.name, f"{source.name}:end", "truncated_input", str(exc), "")


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Table(CsvRows):
    """CSV or Parquet with one conversation per row; `--map column=field` renames columns."""

    name = "table"
    description = "CSV/Parquet, one conversation per row; --map COLUMN=FIELD"

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping or {}

    def sniff(self, head: bytes, source: Source) -> bool:
        if head.startswith(PARQUET_MAGIC):
            return True
        header = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
        columns = {c.strip().strip('"') for c in header.split(",")}
        return bool(columns & set(FIELDS["text"] + FIELDS["messages"] + tuple(self.mapping.values())))

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        if not source.gzipped and source.head(4) == PARQUET_MAGIC:
            yield from self._read_parquet(source)
        else:
            yield from super().read(source, max_record_bytes)

    def _read_parquet(self, source: Source) -> Iterator[Output]:
        try:
            parquet = pq.ParquetFile(source.path)
            row_number = 0
            for batch in parquet.iter_batches(batch_size=10_000):
                for row in batch.to_pylist():
                    row_number += 1
                    location = f"{source.name}:row {row_number}"
                    try:
                        yield self.parse(row, location)
                    except (RecordError, *SHAPE_ERRORS) as exc:
                        err = exc if isinstance(exc, RecordError) else unexpected(exc)
                        excerpt = redacted_excerpt(orjson.dumps(row, default=str))
                        yield Quarantined(source.name, location, err.reason, err.detail, excerpt)
        except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
            yield Quarantined(source.name, f"{source.name}:end", "invalid_parquet", str(exc), "")

    def _get(self, row: dict[str, Any], field: str) -> Any:
        column = self.mapping.get(field)
        if column is not None:
            return row.get(column)
        for name in FIELDS[field]:
            if row.get(name) not in (None, ""):
                return row[name]
        return None

    def parse(self, row: dict[str, Any], location: str) -> Record:
        raw_messages = self._get(row, "messages")
        if raw_messages not in (None, ""):
            if isinstance(raw_messages, str):
                try:
                    raw_messages = orjson.loads(raw_messages)
                except orjson.JSONDecodeError:
                    raise RecordError("bad_message", "messages column is not JSON") from None
            messages = parse_messages(raw_messages)
        else:
            messages = []
            for role, field in (("user", "text"), ("assistant", "response")):
                text = as_text(self._get(row, field), field)
                if text and text.strip():
                    messages.append({"role": role, "content": text})
        return conversation(
            self.name,
            location,
            messages,
            source_id=as_text(self._get(row, "conversation_id"), "conversation_id"),
            identity=as_text(self._get(row, "user"), "user"),
            team=as_text(self._get(row, "team"), "team"),
            tool=as_text(self._get(row, "tool"), "tool"),
            model=as_text(self._get(row, "model"), "model"),
            started_at=parse_timestamp(self._get(row, "started_at")),
            tokens_in=as_int(self._get(row, "tokens_in"), "tokens_in"),
            tokens_out=as_int(self._get(row, "tokens_out"), "tokens_out"),
            cost=as_float(self._get(row, "cost"), "cost"),
        )
