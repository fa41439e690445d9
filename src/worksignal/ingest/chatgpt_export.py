"""ChatGPT data export `conversations.json`: walk each mapping tree up from `current_node`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from worksignal.ingest.base import (
    JsonArrayAdapter,
    Output,
    Record,
    RecordError,
    as_dict,
    as_text,
    conversation,
    parse_timestamp,
)
from worksignal.ingest.source import Source

# Content types that carry what the person or the assistant said; reasoning traces and
# profile context are internal and are not imported.
_TEXT_TYPES = {"text", "multimodal_text", "code", "execution_output", "tether_quote", "tether_browsing_display", "system_error"}
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "tool"}


def _content_text(content: dict[str, Any]) -> str | None:
    if content.get("content_type") not in _TEXT_TYPES:
        return None
    parts = content.get("parts")
    if isinstance(parts, list):
        texts = [p for p in parts if isinstance(p, str)]
        return "\n".join(texts) if texts else None
    for key in ("text", "result"):
        if isinstance(content.get(key), str):
            return content[key]
    return None


def export_identity(path: Path) -> str | None:
    """The account email (or id) from a `user.json` beside the export, if there is one."""
    user_file = path.parent / "user.json"
    if not user_file.is_file():
        return None
    try:
        user = orjson.loads(user_file.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return None
    if not isinstance(user, dict):
        return None
    value = user.get("email") or user.get("id")
    return value if isinstance(value, str) else None


class ChatGPTExport(JsonArrayAdapter):
    name = "chatgpt-export"
    description = "ChatGPT data export conversations.json (mapping tree per conversation)"

    def __init__(self, identity: str | None = None) -> None:
        self.identity = identity
        self._source_identity: str | None = None

    def sniff(self, head: bytes, source: Source) -> bool:
        return head.lstrip()[:1] in (b"[", b"{") and b'"mapping"' in head and b'"current_node"' in head

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        self._source_identity = self.identity or export_identity(source.path)
        return super().read(source, max_record_bytes)

    def parse(self, item: Any, location: str) -> Record:
        if not isinstance(item, dict):
            raise RecordError("not_an_object", "conversation is not a JSON object")
        mapping = item.get("mapping")
        if not isinstance(mapping, dict) or not mapping:
            raise RecordError("missing_field", "no 'mapping' tree")
        node_id = item.get("current_node")
        if node_id not in mapping:
            # Fall back to the last leaf in insertion order, as the export app does.
            leaves = [k for k, v in mapping.items() if isinstance(v, dict) and not v.get("children")]
            if not leaves:
                raise RecordError("bad_message", "mapping has no leaf node")
            node_id = leaves[-1]
        path: list[dict[str, Any]] = []
        seen: set[str] = set()
        while node_id is not None and node_id in mapping and node_id not in seen:
            seen.add(node_id)
            node = mapping[node_id]
            if not isinstance(node, dict):
                raise RecordError("bad_message", f"node {str(node_id)[:40]} is not an object")
            if isinstance(node.get("message"), dict):
                path.append(node["message"])
            node_id = node.get("parent")
        path.reverse()
        messages, model = [], None
        for message in path:
            author = as_dict(message.get("author"))
            role = _ROLES.get(str(author.get("role")))
            content = message.get("content")
            if role is None or not isinstance(content, dict):
                continue
            text = _content_text(content)
            if text is None or not text.strip():
                continue
            if role == "assistant" and message.get("recipient", "all") != "all":
                role = "tool"  # a tool call the assistant addressed to a plugin/browser
            messages.append({"role": role, "content": text})
            meta = as_dict(message.get("metadata"))
            if isinstance(meta.get("model_slug"), str):
                model = meta["model_slug"]
        return conversation(
            self.name,
            location,
            messages,
            source_id=as_text(item.get("conversation_id") or item.get("id"), "id"),
            identity=self._source_identity,
            tool="chatgpt",
            model=as_text(item.get("default_model_slug"), "model") or model,
            started_at=parse_timestamp(item.get("create_time")),
        )
