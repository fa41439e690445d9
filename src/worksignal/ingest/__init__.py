"""Ingest adapters, one module per source format, and format detection."""

from __future__ import annotations

from worksignal.errors import UsageError
from worksignal.ingest.base import Adapter, Quarantined, RecordError
from worksignal.ingest.chatgpt_export import ChatGPTExport
from worksignal.ingest.claude_export import ClaudeExport, ClaudeUsers
from worksignal.ingest.litellm import LiteLLMSpendLogs
from worksignal.ingest.openai_jsonl import OpenAIJsonl
from worksignal.ingest.otlp import Otlp
from worksignal.ingest.people import PeopleDirectory
from worksignal.ingest.source import Source
from worksignal.ingest.tabular import Table, parse_mapping

#: Order matters for detection: the most specific shapes first.
ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (OpenAIJsonl, ChatGPTExport, ClaudeExport, ClaudeUsers, Otlp, LiteLLMSpendLogs, PeopleDirectory, Table)
}


def make_adapter(name: str, *, mapping: dict[str, str] | None = None, identity: str | None = None) -> Adapter:
    if name not in ADAPTERS:
        raise UsageError(f"unknown format {name!r}; choose one of: {', '.join(ADAPTERS)}.")
    cls = ADAPTERS[name]
    if cls is Table:
        return Table(mapping)
    if cls in (ChatGPTExport, ClaudeExport):
        return cls(identity)
    return cls()


def detect(source: Source, *, mapping: dict[str, str] | None = None, identity: str | None = None) -> Adapter | None:
    """The adapter whose sniff accepts this file's first bytes, or None."""
    head = source.head()
    for name in ADAPTERS:
        adapter = make_adapter(name, mapping=mapping, identity=identity)
        if adapter.sniff(head, source):
            return adapter
    return None


__all__ = ["ADAPTERS", "Adapter", "Quarantined", "RecordError", "Source", "detect", "make_adapter", "parse_mapping"]
