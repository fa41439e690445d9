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
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from worksignal.config import SETTINGS, setting
from worksignal.errors import NothingReadError, StoreError, UsageError, WorksignalError

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
TierOption = Annotated[str | None, typer.Option("--tier", help=SETTINGS["tier"].help, envvar=SETTINGS["tier"].env)]
LlmUrlOption = Annotated[str | None, typer.Option("--llm-url", help=SETTINGS["llm_url"].help, envvar=SETTINGS["llm_url"].env)]
LlmModelOption = Annotated[str | None, typer.Option("--llm-model", help=SETTINGS["llm_model"].help, envvar=SETTINGS["llm_model"].env)]
WorkPriorOption = Annotated[
    float | None, typer.Option("--work-prior", help=SETTINGS["work_prior"].help, envvar=SETTINGS["work_prior"].env)
]
ModelDirOption = Annotated[
    str | None, typer.Option("--model-dir", help=SETTINGS["model_dir"].help, envvar=SETTINGS["model_dir"].env)
]


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
    no_classify: Annotated[bool, typer.Option("--no-classify", help="Store without labels; run `worksignal classify` later.")] = False,
    no_scan: Annotated[bool, typer.Option("--no-scan", help="Skip PII and secret scanning; run `worksignal scan` later.")] = False,
    tier: TierOption = None,
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
                                batch_size=batch_size, classify=not no_classify, scan=not no_scan,
                                tier=tier, on_file=on_file)
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
    min_conversations: Annotated[int | None, typer.Option(help=SETTINGS["min_conversations"].help)] = None,
    role: Annotated[str, typer.Option("--role", help="employee (own data), manager (own subtree), analyst "
                                      "(whole organisation) or admin (no suppression).")] = "analyst",
    viewer: Annotated[str | None, typer.Option("--as", help="Email or person key of the employee or manager "
                                               "whose view this is.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report as one HTML file here.")] = None,
    dp_epsilon: Annotated[float | None, typer.Option(help=SETTINGS["dp_epsilon"].help)] = None,
    json: JsonOption = False,
) -> None:
    """Print the report: volumes, work share, teams and weeks above the group floor, quarantine.

    Example: worksignal report --store org.duckdb --role manager --as lead@example.com --json
    """
    from worksignal.privacy.optout import resolve_person
    from worksignal.privacy.pseudonym import Pseudonymiser, load_key
    from worksignal.report.summary import PERSONAL_ROLES, summary
    from worksignal.report.terminal import render
    from worksignal.store import Store

    if not store.exists():
        raise StoreError(f"no store at {store}; run `worksignal ingest` first or pass --store.")
    if viewer and role not in PERSONAL_ROLES:
        raise UsageError(f"--as only applies to --role {' or '.join(PERSONAL_ROLES)}; drop it for --role {role}.")
    person_key = resolve_person(viewer, Pseudonymiser(load_key())) if viewer else None
    with Store(store) as db:
        data = summary(db, min_group_size=setting("min_group_size", min_group_size),
                       min_conversations=min_conversations, role=role, viewer=person_key,
                       dp_epsilon=setting("dp_epsilon", dp_epsilon))
        if role != "employee":  # a person looking at their own data is not audited
            db.audit(_actor(), role, "report",
                     f"min_group_size={data['min_group_size']}" + (f" as={person_key}" if person_key else ""))
    if html:
        from worksignal.report.html import write_html

        write_html(data, html)
        err.print(f"wrote {html}")
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
def classify(
    store: StoreOption = DEFAULT_STORE,
    tier: TierOption = None,
    model_dir: ModelDirOption = None,
    work_prior: WorkPriorOption = None,
    llm_url: LlmUrlOption = None,
    llm_model: LlmModelOption = None,
    json: JsonOption = False,
) -> None:
    """Label stored conversations that have no label, or one from another model version.

    Example: worksignal classify --store org.duckdb
    """
    from worksignal.classify.stage import classify_stage, llm_from_settings
    from worksignal.pipeline import classify_store
    from worksignal.store import Store

    stage = classify_stage(tier, model_dir, llm_from_settings(llm_url, llm_model), work_prior)
    version = getattr(stage, "version", "rules-0.1")
    with Store(store) as db, Progress(TextColumn("classifying"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=err, transient=json) as bar:
        task = bar.add_task("classify", total=None)
        result = classify_store(db, stage, version, on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json:
        _print_json(result)
    else:
        out.print(f"labelled {result['labelled']:,}, relabelled {result['relabelled']:,} with {version} "
                  f"(tiers: {', '.join(f'{k} {v:,}' for k, v in result['tiers'].items()) or 'none'})")


@app.command()
def train(
    labels: Annotated[list[Path], typer.Argument(help="JSONL files of {text, work, topic?, intent?}.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    no_corpus: Annotated[bool, typer.Option("--no-corpus", help="Leave out the project's own training corpus.")] = False,
    escalate_share: Annotated[float, typer.Option(help="Share of training texts the fast tier would pass to the accurate tier.")] = 0.2,
    deepen_share: Annotated[float, typer.Option(help="Share of training texts the accurate tier would pass on to the ensemble tier (a subset of those escalated).")] = 0.05,
    work_prior: WorkPriorOption = None,
    json: JsonOption = False,
) -> None:
    """Fit the classifier's heads from labelled texts (plus the shipped corpus) into a model folder.

    Example: worksignal train my-labels.jsonl --out my-model && worksignal classify --model-dir my-model
    """
    from worksignal.classify.train import corpus_rows, read_labelled
    from worksignal.classify.train import train as run_train

    rows = read_labelled(labels)
    sources = [p.name for p in labels]
    if not no_corpus:
        rows += corpus_rows()
        sources.append("worksignal corpus")
    if not 0 <= deepen_share <= escalate_share <= 1:
        raise UsageError("--deepen-share must lie between 0 and --escalate-share, and that between 0 and 1.")
    with err.status("training") as status:
        model = run_train(rows, out_dir, sources=sources, escalate_share=escalate_share, deepen_share=deepen_share,
                          work_prior=work_prior, progress=lambda message: status.update(message))
    if json:
        _print_json(model.manifest)
    else:
        out.print(f"wrote model {model.version} ({len(rows):,} rows) to {out_dir}; it serves at a work prior of "
                  f"{model.work_prior:g} (its labels: {model.calibration_work_share:.0%} work)")


@app.command()
def teach(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the retrained model into.")],
    store: StoreOption = DEFAULT_STORE,
    llm_url: LlmUrlOption = None,
    llm_model: LlmModelOption = None,
    sample: Annotated[int, typer.Option(help="Conversations to have the LLM label.", min=20)] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the held-out split.")] = 0,
    json: JsonOption = False,
) -> None:
    """Have the LLM label a sample of stored conversations, retrain on them, report agreement before/after.

    Example: worksignal teach --llm-url http://localhost:8000/v1 --llm-model qwen --out org-model
    """
    from worksignal.classify.stage import llm_from_settings
    from worksignal.classify.teach import teach as run_teach
    from worksignal.store import Store

    llm = llm_from_settings(llm_url, llm_model)
    if llm is None:
        raise UsageError("teach needs an LLM: pass --llm-url and --llm-model.")
    with Store(store) as db, err.status("teaching") as status:
        result = run_teach(db, llm, out_dir, sample=sample, seed=seed, progress=lambda m: status.update(m))
    if json:
        _print_json(result)
    else:
        out.print(f"LLM labelled {result['llm_labelled']:,} of {result['sampled']:,} sampled conversations; "
                  f"agreement with it on {result['held_out']:,} held out: work kappa "
                  f"{result['work_kappa_before']:.3f} before, {result['work_kappa_after']:.3f} after. "
                  f"Work share in the sample {result['work_share']:.0%}, the new model's work prior. "
                  f"Model {result['model_version']} in {result['model_dir']}: use --model-dir to apply it.")


@app.command(name="eval")
def eval_(
    labels: Annotated[Path, typer.Argument(help="JSONL of {text, work (0/1), topic?}.")],
    tier: Annotated[str, typer.Option("--tier", help="fast, accurate, ensemble, cascade or llm.")] = "cascade",
    cv: Annotated[int, typer.Option("--cv", help="K-fold cross-validation: refit heads without each scored fold (plus the corpus).")] = 0,
    model_dir: ModelDirOption = None,
    work_prior: WorkPriorOption = None,
    llm_url: LlmUrlOption = None,
    llm_model: LlmModelOption = None,
    json: JsonOption = False,
) -> None:
    """Agreement with labelled texts: kappa with a bootstrap 95% interval, F1, topic kappa, speed.

    Example: worksignal eval ../shared/data/labels/dev.jsonl --cv 5 --json
    """
    from worksignal.classify.cascade import MODES
    from worksignal.classify.evaluate import evaluate
    from worksignal.classify.model import ClassifierModel
    from worksignal.classify.stage import llm_from_settings
    from worksignal.classify.train import corpus_rows, read_labelled

    if tier not in MODES:
        raise UsageError(f"--tier must be one of {', '.join(MODES)}.")
    rows = read_labelled([labels])
    model = None if cv else ClassifierModel.load(setting("model_dir", model_dir) or None, work_prior)
    with err.status("evaluating") as status:
        result = evaluate(rows, model=model, mode=tier, cv=cv, extra_training=corpus_rows() if cv else None,
                          llm=llm_from_settings(llm_url, llm_model), work_prior=work_prior,
                          progress=lambda message: status.update(message))
    if result["overlap_with_training"]:
        err.print(f"[yellow]warning:[/yellow] {result['overlap_with_training']:,} of these texts were in the model's "
                  "training data, so this flatters it; use --cv K for an honest figure.")
    if cv and result["encoder_fine_tuned"]:
        err.print("[yellow]warning:[/yellow] the shipped encoders were tuned on the shipped labels and --cv "
                  "refits only the heads: if these texts are among those labels, the figures are flattered "
                  "(scripts/cv_recipe.py gives the honest ones).")
    if json:
        _print_json({k: v for k, v in result.items() if k != "confusion"})
        return
    table = Table(title=f"{labels.name}: {tier}" + (f", {cv}-fold cross-validation" if cv else ""), show_header=False)
    for key in ("n", "work_kappa", "work_kappa_ci", "work_accuracy", "work_f1", "topic_kappa",
                "topic_group_kappa", "tier_shares", "prompts_per_second", "work_share_true",
                "work_share_predicted", "work_prior"):
        table.add_row(key, str(result[key]))
    for lang, figures in result.get("work_kappa_by_lang", {}).items():
        table.add_row(f"work_kappa ({lang})", f"{figures['work_kappa']} (n={figures['n']})")
    out.print(table)
    c = result["confusion"]
    confusion = Table(title="work: truth (rows) by prediction (columns)")
    confusion.add_column("")
    confusion.add_column("predicted work", justify="right")
    confusion.add_column("predicted non-work", justify="right")
    confusion.add_row("work", str(c["true_work_pred_work"]), str(c["true_work_pred_nonwork"]))
    confusion.add_row("non-work", str(c["true_nonwork_pred_work"]), str(c["true_nonwork_pred_nonwork"]))
    out.print(confusion)


@app.command()
def predict(
    input_path: Annotated[Path, typer.Argument(help="JSONL with a `text` field per row (other fields kept).")],
    output: Annotated[Path, typer.Option("--output", help="JSONL to write, each row with labels added.")],
    tier: Annotated[str, typer.Option("--tier", help="fast, accurate, ensemble, cascade or llm.")] = "cascade",
    model_dir: ModelDirOption = None,
    work_prior: WorkPriorOption = None,
    llm_url: LlmUrlOption = None,
    llm_model: LlmModelOption = None,
) -> None:
    """Label texts from a JSONL file: work_probability, work, topic, topic_group, intent, tier.

    Example: worksignal predict prompts.jsonl --output labelled.jsonl
    """
    from worksignal.classify.cascade import MODES, Cascade
    from worksignal.classify.model import ClassifierModel
    from worksignal.classify.stage import llm_from_settings

    if tier not in MODES:
        raise UsageError(f"--tier must be one of {', '.join(MODES)}.")
    cascade = Cascade(ClassifierModel.load(setting("model_dir", model_dir) or None, work_prior), tier,
                      llm=llm_from_settings(llm_url, llm_model))
    rows = []
    with input_path.open(encoding="utf-8") as f:
        lines = list(f)
    for number, line in enumerate(lines, 1):
        if line.strip():
            row = orjson.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise UsageError(f"{input_path}:{number}: expected a JSON object with a text field.")
            rows.append(row)
    written = 0
    with output.open("wb") as f:
        for start in range(0, len(rows), 10_000):
            chunk = rows[start : start + 10_000]
            labels = cascade.label([r["text"] for r in chunk])
            for i, row in enumerate(chunk):
                row.update(work_probability=round(float(labels.work_probability[i]), 4),
                           work=bool(labels.work_probability[i] >= 0.5), topic=str(labels.topic[i]),
                           topic_group=str(labels.topic_group[i]), intent=str(labels.intent[i]),
                           tier=str(labels.tier[i]), model_version=cascade.version)
                f.write(orjson.dumps(row) + b"\n")
                written += 1
    err.print(f"wrote {written:,} labelled rows to {output}")


@app.command()
def scan(
    store: StoreOption = DEFAULT_STORE,
    json: JsonOption = False,
) -> None:
    """Scan stored conversations not scanned yet for PII and secrets (spans to a side table).

    Example: worksignal scan --store org.duckdb
    """
    from worksignal.pipeline import scan_store
    from worksignal.privacy.scan import ScanStage
    from worksignal.store import Store

    with Store(store) as db, Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=err, transient=json) as bar:
        task = bar.add_task("scan", total=None)
        result = scan_store(db, ScanStage(), on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json:
        _print_json(result)
    else:
        out.print(f"scanned {result['scanned']:,} conversations; {result['with_findings']:,} carried PII or secrets")


people_app = typer.Typer(help="People: opt-out and opt-in.", no_args_is_help=True)
app.add_typer(people_app, name="people")


@people_app.command("optout")
def people_optout(
    person: Annotated[str, typer.Argument(help="Email, user id, or person key.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Opt a person out: no content analysis, labels removed, never exported.

    Example: worksignal people optout alice@example.com
    """
    _set_opt_out(person, store, True)


@people_app.command("optin")
def people_optin(
    person: Annotated[str, typer.Argument(help="Email, user id, or person key.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Undo an opt-out; run `worksignal classify` to label the person's conversations again.

    Example: worksignal people optin alice@example.com
    """
    _set_opt_out(person, store, False)


def _set_opt_out(person: str, store: Path, opted_out: bool) -> None:
    from worksignal.privacy.optout import resolve_person, set_opt_out
    from worksignal.privacy.pseudonym import Pseudonymiser, load_key
    from worksignal.store import Store

    key = resolve_person(person, Pseudonymiser(load_key()))
    with Store(store) as db:
        result = set_opt_out(db, key, opted_out)
        db.audit(_actor(), "admin", "people optout" if opted_out else "people optin", key)
    verb = "opted out" if opted_out else "opted back in"
    out.print(f"person {key} {verb}" + (f"; {result['labels_removed']:,} labels removed" if opted_out else ""))


@app.command()
def purge(
    store: StoreOption = DEFAULT_STORE,
    older_than: Annotated[str | None, typer.Option("--older-than", help="Age such as 90d, 12w or 1y; default: the retention setting.")] = None,
    json: JsonOption = False,
) -> None:
    """Remove raw message content older than the retention period, keeping labels and counts.

    Example: worksignal purge --older-than 90d
    """
    from worksignal.store import Store

    days = _days(setting("retention", older_than))
    with Store(store) as db:
        result = db.purge_content(days)
        db.audit(_actor(), "admin", "purge", f"older_than_days={days}")
    result["older_than_days"] = days
    if json:
        _print_json(result)
    else:
        out.print(f"purged the content of {result['messages_purged']:,} messages older than {days} days")


def _days(text: str) -> int:
    units = {"d": 1, "w": 7, "y": 365}
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in units or not value.isdigit():
        raise UsageError(f"age {text!r} not understood; use a number with d, w or y, such as 90d.")
    return int(value) * units[unit]


def _actor() -> str:
    import getpass
    import os

    return os.environ.get("WORKSIGNAL_ACTOR") or getpass.getuser()


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
