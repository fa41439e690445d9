"""Claude organisation export: `conversations.json` with `chat_messages`, and `users.json`."""

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

_SENDERS = {"human": "user", "user": "user", "assistant": "assistant"}


def _message_text(message: dict[str, Any]) -> str:
    blocks = message.get("content")
    parts: list[str] = []
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif kind == "tool_use":
                parts.append(f"[tool use: {block.get('name', '')}]")
            # thinking and tool_result blocks are internal: not imported
    elif isinstance(message.get("text"), str):
        parts.append(message["text"])
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict) and isinstance(attachment.get("extracted_content"), str):
            parts.append(f"[attachment {attachment.get('file_name', '')}]\n{attachment['extracted_content']}")
    return "\n".join(parts)


def _active_branch(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The branch ending at the last message, following `parent_message_uuid` when present."""
    by_id = {m.get("uuid"): m for m in chat if isinstance(m, dict)}
    if not any("parent_message_uuid" in m for m in by_id.values()):
        return [m for m in chat if isinstance(m, dict)]
    branch: list[dict[str, Any]] = []
    seen: set[Any] = set()
    node: dict[str, Any] | None = chat[-1] if isinstance(chat[-1], dict) else None
    while node is not None and node.get("uuid") not in seen:
        seen.add(node.get("uuid"))
        branch.append(node)
        node = by_id.get(node.get("parent_message_uuid"))
    return branch[::-1]


def users_by_uuid(path: Path) -> dict[str, str]:
    """Account uuid to email, from a `users.json` beside the export."""
    users_file = path.parent / "users.json"
    if not users_file.is_file():
        return {}
    try:
        users = orjson.loads(users_file.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return {}
    return {
        u["uuid"]: u.get("email_address") or u["uuid"]
        for u in users if isinstance(u, dict) and isinstance(u.get("uuid"), str)
    } if isinstance(users, list) else {}


class ClaudeExport(JsonArrayAdapter):
    name = "claude-export"
    description = "Claude export conversations.json (chat_messages per conversation)"

    def __init__(self, identity: str | None = None) -> None:
        self.identity = identity
        self._users: dict[str, str] = {}

    def sniff(self, head: bytes, source: Source) -> bool:
        return head.lstrip()[:1] == b"[" and b'"chat_messages"' in head

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        self._users = users_by_uuid(source.path)
        return super().read(source, max_record_bytes)

    def parse(self, item: Any, location: str) -> Record:
        if not isinstance(item, dict):
            raise RecordError("not_an_object", "conversation is not a JSON object")
        chat = item.get("chat_messages")
        if not isinstance(chat, list):
            raise RecordError("missing_field", "no 'chat_messages' list")
        messages = []
        for message in _active_branch(chat) if chat else []:
            role = _SENDERS.get(str(message.get("sender")))
            text = _message_text(message)
            if role is None or not text.strip():
                continue
            messages.append({"role": role, "content": text})
        account = as_dict(item.get("account"))
        account_id = account.get("uuid") if isinstance(account.get("uuid"), str) else None
        identity = self.identity or (self._users.get(account_id, account_id) if account_id else None)
        return conversation(
            self.name,
            location,
            messages,
            source_id=as_text(item.get("uuid"), "uuid"),
            identity=identity,
            tool="claude",
            started_at=parse_timestamp(item.get("created_at")),
        )


class ClaudeUsers(JsonArrayAdapter):
    """`users.json` of a Claude export: accounts as people (no team)."""

    name = "claude-users"
    kind = "people"
    description = "Claude export users.json (uuid, full_name, email_address)"

    def sniff(self, head: bytes, source: Source) -> bool:
        return head.lstrip()[:1] == b"[" and b'"email_address"' in head and b'"chat_messages"' not in head

    def parse(self, item: Any, location: str) -> Record:
        if not isinstance(item, dict):
            raise RecordError("not_an_object", "user is not a JSON object")
        identity = item.get("email_address") or item.get("uuid")
        if not isinstance(identity, str) or not identity.strip():
            raise RecordError("missing_field", "user has neither email_address nor uuid")
        return {"identity": identity, "team": None, "manager": None, "role": None,
                "opted_out": False, "excluded": False, "location": location}
