"""People directory CSV: id or email, team, manager, role, opted_out, excluded."""

from __future__ import annotations

from typing import Any

from worksignal.ingest.base import Record, RecordError
from worksignal.ingest.source import Source
from worksignal.ingest.tabular import CsvRows

_IDENTITY = ("email", "user_email", "id", "user_id", "user", "employee_id")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}


def _flag(value: Any, field: str) -> bool:
    text = str(value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RecordError("bad_field_type", f"{field} must be true/false, got {text[:20]!r}")


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


class PeopleDirectory(CsvRows):
    name = "people"
    kind = "people"
    description = "people directory CSV: email or id, team, manager, role, opted_out, excluded"

    def sniff(self, head: bytes, source: Source) -> bool:
        header = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
        columns = {c.strip().strip('"') for c in header.split(",")}
        return "team" in columns and bool(columns & set(_IDENTITY)) and not columns & {
            "text", "prompt", "messages", "spend", "request_id", "content"}

    def parse(self, row: dict[str, Any], location: str) -> Record:
        identity = next((_clean(row[k]) for k in _IDENTITY if _clean(row.get(k))), None)
        if identity is None:
            raise RecordError("missing_field", "row has no email or id")
        return {
            "identity": identity,
            "team": _clean(row.get("team")),
            "manager": _clean(row.get("manager") or row.get("manager_email") or row.get("manager_id")),
            "role": _clean(row.get("role") or row.get("job_family")),
            "opted_out": _flag(row.get("opted_out"), "opted_out"),
            "excluded": _flag(row.get("excluded"), "excluded"),
            "location": location,
        }
