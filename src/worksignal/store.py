"""The DuckDB store: canonical tables, forward migrations, and idempotent batch writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from worksignal.config import setting
from worksignal.errors import StoreError
from worksignal.ingest.base import Quarantined

#: Forward migrations: index i brings a store from version i to i+1. Never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE people (
        person_key VARCHAR PRIMARY KEY,
        team VARCHAR,
        org_path VARCHAR,
        manager_key VARCHAR,
        role VARCHAR,
        opted_out BOOLEAN NOT NULL DEFAULT FALSE,
        excluded BOOLEAN NOT NULL DEFAULT FALSE,
        source VARCHAR NOT NULL
    );
    CREATE TABLE conversations (
        conversation_id VARCHAR PRIMARY KEY,
        person_key VARCHAR,
        source_format VARCHAR NOT NULL,
        source_id VARCHAR,
        source_location VARCHAR NOT NULL,
        team VARCHAR,
        tool VARCHAR,
        model VARCHAR,
        started_at TIMESTAMPTZ,
        n_messages INTEGER NOT NULL,
        n_user_turns INTEGER NOT NULL,
        tokens_in BIGINT,
        tokens_out BIGINT,
        cost DOUBLE,
        content_hash VARCHAR NOT NULL
    );
    CREATE TABLE messages (
        conversation_id VARCHAR NOT NULL,
        idx INTEGER NOT NULL,
        role VARCHAR NOT NULL,
        content VARCHAR
    );
    CREATE TABLE labels (
        conversation_id VARCHAR PRIMARY KEY,
        work_probability REAL,
        work BOOLEAN,
        topic VARCHAR,
        topic_group VARCHAR,
        intent VARCHAR,
        tier VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL
    );
    CREATE TABLE flags (
        conversation_id VARCHAR PRIMARY KEY,
        pii_counts MAP(VARCHAR, INTEGER),
        secrets INTEGER,
        trivial BOOLEAN,
        duplicate_cluster VARCHAR
    );
    CREATE TABLE outcomes (
        event_id VARCHAR PRIMARY KEY,
        team VARCHAR,
        person_key VARCHAR,
        kind VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ,
        value DOUBLE,
        source VARCHAR
    );
    CREATE TABLE quarantine (
        quarantine_id VARCHAR PRIMARY KEY,
        source VARCHAR NOT NULL,
        location VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        detail VARCHAR,
        excerpt VARCHAR
    );
    CREATE TABLE ingest_runs (
        run_id VARCHAR PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        paths VARCHAR[],
        ingested BIGINT,
        updated BIGINT,
        unchanged BIGINT,
        quarantined BIGINT,
        status VARCHAR NOT NULL
    );
    """,
    """
    CREATE TABLE audit_log (
        asked_at TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        command VARCHAR NOT NULL,
        detail VARCHAR
    );
    """,
    """
    CREATE TABLE scan_spans (
        conversation_id VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        span_start INTEGER NOT NULL,
        span_end INTEGER NOT NULL,
        type VARCHAR NOT NULL,
        detector VARCHAR NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

#: Tables holding data (not run bookkeeping): what "same store content" compares.
DATA_TABLES = ("people", "conversations", "messages", "labels", "flags", "scan_spans", "outcomes", "quarantine")

_CONVERSATION_COLUMNS = (
    "conversation_id, person_key, source_format, source_id, location AS source_location, team, tool, "
    "model, started_at, n_messages, n_user_turns, tokens_in, tokens_out, cost, content_hash"
)
_LABEL_COLUMNS = "conversation_id, work_probability, work, topic, topic_group, intent, tier, model_version"


@dataclass
class WriteCounts:
    """What happened to the records of one or more batches."""

    ingested: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: WriteCounts) -> None:
        self.ingested += other.ingested
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.skipped += other.skipped
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n


class Store:
    """One DuckDB file. Each batch is written in one transaction, so a killed run leaves
    only whole batches behind and a re-run converges to the same content."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}; run `worksignal ingest` first or pass --store.")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open store {self.path}: {exc}. If another worksignal is using it, "
                "wait for it to finish."
            ) from exc
        self.con.execute("SET preserve_insertion_order = false")
        try:
            self.con.execute(f"SET memory_limit = '{setting('memory_limit')}'")
        except duckdb.Error as exc:
            raise StoreError(
                f"memory_limit {setting('memory_limit')!r} is not a size DuckDB understands "
                f"({exc}); use a value like 512MB or 4GB."
            ) from exc
        if not read_only:
            self.migrate()
        elif self.version() != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} is at schema version {self.version()}, this worksignal "
                f"expects {SCHEMA_VERSION}; run any writing command (e.g. `worksignal ingest`) to migrate."
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} is at schema version {current}, newer than this worksignal "
                f"({SCHEMA_VERSION}); upgrade worksignal."
            )
        for version in range(current, SCHEMA_VERSION):
            with self.transaction() as con:
                con.execute(MIGRATIONS[version])
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version + 1)])

    # -- writes ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic write: a killed run leaves whole transactions or nothing."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _register_numbered(self, name: str, batch: pa.RecordBatch) -> None:
        """Expose a batch to SQL with its row order as `_row` (later rows win duplicates)."""
        table = pa.Table.from_batches([batch]).append_column("_row", pa.array(range(batch.num_rows), pa.int64()))
        self.con.register(name, table)

    def write_conversations(self, batch: pa.RecordBatch, quarantined: Iterable[Quarantined]) -> WriteCounts:
        """Insert new conversations, update changed ones in place, record quarantine; atomically."""
        counts = WriteCounts()
        con = self.con
        with self.transaction():
            counts.quarantined = self._write_quarantine(quarantined, counts.reasons)
            if batch.num_rows:
                self._register_numbered("_batch", batch)
                # Within a batch, the version with most messages wins, then the later line.
                con.execute(
                    """
                    CREATE OR REPLACE TEMP TABLE _incoming AS
                    SELECT * FROM _batch
                    QUALIFY row_number() OVER (
                        PARTITION BY conversation_id ORDER BY n_messages DESC, _row DESC) = 1
                    """
                )
                con.execute(
                    """
                    CREATE OR REPLACE TEMP TABLE _status AS
                    SELECT i.conversation_id,
                           CASE WHEN c.conversation_id IS NULL THEN 'new'
                                WHEN c.content_hash = i.content_hash THEN 'same'
                                WHEN i.n_messages < c.n_messages THEN 'stale'
                                ELSE 'changed' END AS status
                    FROM _incoming i LEFT JOIN conversations c USING (conversation_id)
                    """
                )
                row = con.execute(
                    """
                    SELECT count(*) FILTER (WHERE status = 'new'),
                           count(*) FILTER (WHERE status = 'changed'),
                           count(*) FILTER (WHERE status IN ('same', 'stale'))
                    FROM _status
                    """
                ).fetchone()
                assert row is not None
                counts.ingested, counts.updated, counts.unchanged = row
                # Superseded duplicates inside the batch were read, not lost: count them.
                counts.unchanged += batch.num_rows - (counts.ingested + counts.updated + counts.unchanged)
                if counts.updated:
                    for table_name in ("messages", "labels", "flags", "scan_spans", "conversations"):
                        con.execute(
                            f"DELETE FROM {table_name} WHERE conversation_id IN "
                            "(SELECT conversation_id FROM _status WHERE status = 'changed')"
                        )
                if counts.ingested or counts.updated:
                    con.execute(
                        "CREATE OR REPLACE TEMP TABLE _write AS SELECT i.* FROM _incoming i "
                        "JOIN _status s USING (conversation_id) WHERE s.status IN ('new', 'changed')"
                    )
                    con.execute(f"INSERT INTO conversations SELECT {_CONVERSATION_COLUMNS} FROM _write")
                    con.execute(
                        """
                        INSERT INTO messages
                        SELECT conversation_id, idx - 1, m.role, m.content FROM (
                            SELECT conversation_id, unnest(messages) AS m,
                                   generate_subscripts(messages, 1) AS idx
                            FROM _write)
                        """
                    )
                    if "tier" in batch.schema.names:
                        con.execute(
                            f"INSERT INTO labels SELECT {_LABEL_COLUMNS} FROM _write WHERE tier IS NOT NULL"
                        )
                    if "scan_spans" in batch.schema.names:
                        self._insert_scan("_write")
                    con.execute(
                        """
                        INSERT INTO people (person_key, team, source)
                        SELECT person_key, arg_min(team, _row), 'log' FROM _write
                        WHERE person_key IS NOT NULL GROUP BY person_key
                        ON CONFLICT DO NOTHING
                        """
                    )
        return counts

    def _insert_scan(self, table: str) -> None:
        self.con.execute(
            f"INSERT INTO flags (conversation_id, pii_counts, secrets) "
            f"SELECT conversation_id, pii_counts, secrets FROM {table} WHERE user_text <> ''"
        )
        self.con.execute(
            f"""
            INSERT INTO scan_spans
            SELECT conversation_id, s.field, s.start, s."end", s.type, s.detector
            FROM (SELECT conversation_id, unnest(scan_spans) AS s FROM {table})
            """
        )

    def write_scan(self, batch: pa.RecordBatch) -> None:
        """Replace the flags and spans of the batch's conversations."""
        with self.transaction() as con:
            con.register("_scan", pa.Table.from_batches([batch]))
            for table_name in ("flags", "scan_spans"):
                con.execute(f"DELETE FROM {table_name} WHERE conversation_id IN (SELECT conversation_id FROM _scan)")
            self._insert_scan("_scan")

    def write_labels(self, batch: pa.RecordBatch) -> None:
        """Replace the labels of the batch's conversations (rows without a tier get none)."""
        con = self.con
        with self.transaction():
            con.register("_labels", pa.Table.from_batches([batch]))
            con.execute("DELETE FROM labels WHERE conversation_id IN (SELECT conversation_id FROM _labels)")
            con.execute(f"INSERT INTO labels SELECT {_LABEL_COLUMNS} FROM _labels WHERE tier IS NOT NULL")

    def write_people(self, batch: pa.RecordBatch, quarantined: Iterable[Quarantined]) -> WriteCounts:
        """Upsert directory rows; the directory wins over teams seen in logs."""
        counts = WriteCounts()
        con = self.con
        with self.transaction():
            counts.quarantined = self._write_quarantine(quarantined, counts.reasons)
            if batch.num_rows:
                self._register_numbered("_people", batch)
                con.execute(
                    """
                    CREATE OR REPLACE TEMP TABLE _incoming_people AS
                    SELECT * FROM _people
                    QUALIFY row_number() OVER (PARTITION BY person_key ORDER BY _row DESC) = 1
                    """
                )
                row = con.execute(
                    """
                    SELECT count(*) FILTER (WHERE p.person_key IS NULL),
                           count(*) FILTER (WHERE p.person_key IS NOT NULL AND (
                               p.source <> 'directory'
                               OR p.team IS DISTINCT FROM i.team
                               OR p.manager_key IS DISTINCT FROM i.manager_key
                               OR p.role IS DISTINCT FROM i.role
                               OR p.opted_out <> i.opted_out OR p.excluded <> i.excluded))
                    FROM _incoming_people i LEFT JOIN people p USING (person_key)
                    """
                ).fetchone()
                assert row is not None
                counts.ingested, counts.updated = row
                counts.unchanged = batch.num_rows - counts.ingested - counts.updated
                con.execute(
                    """
                    INSERT INTO people (person_key, team, manager_key, role, opted_out, excluded, source)
                    SELECT person_key, team, manager_key, role, opted_out, excluded, 'directory'
                    FROM _incoming_people
                    ON CONFLICT (person_key) DO UPDATE SET
                        team = excluded.team, manager_key = excluded.manager_key,
                        role = excluded.role, opted_out = excluded.opted_out,
                        excluded = excluded.excluded, source = 'directory'
                    """
                )
                self._refresh_org_paths()
                for table_name in ("labels", "flags"):  # opted out or excluded: no content analysis kept
                    con.execute(
                        f"DELETE FROM {table_name} WHERE conversation_id IN (SELECT c.conversation_id "
                        "FROM conversations c JOIN people p USING (person_key) WHERE p.opted_out OR p.excluded)"
                    )
        return counts

    def _refresh_org_paths(self) -> None:
        """org_path = the chain of manager keys from the top down to the person."""
        self.con.execute(
            """
            UPDATE people SET org_path = t.path FROM (
                WITH RECURSIVE chain(person_key, path, depth) AS (
                    SELECT person_key, person_key, 0 FROM people
                    UNION ALL
                    SELECT c.person_key, m.manager_key || '/' || c.path, c.depth + 1
                    FROM chain c JOIN people m ON m.person_key = split_part(c.path, '/', 1)
                    WHERE m.manager_key IS NOT NULL AND c.depth < 50
                      AND position(m.manager_key IN c.path) = 0
                )
                SELECT person_key, arg_max(path, depth) AS path FROM chain GROUP BY person_key
            ) t WHERE people.person_key = t.person_key
            """
        )

    def _write_quarantine(self, quarantined: Iterable[Quarantined], reasons: dict[str, int]) -> int:
        rows = []
        for q in quarantined:
            reasons[q.reason] = reasons.get(q.reason, 0) + 1
            rows.append((quarantine_id(q), q.source, q.location, q.reason, q.detail[:500], q.excerpt))
        if rows:
            self.con.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
            )
        return len(rows)

    # -- run bookkeeping ------------------------------------------------------------------

    def start_run(self, run_id: str, paths: list[str]) -> None:
        self.con.execute(
            "INSERT INTO ingest_runs (run_id, started_at, paths, status) VALUES (?, now(), ?, 'running')",
            [run_id, paths],
        )

    def finish_run(self, run_id: str, counts: WriteCounts, status: str) -> None:
        self.con.execute(
            "UPDATE ingest_runs SET finished_at = now(), ingested = ?, updated = ?, unchanged = ?, "
            "quarantined = ?, status = ? WHERE run_id = ?",
            [counts.ingested, counts.updated, counts.unchanged, counts.quarantined, status, run_id],
        )

    # -- reads ----------------------------------------------------------------------------

    def audit(self, actor: str, role: str, command: str, detail: str = "") -> None:
        """Record who asked what, and when (every query by a role other than employee-self)."""
        self.con.execute("INSERT INTO audit_log VALUES (now(), ?, ?, ?, ?)", [actor, role, command, detail])

    def purge_content(self, older_than_days: int) -> dict[str, int]:
        """Drop raw message content of conversations that started before the cut-off; labels
        and counts stay."""
        with self.transaction() as con:
            row = con.execute(
                """
                SELECT count(*) FROM messages WHERE content IS NOT NULL AND conversation_id IN (
                    SELECT conversation_id FROM conversations
                    WHERE started_at < now() - to_days(CAST(? AS INTEGER)))
                """, [older_than_days]).fetchall()[0]
            con.execute(
                """
                UPDATE messages SET content = NULL WHERE content IS NOT NULL AND conversation_id IN (
                    SELECT conversation_id FROM conversations
                    WHERE started_at < now() - to_days(CAST(? AS INTEGER)))
                """, [older_than_days])
        return {"messages_purged": int(row[0])}

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def fingerprint(self) -> dict[str, str]:
        """An order-independent digest of every data table: equal digests, equal content."""
        out = {}
        for table in DATA_TABLES:
            row = self.con.execute(
                f"SELECT count(*)::VARCHAR || ':' || coalesce(sum(hash(t)::HUGEINT)::VARCHAR, '0') FROM {table} t"
            ).fetchone()
            out[table] = row[0] if row else ""
        return out


def quarantine_id(q: Quarantined) -> str:
    """Stable per location and reason: re-ingesting a bad file adds no rows."""
    return hashlib.blake2b(f"{q.location}\x00{q.reason}".encode(), digest_size=16).hexdigest()
