"""Opt-out and exclusion: opted-out and excluded people get no content analysis.

The stage blanks their text before the classifier sees it (so no label is stored), and
`optout` removes labels and flags already stored for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from worksignal.privacy.pseudonym import Pseudonymiser

if TYPE_CHECKING:  # the stage runs in parser processes, which should not load DuckDB
    from worksignal.store import Store

PERSON_KEY_CHARS = 24


def withheld_keys(store: Store) -> set[str]:
    return {key for (key,) in store.query("SELECT person_key FROM people WHERE opted_out OR excluded")}


class WithholdContent:
    """Stage: rows of opted-out or excluded people lose their text before analysis."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = pa.array(sorted(keys), pa.string())

    @classmethod
    def from_store(cls, store: Store) -> WithholdContent:
        return cls(withheld_keys(store))

    def refresh(self, store: Store) -> None:
        """Re-read the list, e.g. after a people directory was ingested in the same run."""
        self.keys = pa.array(sorted(withheld_keys(store)), pa.string())

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not len(self.keys) or "person_key" not in batch.schema.names:
            return batch
        withheld = pc.fill_null(pc.is_in(batch.column("person_key"), value_set=self.keys), False)
        for name in ("user_text", "context_text"):
            if name in batch.schema.names:
                index = batch.schema.get_field_index(name)
                blank = pc.if_else(withheld, pa.scalar("", pa.string()), batch.column(name))
                batch = batch.set_column(index, name, blank)
        return batch


def resolve_person(identity: str, pseudonymise: Pseudonymiser) -> str:
    """A person key given as itself (24 hex characters) or as an email / user id."""
    text = identity.strip()
    if len(text) == PERSON_KEY_CHARS and all(c in "0123456789abcdef" for c in text):
        return text
    key = pseudonymise.person_key(text)
    assert key is not None
    return key


def set_opt_out(store: Store, person_key: str, opted_out: bool) -> dict[str, int]:
    """Record the choice; on opt-out, delete the person's labels and flags."""
    with store.transaction() as con:
        con.execute(
            "INSERT INTO people (person_key, opted_out, source) VALUES (?, ?, 'optout') "
            "ON CONFLICT (person_key) DO UPDATE SET opted_out = excluded.opted_out",
            [person_key, opted_out],
        )
        removed = 0
        if opted_out:
            removed = con.execute(
                "SELECT count(*) FROM labels WHERE conversation_id IN "
                "(SELECT conversation_id FROM conversations WHERE person_key = ?)", [person_key]
            ).fetchall()[0][0]
            for table in ("labels", "flags"):
                con.execute(f"DELETE FROM {table} WHERE conversation_id IN "
                            "(SELECT conversation_id FROM conversations WHERE person_key = ?)", [person_key])
    return {"labels_removed": int(removed)}
