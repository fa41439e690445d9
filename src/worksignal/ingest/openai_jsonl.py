"""OpenAI-style messages JSONL: one conversation per line, `messages` plus metadata."""

from __future__ import annotations

from typing import Any

from worksignal.ingest.base import (
    JsonLinesAdapter,
    Record,
    RecordError,
    as_dict,
    as_float,
    as_int,
    as_text,
    conversation,
    parse_timestamp,
    role_of,
    text_of,
)
from worksignal.ingest.source import Source


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def parse_messages(raw: Any) -> list[dict[str, str]]:
    """Chat messages as role/content pairs; tool calls without text are kept as their JSON."""
    if not isinstance(raw, list):
        raise RecordError("bad_message", f"messages is a {type(raw).__name__}, not a list")
    messages = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise RecordError("bad_message", f"message {i} is not an object")
        role = role_of(message.get("role"))
        content = text_of(message.get("content"))
        if content is None and message.get("tool_calls"):
            calls = message["tool_calls"]
            names = [c.get("function", {}).get("name", "") for c in calls if isinstance(c, dict)]
            content = "[tool call: " + ", ".join(n for n in names if isinstance(n, str)) + "]"
        if content is None:
            continue
        messages.append({"role": role, "content": content})
    return messages


class OpenAIJsonl(JsonLinesAdapter):
    name = "openai-jsonl"
    description = "OpenAI-style chat JSONL: one {messages: [...], user, team, ...} per line"

    def sniff(self, head: bytes, source: Source) -> bool:
        first = head.lstrip().split(b"\n", 1)[0]
        return first.startswith(b"{") and b'"messages"' in first

    def parse(self, obj: dict[str, Any], location: str) -> Record:
        if "messages" not in obj:
            raise RecordError("missing_field", "no 'messages' list")
        merged = {**as_dict(obj.get("metadata")), **{k: v for k, v in obj.items() if k != "metadata"}}
        usage = as_dict(merged.get("usage"))
        return conversation(
            self.name,
            location,
            parse_messages(obj["messages"]),
            source_id=as_text(_first(merged, "conversation_id", "id", "session_id"), "id"),
            identity=as_text(_first(merged, "user_email", "email", "user", "user_id"), "user"),
            team=as_text(_first(merged, "team", "department"), "team"),
            tool=as_text(_first(merged, "tool", "source", "app", "client"), "tool"),
            model=as_text(_first(merged, "model"), "model"),
            started_at=parse_timestamp(_first(merged, "created_at", "started_at", "timestamp", "created")),
            tokens_in=as_int(_first(usage, "prompt_tokens", "input_tokens"), "tokens_in"),
            tokens_out=as_int(_first(usage, "completion_tokens", "output_tokens"), "tokens_out"),
            cost=as_float(_first(merged, "cost", "cost_usd", "spend"), "cost"),
        )
