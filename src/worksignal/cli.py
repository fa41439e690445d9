"""The `worksignal` command: a thin layer over the library; errors are rendered here, once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from worksignal.config import SETTINGS, setting
from worksignal.errors import NothingReadError, WorksignalError

app = typer.Typer(
    help="Honest, privacy-first measurement of how a company uses AI assistants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

StoreOption = Annotated[
    Path, typer.Option("--store", help=SETTINGS["store"].help, envvar=SETTINGS["store"].env)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DEFAULT_STORE = Path(SETTINGS["store"].default)


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to read (gzip accepted).")],
    store: StoreOption = DEFAULT_STORE,
    format: Annotated[
        str | None, typer.Option("--format", help="Source format; detected from content if omitted. See `worksignal formats`.")
    ] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="CSV/Parquet column=field, e.g. --map prompt_text=text (repeatable).")
    ] = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="Email or id of the owner of a personal ChatGPT/Claude export.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help=SETTINGS["batch_size"].help)] = None,
    json: JsonOption = False,
) -> None:
    """Read AI-assistant logs into the store; bad records go to quarantine with a reason.

    Example: worksignal ingest logs/ people.csv --store org.duckdb
    """
    from worksignal.ingest import parse_mapping
    from worksignal.pipeline import ingest as run_ingest
    from worksignal.store import Store

    mapping = parse_mapping(map_)
    with Store(store) as db, Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=err, transient=json, disable=not err.is_terminal and json,
    ) as bar:
        def on_file(path: Path, size: int) -> Callable[[int], None]:
            task = bar.add_task(path.name[:40], total=size)
            return lambda done: bar.update(task, completed=done)

        try:
            report = run_ingest(paths, db, format=format, mapping=mapping, identity=identity,
                                batch_size=batch_size, on_file=on_file)
        except NothingReadError as exc:
            if json and hasattr(exc, "report"):
                _print_json({**exc.report.as_json(), "error": str(exc)})
            raise
    if json:
        _print_json(report.as_json())
        return
    out.print(
        f"ingested {report.ingested:,}, updated {report.updated:,}, unchanged {report.unchanged:,}, "
        f"quarantined {report.quarantined:,}" + (f", skipped {report.skipped:,} non-chat spans" if report.skipped else "")
    )
    for reason, n in sorted(report.reasons.items()):
        out.print(f"  quarantine: {n:,} {reason}")


@app.command()
def report(
    store: StoreOption = DEFAULT_STORE,
    min_group_size: Annotated[int | None, typer.Option(help=SETTINGS["min_group_size"].help)] = None,
    json: JsonOption = False,
) -> None:
    """Print the report: volumes, work share, teams above the group floor, quarantine.

    Example: worksignal report --store org.duckdb --json
    """
    from worksignal.report.summary import summary
    from worksignal.report.terminal import render
    from worksignal.store import Store

    with Store(store, read_only=True) as db:
        data = summary(db, min_group_size=setting("min_group_size", min_group_size))
    if json:
        _print_json(data)
    else:
        render(data, out)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the organisation into.")],
    people: Annotated[int, typer.Option(help="Number of people.", min=1)] = 200,
    days: Annotated[int, typer.Option(help="Number of days of logs.", min=1)] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same files.")] = 7,
    quota: Annotated[int, typer.Option(help="Daily AI-usage quota (conversations per workday).", min=0)] = 5,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-09-01",
) -> None:
    """Write a synthetic organisation: conversations.jsonl, people.csv, outcomes.csv, truth/.

    Example: worksignal simulate --out demo --people 300 --days 30 --seed 7
    """
    from worksignal.simulate import simulate as run_simulate

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise WorksignalError(f"--start {start!r} is not a date; use YYYY-MM-DD.") from None
    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("day {task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task("days", total=days)
        counts = run_simulate(out_dir, people=people, days=days, seed=seed, quota=quota, start=first_day,
                              on_day=lambda d: bar.update(task, completed=d))
    err.print(
        f"wrote {counts['conversations']:,} conversations by {counts['people']:,} people in "
        f"{counts['teams']} teams, and {counts['outcomes']:,} outcome events, to {out_dir} "
        f"(ground truth in {out_dir / 'truth'})"
    )


@app.command()
def quarantine(
    store: StoreOption = DEFAULT_STORE,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    limit: Annotated[int, typer.Option(help="Most rows to print.")] = 50,
    json: JsonOption = False,
) -> None:
    """List quarantined records with their location and reason (excerpts are redacted).

    Example: worksignal quarantine --reason invalid_json
    """
    from worksignal.store import Store

    with Store(store, read_only=True) as db:
        rows = db.query(
            "SELECT location, reason, detail, excerpt FROM quarantine WHERE ? IS NULL OR reason = ? "
            "ORDER BY location LIMIT ?", [reason, reason, limit])
    records = [dict(zip(("location", "reason", "detail", "excerpt"), r, strict=True)) for r in rows]
    if json:
        _print_json(records)
        return
    table = Table(title="Quarantine")
    for column in ("location", "reason", "detail"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(r["location"], r["reason"], r["detail"])
    out.print(table)


@app.command()
def formats() -> None:
    """List the source formats `ingest` reads, for --format.

    Example: worksignal formats
    """
    from worksignal.ingest import ADAPTERS

    table = Table(title="Source formats")
    table.add_column("format")
    table.add_column("feeds")
    table.add_column("description")
    for name, adapter in ADAPTERS.items():
        table.add_row(name, adapter.kind, adapter.description)
    out.print(table)


@app.command()
def settings() -> None:
    """List every setting with its default and environment variable.

    Example: worksignal settings
    """
    table = Table(title="Settings")
    for column in ("setting", "environment variable", "default", "help"):
        table.add_column(column, overflow="fold")
    for s in SETTINGS.values():
        table.add_row(s.name, s.env, str(s.default), s.help)
    out.print(table)


def main() -> None:
    """Entry point: run the app and render worksignal errors as one clear line."""
    try:
        app()
    except WorksignalError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(exc.exit_code) from None
