"""The adapter contract: a source file in, canonical records or quarantine entries out.

An adapter subclasses one of the kind-specific bases and writes one method, `parse`,
that turns a decoded record into a canonical dict or raises `RecordError` with a reason
code. The base does the reading, the bounding and the bookkeeping, so that every input
record ends as exactly one canonical record or one quarantine entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import ijson
import orjson

from worksignal.ingest.source import Line, Source, TruncatedInput

EXCERPT_CHARS = 200
_EMAIL = re.compile(rb"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_LONG_DIGITS = re.compile(rb"\d{6,}")


#: What a parser raises when a record has a shape nobody planned for: quarantined as
#: `unexpected_shape`, never fatal. RecordError is the planned path with its own reasons.
SHAPE_ERRORS = (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError)


class RecordError(Exception):
    """A record that cannot be stored; `reason` is a stable code for the quarantine table."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Quarantined:
    """An input record that was not stored, with where it was and why."""

    source: str
    location: str
    reason: str
    detail: str
    excerpt: str


def redacted_excerpt(data: bytes | str) -> str:
    """A short excerpt of a bad record with emails and long numbers masked."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    raw = _EMAIL.sub(b"<email>", raw[: EXCERPT_CHARS * 4])
    raw = _LONG_DIGITS.sub(b"<number>", raw)
    return raw.decode("utf-8", "replace")[:EXCERPT_CHARS]


def unexpected(exc: BaseException) -> RecordError:
    return RecordError("unexpected_shape", f"{type(exc).__name__}: {exc}"[:300])


def quarantined(source_name: str, location: str, error: RecordError, raw: Any) -> Quarantined:
    """The quarantine entry for a record that raised `error`, with a redacted excerpt."""
    data = raw if isinstance(raw, bytes | str) else orjson.dumps(raw, default=str)
    return Quarantined(source_name, location, error.reason, error.detail, redacted_excerpt(data))


Record = dict[str, Any]
Output = Record | Quarantined


class Adapter:
    """One source format. `kind` says which table its records feed."""

    name: ClassVar[str]
    kind: ClassVar[str] = "conversations"
    description: ClassVar[str] = ""

    def sniff(self, head: bytes, source: Source) -> bool:
        """Whether this file looks like this format, from its first bytes."""
        return False

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        raise NotImplementedError

    def _quarantine(self, source: Source, location: str, error: RecordError, raw: Any) -> Quarantined:
        return quarantined(source.name, location, error, raw)


class JsonLinesAdapter(Adapter):
    """One JSON object per line; subclasses write `parse(obj, location)`."""

    def parse(self, obj: dict[str, Any], location: str) -> list[Output] | Record:
        raise NotImplementedError

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        try:
            for line in source.lines(max_record_bytes):
                yield from self.parse_line(source.name, line, max_record_bytes)
        except TruncatedInput as exc:
            yield Quarantined(source.name, f"{source.name}:end", "truncated_input", str(exc), "")

    def parse_line(self, source_name: str, line: Line, max_record_bytes: int) -> list[Output]:
        """One physical line to its outputs; pure, so runners may call it in other processes."""
        location = f"{source_name}:{line.number}"
        if line.data is None:
            err = RecordError("record_too_large", f"{line.size} bytes > {max_record_bytes}")
            return [quarantined(source_name, location, err, b"")]
        if not line.data.strip():
            return []
        try:
            obj = decode_json(line.data)
            if not isinstance(obj, dict):
                raise RecordError("not_an_object", f"line holds a JSON {type(obj).__name__}")
            parsed = self.parse(obj, location)
        except RecordError as err:
            return [quarantined(source_name, location, err, line.data)]
        except SHAPE_ERRORS as exc:
            return [quarantined(source_name, location, unexpected(exc), line.data)]
        return list(parsed) if isinstance(parsed, list) else [parsed]


class JsonArrayAdapter(Adapter):
    """A JSON array of objects (or one object), streamed item by item with ijson."""

    def parse(self, item: Any, location: str) -> Record:
        raise NotImplementedError

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        head = source.head(64).lstrip()
        index = -1
        try:
            with source.open() as f:
                if head.startswith(b"{"):
                    items: Any = iter([ijson.items(f, "", use_float=True).__next__()])
                else:
                    items = ijson.items(f, "item", use_float=True)
                for index, item in enumerate(items):
                    location = f"{source.name}:item[{index}]"
                    try:
                        yield self.parse(item, location)
                    except RecordError as err:
                        yield self._quarantine(source, location, err, item)
                    except SHAPE_ERRORS as exc:
                        yield self._quarantine(source, location, unexpected(exc), item)
        except (ijson.JSONError, UnicodeDecodeError, TruncatedInput, EOFError, OSError, StopIteration) as exc:
            location = f"{source.name}:item[{index + 1}]"
            reason = "invalid_json" if not isinstance(exc, UnicodeDecodeError) else "invalid_encoding"
            yield Quarantined(
                source.name, location, reason, f"unreadable from this item on: {exc}", ""
            )


def decode_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError("invalid_encoding", "record is not valid UTF-8") from None
        raise RecordError("invalid_json", str(exc)) from None


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (absent or wrongly typed metadata)."""
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str | None:
    """Message content as plain text: a string, or the text parts of a parts list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    if isinstance(value, dict):
        return text_of(value.get("text", value.get("content", value.get("parts"))))
    raise RecordError("bad_field_type", f"message content is a {type(value).__name__}")


def parse_timestamp(value: Any) -> datetime | None:
    """Epoch seconds/milliseconds/nanoseconds or ISO-8601 text, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            seconds = float(value)
            while abs(seconds) > 1e11:  # milli/micro/nanoseconds
                seconds /= 1000.0
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if text.replace(".", "", 1).isdigit():
                return parse_timestamp(float(text))
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    raise RecordError("bad_timestamp", f"cannot read {str(value)[:40]!r} as a time")


def as_int(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError("bad_field_type", f"{field} is a boolean")
    try:
        number = int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError("bad_field_type", f"{field} is not a number: {str(value)[:40]!r}") from None
    if number < 0 or number > 2**62:
        raise RecordError("bad_field_type", f"{field} out of range: {number}")
    return number


def as_float(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError("bad_field_type", f"{field} is a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RecordError("bad_field_type", f"{field} is not a number: {str(value)[:40]!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RecordError("bad_field_type", f"{field} is not finite")
    return number


def as_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError("bad_field_type", f"{field} is a {type(value).__name__}, not text")


def conversation(
    source_format: str,
    location: str,
    messages: list[dict[str, str]],
    *,
    source_id: str | None = None,
    identity: str | None = None,
    team: str | None = None,
    tool: str | None = None,
    model: str | None = None,
    started_at: datetime | None = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    cost: float | None = None,
    require_messages: bool = True,
) -> Record:
    """A canonical conversation record (RAW_CONVERSATION shape), checked for usable content.

    Usage-only sources (spans without captured content, spend logs) pass
    `require_messages=False`: their conversations count for usage and cost, not for labels.
    """
    if require_messages and not messages:
        raise RecordError("no_messages", "conversation has no message with text")
    return {
        "source_format": source_format,
        "source_id": source_id,
        "identity": identity,
        "team": team,
        "tool": tool,
        "model": model,
        "started_at": started_at,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost": cost,
        "messages": messages,
        "location": location,
    }


ROLE_ALIASES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}


def role_of(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in ROLE_ALIASES:
        raise RecordError("bad_message", f"unknown message role {str(value)[:40]!r}")
    return ROLE_ALIASES[value.lower()]
