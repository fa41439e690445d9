"""The normalise stage: adapter records to the canonical Arrow batch.

Kept free of store and model imports: the parallel runner's worker processes import
only this module and the adapters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pyarrow as pa

from worksignal.ingest.base import JsonLinesAdapter, Quarantined
from worksignal.ingest.source import Line
from worksignal.schema import NORMALISED_FIELDS, PERSON, RAW_CONVERSATION

USER_TEXT_CHARS = 8000


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def normalise(records: list[dict[str, Any]]) -> pa.RecordBatch:
    """Adapter records to the canonical Arrow batch with ids, content hashes and turn counts."""
    ids, hashes, n_messages, n_user, user_text, context_text = [], [], [], [], [], []
    for r in records:
        messages = r["messages"]
        started = r["started_at"].isoformat() if r["started_at"] is not None else None
        body = orjson.dumps(
            [r["team"], r["tool"], r["model"], started, r["tokens_in"], r["tokens_out"], r["cost"], messages]
        )
        hashes.append(_digest(body))
        if r["source_id"] is not None:
            ids.append(_digest(f"{r['source_format']}\x00{r['source_id']}".encode()))
        else:
            # No id in the source: the identity, start time and opening turns name the
            # conversation, so a later copy with more turns updates it in place.
            opening = orjson.dumps([r["identity"], started, messages[:2]])
            ids.append(_digest(r["source_format"].encode() + b"\x00" + opening))
        n_messages.append(len(messages))
        users = [m["content"] for m in messages if m["role"] == "user"]
        n_user.append(len(users))
        user_text.append(users[0][:USER_TEXT_CHARS] if users else "")
        context_text.append("\n".join(users[1:])[:USER_TEXT_CHARS])
    batch = pa.RecordBatch.from_pylist(records, schema=RAW_CONVERSATION)
    for (name, dtype), values in zip(NORMALISED_FIELDS, (ids, hashes, n_messages, n_user, user_text, context_text), strict=True):
        batch = batch.append_column(name, pa.array(values, dtype))
    return batch


def normalise_people(records: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(records, schema=PERSON)


def parse_block(adapter: JsonLinesAdapter, source_name: str, lines: list[Line], max_record_bytes: int,
                stages: Sequence[Callable[[pa.RecordBatch], pa.RecordBatch]] = ()) -> tuple[pa.RecordBatch, list[Quarantined]]:
    """Lines to a normalised batch, then the leading stages that may run away from the
    store: what the parallel runner's worker processes do."""
    records: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    for line in lines:
        for output in adapter.parse_line(source_name, line, max_record_bytes):
            (quarantined if isinstance(output, Quarantined) else records).append(output)  # type: ignore[arg-type]
    batch = normalise(records)
    for stage in stages:
        batch = stage(batch)
    return batch, quarantined
