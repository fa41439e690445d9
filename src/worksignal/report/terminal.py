"""Rich tables for the summary: what a person reads in a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render(data: dict[str, Any], console: Console) -> None:
    if data["role"] == "employee":
        render_self(data, console)
        return
    if data["conversations"] is None:
        console.print(
            f"Nothing can be shown: fewer than {data['min_group_size']} people (or "
            f"{data['min_conversations']} conversations) are in this {data['scope']}, so even the "
            "totals would single someone out."
        )
        return
    title = "worksignal report" + (" (your part of the organisation)" if data["scope"] == "subtree" else "")
    overview = Table(title=title, show_header=False)
    overview.add_row("conversations", f"{data['conversations']:,}")
    overview.add_row("people", f"{data['people']:,}")
    overview.add_row("labelled conversations", f"{data['labelled']:,}")
    overview.add_row("work share", _pct(data["work_share"]))
    if data["tokens_in"] is not None:
        overview.add_row("tokens in / out", f"{data['tokens_in']:,} / {data['tokens_out']:,}")
    overview.add_row("quarantined records", f"{data['quarantined']:,}")
    console.print(overview)

    teams = Table(title=f"Teams (only teams of at least {data['min_group_size']} people are shown)")
    for column in ("team", "people", "conversations", "work share", "with secrets", "with PII"):
        teams.add_column(column, justify="left" if column == "team" else "right")
    for row in data["teams"]:
        teams.add_row(row["team"], f"{row['people']:,}", f"{row['conversations']:,}", _pct(row["work_share"]),
                      _pct(row.get("secret_share")), _pct(row.get("pii_share")))
    console.print(teams)
    if data["teams_hidden"]:
        console.print(
            f"{data['teams_hidden']} team(s) are not shown: below the minimum group size, or hidden "
            "so that they cannot be worked out from the totals."
        )

    topics = Table(title="Topic groups")
    topics.add_column("group")
    topics.add_column("conversations", justify="right")
    topics.add_column("share", justify="right")
    for group, row in data["topic_groups"].items():
        if row.get("suppressed"):
            topics.add_row(group, "suppressed", "-")
        else:
            topics.add_row(group, f"{row['conversations']:,}", _pct(row["share"]))
    console.print(topics)

    if data["weeks"]:
        weeks = Table(title="Weeks")
        for column in ("week starting", "people", "conversations", "work share"):
            weeks.add_column(column, justify="left" if column == "week starting" else "right")
        for row in data["weeks"]:
            weeks.add_row(row["week"], f"{row['people']:,}", f"{row['conversations']:,}", _pct(row["work_share"]))
        console.print(weeks)
    hidden_weeks = sum(1 for s in data["suppressed"] if s["cell"] in ("week", "team_week"))
    if hidden_weeks:
        console.print(f"{hidden_weeks} week or team-week figure(s) are suppressed (see --json).")

    if data["quarantine"]:
        quarantine = Table(title="Quarantine (records not stored, by reason)")
        quarantine.add_column("reason")
        quarantine.add_column("records", justify="right")
        quarantine.add_column("first location")
        for row in data["quarantine"]:
            quarantine.add_row(row["reason"], f"{row['records']:,}", row["example"])
        console.print(quarantine)
        console.print("See every record with `worksignal quarantine`.")
    if data.get("differential_privacy"):
        dp = data["differential_privacy"]
        console.print(
            f"Counts carry {dp['mechanism']} noise: epsilon {dp['epsilon_per_count']} per count, "
            f"{dp['epsilon_total']} in total per {dp['unit']} ({dp['counts_per_conversation']} counts each)."
        )
    if data["rule_based_labels"]:
        console.print(
            "[yellow]Labels come from the transparent keyword rules (tier 'rules'), not from a "
            "trained classifier: treat the work share as a rough first reading.[/yellow]"
        )


def render_self(data: dict[str, Any], console: Console, recent: int = 20) -> None:
    """A person's own view: their totals, and the labels of their latest conversations."""
    overview = Table(title="Your AI-assistant use", show_header=False)
    overview.add_row("team", data["team"] or "-")
    overview.add_row("conversations", f"{data['conversations']:,}")
    overview.add_row("labelled", f"{data['labelled']:,}")
    overview.add_row("work share", _pct(data["work_share"]))
    overview.add_row("opted out", "yes" if data["opted_out"] else "no")
    console.print(overview)
    labels = Table(title=f"Your latest {min(recent, len(data['conversation_labels']))} conversations")
    for column in ("started", "tool", "work", "topic", "decided by"):
        labels.add_column(column)
    for row in data["conversation_labels"][-recent:]:
        work = "-" if row["work"] is None else ("work" if row["work"] else "not work")
        labels.add_row((row["started_at"] or "")[:16], row["tool"] or "-", work, row["topic"] or "-", row["tier"] or "-")
    console.print(labels)
    if data["opted_out"]:
        console.print("You have opted out: your conversations are counted, never analysed. "
                      "`worksignal people optin` undoes it.")
    else:
        console.print("Opt out of content analysis at any time with `worksignal people optout YOUR_EMAIL`.")
