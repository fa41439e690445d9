"""The first truthful report: volumes, real work share, teams above the group floor."""

from __future__ import annotations

from typing import Any

from worksignal.classify.taxonomy import GROUPS
from worksignal.errors import UsageError
from worksignal.privacy.guard import Cell, Floor, guard_children
from worksignal.store import Store

# A conversation's team: the directory's word first, else what the log said.
_CONVERSATION_TEAMS = """
    SELECT c.conversation_id, c.person_key, coalesce(p.team, c.team, '(no team)') AS team,
           l.work, l.topic_group, c.tokens_in, c.tokens_out, c.cost,
           f.conversation_id IS NOT NULL AS scanned, f.secrets > 0 AS has_secret,
           cardinality(f.pii_counts) > 0 AS has_pii
    FROM conversations c
    LEFT JOIN people p USING (person_key)
    LEFT JOIN labels l USING (conversation_id)
    LEFT JOIN flags f USING (conversation_id)
"""


def _share(numerator: Any, denominator: Any) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


ROLES = ("analyst", "admin")


def summary(store: Store, *, min_group_size: int, min_conversations: int | None = None,
            role: str = "analyst") -> dict[str, Any]:
    """Everything the report prints, as plain data (the JSON output is exactly this).

    For every role but admin, team rows and topic buckets pass the privacy guard.
    """
    if role not in ROLES:
        raise UsageError(f"--role {role!r} is not one of {', '.join(ROLES)}.")
    floor = Floor.from_settings(min_group_size, min_conversations) if role != "admin" else Floor(0, 0)
    q = store.query
    totals = q(f"""
        SELECT count(*), count(DISTINCT person_key), count(work), count(*) FILTER (WHERE work),
               sum(tokens_in), sum(tokens_out), sum(cost)
        FROM ({_CONVERSATION_TEAMS})
    """)[0]
    conversations, people, labelled, work, tokens_in, tokens_out, cost = totals
    team_cells = guard_children([
        Cell(team, frozenset(people), n_conv,
             {"labelled": n_labelled, "work": n_work, "scanned": n_scanned, "secret": n_secret, "pii": n_pii})
        for team, people, n_conv, n_labelled, n_work, n_scanned, n_secret, n_pii in q(f"""
            SELECT team, list(DISTINCT person_key) FILTER (WHERE person_key IS NOT NULL), count(*),
                   count(work), count(*) FILTER (WHERE work), count(*) FILTER (WHERE scanned),
                   count(*) FILTER (WHERE has_secret), count(*) FILTER (WHERE has_pii)
            FROM ({_CONVERSATION_TEAMS}) GROUP BY team ORDER BY team
        """)
    ], floor)
    teams = [
        {"team": c.key, "people": len(c.people), "conversations": c.conversations,
         "work_share": _share(c.values["work"], c.values["labelled"]),
         "secret_share": _share(c.values["secret"], c.values["scanned"]),
         "pii_share": _share(c.values["pii"], c.values["scanned"])}
        for c in team_cells if not c.suppressed
    ]
    suppressed = [{"cell": "team", "team": c.key, "suppressed": True, "reason": c.reason}
                  for c in team_cells if c.suppressed]
    group_rows = {group: (people, n) for group, people, n in q(f"""
        SELECT topic_group, list(DISTINCT person_key) FILTER (WHERE person_key IS NOT NULL), count(*)
        FROM ({_CONVERSATION_TEAMS}) WHERE topic_group IS NOT NULL GROUP BY topic_group
    """)}
    group_cells = guard_children(
        [Cell(g, frozenset(group_rows.get(g, ([], 0))[0] or []), group_rows.get(g, ([], 0))[1]) for g in GROUPS], floor)
    topic_groups: dict[str, dict[str, Any]] = {}
    for cell in group_cells:
        if cell.suppressed:
            topic_groups[cell.key] = {"conversations": None, "share": None, "suppressed": True}
            suppressed.append({"cell": "topic_group", "topic_group": cell.key, "suppressed": True, "reason": cell.reason})
        else:
            topic_groups[cell.key] = {"conversations": cell.conversations, "share": _share(cell.conversations, labelled)}
    classifiers = [
        {"tier": tier, "model_version": version, "conversations": n}
        for tier, version, n in q("SELECT tier, model_version, count(*) FROM labels GROUP BY ALL ORDER BY 1, 2")
    ]
    quarantine = [
        {"reason": reason, "records": n, "example": location}
        for reason, n, location in q(
            "SELECT reason, count(*), min(location) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1"
        )
    ]
    return {
        "conversations": conversations,
        "people": people,
        "people_in_directory": q("SELECT count(*) FROM people WHERE source = 'directory'")[0][0],
        "labelled": labelled,
        "work_share": _share(work, labelled),
        "tokens_in": int(tokens_in or 0),
        "tokens_out": int(tokens_out or 0),
        "cost": round(float(cost or 0.0), 4),
        "role": role,
        "min_group_size": floor.min_group_size,
        "min_conversations": floor.min_conversations,
        "teams": teams,
        "teams_hidden": sum(c.suppressed for c in team_cells),
        "topic_groups": topic_groups,
        "suppressed": suppressed,
        "classifiers": classifiers,
        "rule_based_labels": any(c["tier"] == "rules" for c in classifiers),
        "quarantine": quarantine,
        "quarantined": sum(item["records"] for item in quarantine),
    }
