"""OpenTelemetry GenAI spans as OTLP/JSON (`resourceSpans`), both attribute generations.

Accepted forms of message content:
- newer semantic conventions: `gen_ai.input.messages` / `gen_ai.output.messages` (a JSON
  string or a structured OTLP array) with `parts`;
- older indexed attributes: `gen_ai.prompt.N.role|content`, `gen_ai.completion.N.*`;
- older events: `gen_ai.{system,user,assistant,tool}.message`, `gen_ai.choice`,
  `gen_ai.content.prompt` / `gen_ai.content.completion`.
Spans of one conversation (`gen_ai.conversation.id`, else `session.id`, else the trace)
are merged into one conversation; spans that are not GenAI chat calls are counted as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from worksignal.ingest.base import (
    SHAPE_ERRORS,
    Adapter,
    Output,
    Quarantined,
    RecordError,
    as_int,
    conversation,
    decode_json,
    parse_timestamp,
    role_of,
    unexpected,
)
from worksignal.ingest.source import Source, TruncatedInput

_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content|tool_calls\.\d+\.name)$")
_CHAT_OPERATIONS = {"chat", "text_completion", "generate_content", "completion", "invoke_agent"}
_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "assistant",
}
_IDENTITY_KEYS = ("user.id", "enduser.id", "user.email", "traceloop.association.properties.user_id")


class Skipped(Exception):
    """Marks a span that is not a GenAI chat call (HTTP, tool execution...)."""


def any_value(value: Any) -> Any:
    """Decode an OTLP/JSON AnyValue into plain Python."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return as_int(value["intValue"], "intValue")
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise RecordError("bad_field_type", "attributes is not a list")
    out = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"))
    return out


def _parts_text(message: dict[str, Any]) -> str:
    texts = []
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    for part in message.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif kind == "tool_call":
            texts.append(f"[tool call: {part.get('name', '')}]")
        elif kind == "tool_call_response":
            response = part.get("response", part.get("result"))
            texts.append(response if isinstance(response, str) else orjson.dumps(response).decode())
    return "\n".join(texts)


def _json_messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [{"role": "user", "content": value}] if value.strip() else []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise RecordError("bad_message", "gen_ai messages attribute is not a list")
    out = []
    for message in value:
        if not isinstance(message, dict):
            raise RecordError("bad_message", "gen_ai message is not an object")
        text = _parts_text(message)
        if text.strip():
            out.append({"role": role_of(message.get("role", "user")), "content": text})
    return out


def _indexed_messages(attrs: dict[str, Any], kind: str) -> list[dict[str, str]]:
    slots: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _INDEXED.match(key)
        if match and match.group(1) == kind:
            slot = slots.setdefault(int(match.group(2)), {"tools": []})
            if match.group(3).startswith("tool_calls"):
                slot["tools"].append(str(value))
            else:
                slot[match.group(3)] = value
    out = []
    for index in sorted(slots):
        slot = slots[index]
        content = slot.get("content")
        text: str = content if isinstance(content, str) else ""
        if slot["tools"]:
            text = (text + "\n" if text else "") + "[tool call: " + ", ".join(slot["tools"]) + "]"
        if text.strip():
            default = "user" if kind == "prompt" else "assistant"
            out.append({"role": role_of(slot.get("role") or default), "content": text})
    return out


