"""The first truthful report: volumes, real work share, teams above the group floor."""

from __future__ import annotations

from typing import Any

from worksignal.classify.taxonomy import GROUPS
from worksignal.store import Store

# A conversation's team: the directory's word first, else what the log said.
_CONVERSATION_TEAMS = """
    SELECT c.conversation_id, c.person_key, coalesce(p.team, c.team, '(no team)') AS team,
           l.work, l.topic_group, c.tokens_in, c.tokens_out, c.cost
    FROM conversations c
    LEFT JOIN people p USING (person_key)
    LEFT JOIN labels l USING (conversation_id)
"""


def _share(numerator: Any, denominator: Any) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summary(store: Store, *, min_group_size: int) -> dict[str, Any]:
    """Everything the report prints, as plain data (the JSON output is exactly this)."""
    q = store.query
    totals = q(f"""
        SELECT count(*), count(DISTINCT person_key), count(work), count(*) FILTER (WHERE work),
               sum(tokens_in), sum(tokens_out), sum(cost)
        FROM ({_CONVERSATION_TEAMS})
    """)[0]
    conversations, people, labelled, work, tokens_in, tokens_out, cost = totals
    teams = []
    hidden_teams = 0
    for team, n_people, n_conv, n_labelled, n_work in q(f"""
        SELECT team, count(DISTINCT person_key), count(*), count(work), count(*) FILTER (WHERE work)
        FROM ({_CONVERSATION_TEAMS}) GROUP BY team ORDER BY team
    """):
        if n_people < min_group_size:
            hidden_teams += 1
            continue
        teams.append({"team": team, "people": n_people, "conversations": n_conv,
                      "work_share": _share(n_work, n_labelled)})
    topic_groups = {group: 0 for group in GROUPS}
    for group, n in q(f"""
        SELECT topic_group, count(*) FROM ({_CONVERSATION_TEAMS})
        WHERE topic_group IS NOT NULL GROUP BY topic_group
    """):
        topic_groups[group] = n
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
        "min_group_size": min_group_size,
        "teams": teams,
        "teams_hidden": hidden_teams,
        "topic_groups": {g: {"conversations": n, "share": _share(n, labelled)} for g, n in topic_groups.items()},
        "classifiers": classifiers,
        "rule_based_labels": any(c["tier"] == "rules" for c in classifiers),
        "quarantine": quarantine,
        "quarantined": sum(item["records"] for item in quarantine),
    }
