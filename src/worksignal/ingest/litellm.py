"""LiteLLM spend-log rows (`LiteLLM_SpendLogs`), as a JSON array, JSONL or a CSV export.

Content is optional: the proxy stores `messages`/`response` only when asked to, so a
row without them still counts for usage and spend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from worksignal.ingest.base import (
    JsonArrayAdapter,
    JsonLinesAdapter,
    Output,
    Record,
    RecordError,
    as_float,
    as_int,
    as_text,
    conversation,
    parse_timestamp,
)
from worksignal.ingest.openai_jsonl import parse_messages
from worksignal.ingest.source import Source
from worksignal.ingest.tabular import CsvRows


def _json_field(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _response_messages(response: Any) -> list[dict[str, str]]:
    response = _json_field(response)
    if isinstance(response, str):
        return [{"role": "assistant", "content": response}] if response.strip() else []
    if not isinstance(response, dict):
        return []
    out = []
    for choice in response.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            out.append({"role": "assistant", "content": message["content"]})
    return out


class LiteLLMSpendLogs(JsonLinesAdapter, JsonArrayAdapter, CsvRows):
    name = "litellm"
    description = "LiteLLM spend logs (JSON array, JSONL or CSV export of LiteLLM_SpendLogs)"

    def sniff(self, head: bytes, source: Source) -> bool:
        start = head.lstrip()
        if start[:1] in (b"[", b"{"):
            return b'"request_id"' in head and (b'"spend"' in head or b'"call_type"' in head)
        header = {c.strip().strip('"') for c in start.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")}
        return "request_id" in header and ("spend" in header or "call_type" in header)

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        first = source.head(64).lstrip()[:1]
        if first == b"[":
            return JsonArrayAdapter.read(self, source, max_record_bytes)
        if first == b"{":
            return JsonLinesAdapter.read(self, source, max_record_bytes)
        return CsvRows.read(self, source, max_record_bytes)

    def parse(self, row: Any, location: str) -> Record:
        if not isinstance(row, dict):
            raise RecordError("not_an_object", "spend-log row is not an object")
        if not row.get("request_id"):
            raise RecordError("missing_field", "no request_id")
        metadata = _json_field(row.get("metadata"))
        metadata = metadata if isinstance(metadata, dict) else {}
        messages: list[dict[str, str]] = []
        raw_messages = _json_field(row.get("messages"))
        if isinstance(raw_messages, list) and raw_messages:
            messages = parse_messages(raw_messages)
        elif isinstance(raw_messages, dict) and isinstance(raw_messages.get("messages"), list):
            messages = parse_messages(raw_messages["messages"])
        messages += _response_messages(row.get("response"))
        identity = row.get("end_user") or row.get("user") or metadata.get("user_api_key_user_id")
        team = metadata.get("user_api_key_team_alias") or row.get("team_id") or metadata.get("user_api_key_team_id")
        return conversation(
            self.name,
            location,
            messages,
            source_id=as_text(row["request_id"], "request_id"),
            identity=as_text(identity or None, "user"),
            team=as_text(team or None, "team"),
            tool=as_text(row.get("call_type") or None, "call_type"),
            model=as_text(row.get("model") or None, "model"),
            started_at=parse_timestamp(row.get("startTime") or row.get("start_time")),
            tokens_in=as_int(row.get("prompt_tokens"), "prompt_tokens"),
            tokens_out=as_int(row.get("completion_tokens"), "completion_tokens"),
            cost=as_float(row.get("spend"), "spend"),
            require_messages=False,
        )
