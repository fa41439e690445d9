"""Stage composition and the local runner: files to canonical batches to the store.

A stage is a callable from an Arrow RecordBatch to an Arrow RecordBatch. The runner owns
the side effects (reading files, writing the store); stages stay pure so that another
runner (Ray Data's map_batches) can run the same ones.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from worksignal.classify.stage import classify_stage
from worksignal.config import setting
from worksignal.errors import NothingReadError, UsageError
from worksignal.ingest import Adapter, Quarantined, Source, detect, make_adapter
from worksignal.ingest.base import JsonLinesAdapter
from worksignal.ingest.source import Line, TruncatedInput
from worksignal.normalise import normalise, normalise_people, parse_block
from worksignal.privacy.optout import WithholdContent
from worksignal.privacy.pseudonym import Pseudonymiser, load_key
from worksignal.privacy.scan import ScanStage
from worksignal.schema import RAW_CONVERSATION
from worksignal.store import Store, WriteCounts

Stage = Callable[[pa.RecordBatch], pa.RecordBatch]
Progress = Callable[[int], None]
PARALLEL_MIN_BYTES = 32 << 20  # below this, starting worker processes costs more than it saves


def run_stages(batch: pa.RecordBatch, stages: Sequence[Stage]) -> pa.RecordBatch:
    for stage in stages:
        batch = stage(batch)
    return batch


@dataclass
class IngestReport(WriteCounts):
    """Counts for a whole ingest run, plus per-file detail."""

    files: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "ingested": self.ingested,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "quarantine_reasons": dict(sorted(self.reasons.items())),
            "files": self.files,
        }


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files under folders named (sorted, hidden ones left out)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}. Check the path and try again.")
    return out


def _batches(outputs: Iterator[Any], size: int) -> Iterator[tuple[list[dict[str, Any]], list[Quarantined]]]:
    records: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    for output in outputs:
        if isinstance(output, Quarantined):
            quarantined.append(output)
        else:
            records.append(output)
        if len(records) >= size or len(quarantined) >= size:
            yield records, quarantined
            records, quarantined = [], []
    if records or quarantined:
        yield records, quarantined


class LocalRunner:
    """Streams each file through the stages in bounded batches, one transaction per batch."""

    def __init__(self, store: Store, stages: Sequence[Stage], person_stages: Sequence[Stage],
                 batch_size: int, max_record_bytes: int, workers: int = 1, worker_stages: int = 0) -> None:
        self.workers = workers
        self.worker_stages = worker_stages  # leading stages that are pure and picklable
        self.store = store
        self.stages = stages
        self.person_stages = person_stages
        self.batch_size = batch_size
        self.max_record_bytes = max_record_bytes

    def run_file(self, source: Source, adapter: Adapter, progress: Progress | None = None) -> WriteCounts:
        """Parse batch k+1 while batch k runs through the stages and into the store.

        DuckDB and Arrow compute release the GIL, so the two overlap; large line-based
        files are also parsed by a pool of processes. At most a few batches are alive at
        once, which bounds memory.
        """
        counts = WriteCounts()
        write = self._write_people if adapter.kind == "people" else self._write_conversations
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="worksignal-store") as downstream:
            pending: Future[WriteCounts] | None = None
            for batch, quarantined, staged in self._parsed_batches(source, adapter):
                if pending is not None:
                    counts.add(pending.result())
                pending = downstream.submit(write, batch, quarantined, staged)
                if progress is not None:
                    progress(source.position())
            if pending is not None:
                counts.add(pending.result())
        counts.skipped += getattr(adapter, "skipped", 0)
        return counts

    def _parsed_batches(self, source: Source, adapter: Adapter) -> Iterator[tuple[pa.RecordBatch, list[Quarantined], int]]:
        """Batches with their quarantine entries and how many stages already ran on them."""
        parallel = (
            self.workers > 1
            and isinstance(adapter, JsonLinesAdapter)
            and type(adapter).read is JsonLinesAdapter.read
            and source.size >= PARALLEL_MIN_BYTES
        )
        if parallel:
            yield from self._parallel_batches(source, adapter)  # type: ignore[arg-type]
            return
        build = normalise_people if adapter.kind == "people" else normalise
        for records, quarantined in _batches(adapter.read(source, self.max_record_bytes), self.batch_size):
            yield build(records), quarantined, 0

    def _parallel_batches(self, source: Source, adapter: JsonLinesAdapter) -> Iterator[tuple[pa.RecordBatch, list[Quarantined], int]]:
        """Blocks of lines parsed (and taken through the worker stages) in worker processes,
        results taken back in file order."""
        ahead = tuple(self.stages[: self.worker_stages])
        context = multiprocessing.get_context("spawn")  # never fork a process that holds DuckDB threads
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            in_flight: deque[Future[tuple[pa.RecordBatch, list[Quarantined]]]] = deque()
            truncated: list[Quarantined] = []
            try:
                block: list[Line] = []
                for line in source.lines(self.max_record_bytes):
                    block.append(line)
                    if len(block) >= self.batch_size:
                        in_flight.append(pool.submit(parse_block, adapter, source.name, block, self.max_record_bytes, ahead))
                        block = []
                        if len(in_flight) > self.workers:
                            yield (*in_flight.popleft().result(), len(ahead))
                if block:
                    in_flight.append(pool.submit(parse_block, adapter, source.name, block, self.max_record_bytes, ahead))
            except TruncatedInput as exc:
                if block:
                    in_flight.append(pool.submit(parse_block, adapter, source.name, block, self.max_record_bytes, ahead))
                truncated.append(Quarantined(source.name, f"{source.name}:end", "truncated_input", str(exc), ""))
            while in_flight:
                yield (*in_flight.popleft().result(), len(ahead))
            if truncated:
                yield normalise([]), truncated, 0

    def _write_conversations(self, batch: pa.RecordBatch, quarantined: list[Quarantined], staged: int) -> WriteCounts:
        return self.store.write_conversations(run_stages(batch, self.stages[staged:]), quarantined)

    def _write_people(self, batch: pa.RecordBatch, quarantined: list[Quarantined], staged: int) -> WriteCounts:
        return self.store.write_people(run_stages(batch, self.person_stages), quarantined)


def ingest(
    paths: Iterable[str | Path],
    store: Store,
    *,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    identity: str | None = None,
    key: bytes | None = None,
    batch_size: int | None = None,
    classify: bool = True,
    scan: bool = True,
    tier: str | None = None,
    on_file: Callable[[Path, int], Progress] | None = None,
) -> IngestReport:
    """Read every file into the store; raise NothingReadError if no record could be read."""
    files = expand_paths(paths)
    if not files:
        raise UsageError("no input files given; pass one or more files or folders.")
    pseudonymise = Pseudonymiser(key if key is not None else load_key())
    withhold = WithholdContent.from_store(store)
    # Pseudonymise, withhold and scan are pure per batch: large files run them in the
    # parser processes too; classify (models loaded once) runs beside the store.
    ahead: list[Stage] = [pseudonymise, withhold, *([ScanStage()] if scan else [])]
    runner = LocalRunner(
        store,
        stages=[*ahead, *([classify_stage(tier)] if classify else [])],
        person_stages=[pseudonymise],
        batch_size=setting("batch_size", batch_size),
        max_record_bytes=setting("max_record_bytes"),
        workers=setting("workers"),
        worker_stages=len(ahead),
    )
    report = IngestReport()
    run_id = uuid.uuid4().hex
    store.start_run(run_id, [str(f) for f in files])
    status = "failed"
    try:
        for path in files:
            source = Source(path)
            adapter = make_adapter(format, mapping=mapping, identity=identity) if format else detect(
                source, mapping=mapping, identity=identity)
            progress = on_file(path, source.size) if on_file else None
            if adapter is None:
                q = Quarantined(source.name, f"{source.name}:1", "unknown_format",
                                "no adapter recognised this file; pass --format", "")
                counts = store.write_conversations(pa.RecordBatch.from_pylist([], schema=RAW_CONVERSATION), [q])
                name = None
            else:
                counts = runner.run_file(source, adapter, progress)
                name = adapter.name
                if adapter.kind == "people":
                    withhold.refresh(store)
            if progress is not None:
                progress(source.size)
            report.add(counts)
            report.files.append({"path": str(path), "format": name, "ingested": counts.ingested,
                                 "updated": counts.updated, "unchanged": counts.unchanged,
                                 "quarantined": counts.quarantined, "skipped": counts.skipped})
        status = "done"
    finally:
        store.finish_run(run_id, report, status)
    if report.ingested + report.updated + report.unchanged == 0:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.reasons.items())) or "no records found"
        error = NothingReadError(
            f"nothing could be read from {len(files)} file(s): {reasons}. "
            "See `worksignal quarantine` for each record, or pass --format if detection was wrong."
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report


_TODO_WITH_TURNS = """
CREATE TABLE {name} AS
WITH todo AS ({todo}), turns AS (
    SELECT m.conversation_id, list(coalesce(m.content, '') ORDER BY m.idx) AS turns
    FROM messages m JOIN todo USING (conversation_id)
    WHERE m.role = 'user' GROUP BY m.conversation_id
)
SELECT row_number() OVER (ORDER BY t.conversation_id) AS n, t.*,
       coalesce(u.turns[1], '') AS user_text,
       coalesce(array_to_string(u.turns[2:], chr(10)), '') AS context_text