def _event_messages(events: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    inputs: list[dict[str, str]] = []
    outputs: list[dict[str, str]] = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        name = event.get("name")
        attrs = attributes(event.get("attributes", []))
        if name in _EVENT_ROLES:
            body: Any = attrs.get("message") or attrs.get("gen_ai.event.content") or attrs
            if isinstance(body, str):
                try:
                    body = orjson.loads(body)
                except orjson.JSONDecodeError:
                    body = {"content": body}
            text = _parts_text(body) if isinstance(body, dict) else ""
            if text.strip():
                message = {"role": _EVENT_ROLES[name], "content": text}
                (outputs if name == "gen_ai.choice" else inputs).append(message)
        elif name == "gen_ai.content.prompt":
            inputs.extend(_json_messages(attrs.get("gen_ai.prompt", "")))
        elif name == "gen_ai.content.completion":
            completion = _json_messages(attrs.get("gen_ai.completion", ""))
            outputs.extend({"role": "assistant", "content": m["content"]} for m in completion)
    return inputs, outputs


def span_messages(span: dict[str, Any], attrs: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(input messages, output messages) of one span, whichever convention it uses."""
    inputs = _json_messages(attrs["gen_ai.input.messages"]) if "gen_ai.input.messages" in attrs else []
    outputs = _json_messages(attrs["gen_ai.output.messages"]) if "gen_ai.output.messages" in attrs else []
    if "gen_ai.system_instructions" in attrs and not any(m["role"] == "system" for m in inputs):
        inputs = _json_messages([{"role": "system", "parts": attrs["gen_ai.system_instructions"]}]
                                if isinstance(attrs["gen_ai.system_instructions"], list) else
                                [{"role": "system", "content": str(attrs["gen_ai.system_instructions"])}]) + inputs
    inputs += _indexed_messages(attrs, "prompt")
    outputs += _indexed_messages(attrs, "completion")
    event_in, event_out = _event_messages(span.get("events"))
    return inputs + event_in, outputs + event_out


def _is_chat_span(span: dict[str, Any], attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name") or attrs.get("llm.request.type")
    if operation in _CHAT_OPERATIONS:
        return True
    if operation is not None:
        return False
    return any(k.startswith(("gen_ai.prompt", "gen_ai.input", "gen_ai.usage")) for k in attrs) or any(
        isinstance(e, dict) and str(e.get("name", "")).startswith("gen_ai.") for e in span.get("events") or []
    )


class Otlp(Adapter):
    name = "otlp"
    description = "OpenTelemetry GenAI spans, OTLP/JSON (one request per file or per line)"

    def sniff(self, head: bytes, source: Source) -> bool:
        return head.lstrip()[:1] == b"{" and b'"resourceSpans"' in head

    def read(self, source: Source, max_record_bytes: int) -> Iterator[Output]:
        self.skipped = 0
        try:
            lines = list(_requests(source, max_record_bytes))
        except TruncatedInput as exc:
            yield Quarantined(source.name, f"{source.name}:end", "truncated_input", str(exc), "")
            return
        for location, data in lines:
            if data is None:
                yield Quarantined(source.name, location, "record_too_large", f"> {max_record_bytes} bytes", "")
                continue
            try:
                request = decode_json(data)
                if not isinstance(request, dict) or not isinstance(request.get("resourceSpans"), list):
                    raise RecordError("missing_field", "no 'resourceSpans' list")
                conversations = list(self._conversations(request, location))
            except RecordError as err:
                yield self._quarantine(source, location, err, data)
                continue
            except SHAPE_ERRORS as exc:
                yield self._quarantine(source, location, unexpected(exc), data)
                continue
            yield from conversations

    def _conversations(self, request: dict[str, Any], location: str) -> Iterator[Output]:
        groups: dict[str, list[tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]]] = {}
        for r_index, resource_spans in enumerate(request["resourceSpans"]):
            if not isinstance(resource_spans, dict):
                raise RecordError("bad_field_type", f"resourceSpans[{r_index}] is not an object")
            resource = attributes((resource_spans.get("resource") or {}).get("attributes", []))
            for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []:
                for span in (scope_spans or {}).get("spans") or []:
                    if not isinstance(span, dict):
                        raise RecordError("bad_field_type", "span is not an object")
                    attrs = attributes(span.get("attributes", []))
                    if not _is_chat_span(span, attrs):
                        self.skipped += 1
                        continue
                    key = str(attrs.get("gen_ai.conversation.id") or attrs.get("session.id")
                              or resource.get("session.id") or span.get("traceId") or span.get("spanId"))
                    start = as_int(span.get("startTimeUnixNano"), "startTimeUnixNano") or 0
                    groups.setdefault(key, []).append((start, span, attrs, resource))
        for key, spans in groups.items():
            spans.sort(key=lambda s: s[0])
            messages: list[dict[str, str]] = []
            tokens_in = tokens_out = 0
            identity = model = tool = None
            for _, span, attrs, resource in spans:
                inputs, outputs = span_messages(span, attrs)
                if inputs[: len(messages)] == messages:
                    messages = list(inputs)
                else:
                    messages += [m for m in inputs if m not in messages]
                messages += outputs
                tokens_in += as_int(attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")), "input_tokens") or 0
                tokens_out += as_int(attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")), "output_tokens") or 0
                identity = identity or next((str(a[k]) for a in (attrs, resource) for k in _IDENTITY_KEYS if a.get(k)), None)
                model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model") or model
                tool = tool or resource.get("service.name")
            yield conversation(
                self.name,
                f"{location}#{key}",
                messages,
                source_id=key,
                identity=identity,
                tool=str(tool) if tool else None,
                model=str(model) if model else None,
                started_at=parse_timestamp(spans[0][0] or None),
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                require_messages=False,
            )


def _requests(source: Source, max_record_bytes: int) -> Iterator[tuple[str, bytes | None]]:
    """One OTLP request per non-blank line (the file exporter's JSONL), or the whole file."""
    lines = source.lines(max_record_bytes)
    first = next(lines, None)
    if first is None:
        return
    try:
        whole_line = first.data is not None and isinstance(orjson.loads(first.data), dict)
    except orjson.JSONDecodeError:
        whole_line = False
    if whole_line:
        yield f"{source.name}:{first.number}", first.data
        for line in lines:
            if line.data is None or line.data.strip():
                yield f"{source.name}:{line.number}", line.data
        return
    with source.open() as f:
        data = f.read(max_record_bytes + 1)
    yield f"{source.name}:1", None if len(data) > max_record_bytes else data
