"""Rich tables for the summary: what a person reads in a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render(data: dict[str, Any], console: Console) -> None:
    overview = Table(title="worksignal report", show_header=False)
    overview.add_row("conversations", f"{data['conversations']:,}")
    overview.add_row("people", f"{data['people']:,}")
    overview.add_row("labelled conversations", f"{data['labelled']:,}")
    overview.add_row("work share", _pct(data["work_share"]))
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

    if data["quarantine"]:
        quarantine = Table(title="Quarantine (records not stored, by reason)")
        quarantine.add_column("reason")
        quarantine.add_column("records", justify="right")
        quarantine.add_column("first location")
        for row in data["quarantine"]:
            quarantine.add_row(row["reason"], f"{row['records']:,}", row["example"])
        console.print(quarantine)
        console.print("See every record with `worksignal quarantine`.")
    if data["rule_based_labels"]:
        console.print(
            "[yellow]Labels come from the transparent keyword rules (tier 'rules'), not from a "
            "trained classifier: treat the work share as a rough first reading.[/yellow]"
        )