FROM todo t JOIN turns u USING (conversation_id)
"""


def _stored_batches(store: Store, name: str, todo: str, params: list[Any], size: int,
                    on_progress: Callable[[int, int], None] | None) -> Iterator[pa.RecordBatch]:
    """Stored conversations picked by `todo` (a query of conversation ids), with their user
    turns as `user_text`/`context_text`, in batches; the work list is a table, so the
    batches can be written back on the same connection while it is read."""
    con = store.con
    con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(_TODO_WITH_TURNS.format(name=name, todo=todo), params)
    total = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    try:
        for start in range(0, total, size):
            table = con.sql(f"SELECT * EXCLUDE (n) FROM {name} WHERE n > $1 AND n <= $2 ORDER BY n",
                            params=[start, start + size]).to_arrow_table()
            assert table is not None
            yield table.combine_chunks().to_batches()[0]
            if on_progress:
                on_progress(min(start + size, total), total)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def classify_store(
    store: Store,
    stage: Callable[[pa.RecordBatch], pa.RecordBatch],
    model_version: str,
    *,
    batch_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Label conversations that have no label, or a label from another model version
    (opted-out and excluded people: never)."""
    todo = """
        SELECT c.conversation_id, l.conversation_id IS NOT NULL AS relabel
        FROM conversations c LEFT JOIN labels l USING (conversation_id)
        LEFT JOIN people p ON p.person_key = c.person_key
        WHERE c.n_user_turns > 0 AND (l.conversation_id IS NULL OR l.model_version <> ?)
          AND NOT coalesce(p.opted_out OR p.excluded, FALSE)
    """
    labelled = relabelled = 0
    tiers: dict[str, int] = {}
    for batch in _stored_batches(store, "_classify_todo", todo, [model_version], setting("batch_size", batch_size),
                                 on_progress):
        relabel = np.asarray(batch.column("relabel").to_numpy(zero_copy_only=False), dtype=bool)
        relabelled += int(relabel.sum())
        labelled += int((~relabel).sum())
        result = stage(batch)
        for tier in result.column("tier").to_pylist():
            if tier is not None:
                tiers[tier] = tiers.get(tier, 0) + 1
        store.write_labels(result)
    return {"labelled": labelled, "relabelled": relabelled, "model_version": model_version,
            "tiers": dict(sorted(tiers.items()))}


def scan_store(store: Store, stage: Callable[[pa.RecordBatch], pa.RecordBatch], *, batch_size: int | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Scan stored conversations that have no flags yet (opted-out and excluded people: never)."""
    todo = """
        SELECT c.conversation_id FROM conversations c
        LEFT JOIN flags f USING (conversation_id) LEFT JOIN people p ON p.person_key = c.person_key
        WHERE f.conversation_id IS NULL AND c.n_user_turns > 0 AND NOT coalesce(p.opted_out OR p.excluded, FALSE)
    """
    scanned = flagged = 0
    for batch in _stored_batches(store, "_scan_todo", todo, [], setting("batch_size", batch_size), on_progress):
        result = stage(batch)
        scanned += result.num_rows
        flagged += sum(1 for spans in result.column("scan_spans").to_pylist() if spans)
        store.write_scan(result)
    return {"scanned": scanned, "with_findings": flagged}
