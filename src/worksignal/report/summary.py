"""The truthful report: volumes, real work share, teams and weeks above the group floor.

What a reader sees depends on their role (DESIGN.md, privacy rules):

- admin: everything, nothing suppressed;
- analyst: the whole organisation, every figure through the privacy guard;
- manager: the same, over the people below them in the org hierarchy (their subtree);
- employee: their own conversations in full, nobody else's.
"""

from __future__ import annotations

from typing import Any

from worksignal.classify.taxonomy import GROUPS
from worksignal.errors import UsageError
from worksignal.privacy.guard import BELOW_FLOOR, Cell, Floor, guard_children, guard_table
from worksignal.privacy.noise import CountNoise
from worksignal.store import Store

ROLES = ("employee", "manager", "analyst", "admin")
#: Roles that speak for one person and so need to say who (`--as`).
PERSONAL_ROLES = ("employee", "manager")

# A conversation's team: the directory's word first, else what the log said.
_CONVERSATIONS = """
    SELECT c.conversation_id, c.person_key, coalesce(p.team, c.team, '(no team)') AS team,
           CAST(date_trunc('week', c.started_at AT TIME ZONE 'UTC') AS DATE) AS week,
           c.started_at, c.tool, l.work, l.work_probability, l.topic, l.topic_group, l.tier,
           c.tokens_in, c.tokens_out, c.cost,
           f.conversation_id IS NOT NULL AS scanned, f.secrets > 0 AS has_secret,
           cardinality(f.pii_counts) > 0 AS has_pii
    FROM conversations c
    LEFT JOIN people p USING (person_key)
    LEFT JOIN labels l USING (conversation_id)
    LEFT JOIN flags f USING (conversation_id)
    WHERE {scope}
"""
_SCOPES = {
    "everyone": "TRUE",
    # org_path is the chain of manager keys from the top down to the person
    "subtree": "c.person_key IN (SELECT person_key FROM people WHERE list_contains(string_split(org_path, '/'), ?))",
    "self": "c.person_key = ?",
}
_COUNTS = """list(DISTINCT person_key) FILTER (WHERE person_key IS NOT NULL), count(*), count(work),
             count(*) FILTER (WHERE work), count(*) FILTER (WHERE scanned),
             count(*) FILTER (WHERE has_secret), count(*) FILTER (WHERE has_pii)"""


def _share(numerator: Any, denominator: Any) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _cell(key: str, people: list[str] | None, conversations: int, labelled: int, work: int, scanned: int,
          secret: int, pii: int) -> Cell:
    return Cell(key, frozenset(people or []), conversations,
                {"labelled": labelled, "work": work, "scanned": scanned, "secret": secret, "pii": pii})


#: Counts each published cell releases (people, conversations, and the numerators and
#: denominators of its three shares); what differential privacy spends epsilon on.
COUNTS_PER_CELL = 7
#: Cells a conversation is counted in: the total, its team, week and team-week (seven counts
#: each), its topic group and its classifier tier (one each).
COUNTS_PER_CONVERSATION = 4 * COUNTS_PER_CELL + 2


def _figures(cell: Cell, noise: CountNoise | None = None) -> dict[str, Any]:
    v = {"people": len(cell.people), "conversations": cell.conversations, **cell.values}
    if noise is not None:
        v = {name: noise(count) for name, count in v.items()}
    return {"people": v["people"], "conversations": v["conversations"], "labelled": v["labelled"],
            "work_share": _share(min(v["work"], v["labelled"]), v["labelled"]),
            "secret_share": _share(min(v["secret"], v["scanned"]), v["scanned"]),
            "pii_share": _share(min(v["pii"], v["scanned"]), v["scanned"])}


def summary(store: Store, *, min_group_size: int, min_conversations: int | None = None,
            role: str = "analyst", viewer: str | None = None, dp_epsilon: float = 0.0) -> dict[str, Any]:
    """Everything the report prints, as plain data (the JSON output is exactly this).

    `viewer` is the person key of the manager or employee asking; other roles ignore it.
    `dp_epsilon` > 0 adds differentially private noise to every count a non-admin sees.
    """
    if role not in ROLES:
        raise UsageError(f"--role {role!r} is not one of {', '.join(ROLES)}.")
    if role in PERSONAL_ROLES and not viewer:
        raise UsageError(f"--role {role} needs --as EMAIL (or person key): whose view to show.")
    if role == "employee":
        assert viewer is not None
        return self_view(store, viewer)
    floor = Floor.from_settings(min_group_size, min_conversations) if role != "admin" else Floor(0, 0)
    noise = CountNoise(dp_epsilon) if dp_epsilon and role != "admin" else None
    scope, params = (_SCOPES["subtree"], [viewer]) if role == "manager" else (_SCOPES["everyone"], [])
    rows = _CONVERSATIONS.format(scope=scope)
    q = store.query

    total = _cell("total", *q(f"SELECT {_COUNTS} FROM ({rows})", params)[0])
    tokens_in, tokens_out, cost = q(f"SELECT sum(tokens_in), sum(tokens_out), sum(cost) FROM ({rows})", params)[0]
    base: dict[str, Any] = {
        "role": role,
        "scope": "subtree" if role == "manager" else "organisation",
        "min_group_size": floor.min_group_size,
        "min_conversations": floor.min_conversations,
    }
    if not floor.allows(total.people, total.conversations):
        # Too few people in scope: even the totals would single someone out.
        return {**base, "conversations": None, "people": None, "labelled": None, "work_share": None,
                "tokens_in": None, "tokens_out": None, "cost": None, "teams": [], "teams_hidden": 0,
                "topic_groups": {}, "weeks": [], "team_weeks": [], "classifiers": [], "quarantine": [],
                "quarantined": 0, "rule_based_labels": False, "people_in_directory": None,
                "suppressed": [{"cell": "total", "suppressed": True, "reason": BELOW_FLOOR}]}

    def by(column: str) -> list[Cell]:
        """The scope's cells by one column: children of the total, for the guard."""
        return [_cell(str(r[0]), *r[1:]) for r in q(
            f"SELECT {column}, {_COUNTS} FROM ({rows}) WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 1", params)]

    def hidden(kind: str, cells: list[Cell]) -> list[dict[str, Any]]:
        return [{"cell": kind, kind: c.key, "suppressed": True, "reason": c.reason} for c in cells if c.suppressed]

    team_cells = guard_children(by("team"), floor)
    teams = [{"team": c.key, **_figures(c, noise)} for c in team_cells if not c.suppressed]
    suppressed = hidden("team", team_cells)

    group_rows = {c.key: c for c in by("topic_group")}
    # Every group is listed, an empty one as a cell of nobody (hidden by the floor).
    group_cells = guard_children([group_rows.get(g) or _cell(g, [], 0, 0, 0, 0, 0, 0) for g in GROUPS], floor)
    overall = _figures(total, noise)
    labelled = overall["labelled"]
    topic_groups: dict[str, dict[str, Any]] = {}
    for cell in group_cells:
        if cell.suppressed:
            topic_groups[cell.key] = {"conversations": None, "share": None, "suppressed": True}
        else:
            n = noise(cell.conversations) if noise else cell.conversations
            topic_groups[cell.key] = {"conversations": n, "share": _share(n, labelled)}

    suppressed += hidden("topic_group", group_cells)

    week_cells = guard_children(by("week"), floor)
    weeks = [{"week": c.key, **_figures(c, noise)} for c in week_cells if not c.suppressed]
    suppressed += hidden("week", week_cells)

    table = {(team, str(week)): _cell(f"{team}|{week}", *counts) for team, week, *counts in q(
        f"SELECT team, week, {_COUNTS} FROM ({rows}) WHERE week IS NOT NULL GROUP BY team, week", params)}
    guard_table(table, floor, hidden_rows={c.key for c in team_cells if c.suppressed},
                hidden_columns={c.key for c in week_cells if c.suppressed})
    team_weeks = [{"team": team, "week": week, **_figures(c, noise)}
                  for (team, week), c in sorted(table.items()) if not c.suppressed]
    suppressed += [{"cell": "team_week", "team": team, "week": week, "suppressed": True, "reason": c.reason}
                   for (team, week), c in sorted(table.items()) if c.suppressed]

    classifiers = [
        {"tier": tier, "model_version": version, "conversations": noise(n) if noise else n}
        for tier, version, n in q(f"SELECT l.tier, l.model_version, count(*) FROM ({rows}) r "
                                  "JOIN labels l USING (conversation_id) GROUP BY ALL ORDER BY 1, 2", params)
    ]
    # Quarantine and the directory are about the organisation's files, not a subtree.
    quarantine = [] if role == "manager" else [
        {"reason": reason, "records": n, "example": location}
        for reason, n, location in q(
            "SELECT reason, count(*), min(location) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1")
    ]
    private = {} if noise is None else {
        "differential_privacy": noise.statement(COUNTS_PER_CONVERSATION),
        # sums of tokens and money have no bound per conversation: not published under DP
        "tokens_in": None, "tokens_out": None, "cost": None,
    }
    return {
        **base,
        "conversations": overall["conversations"],
        "people": overall["people"],
        "people_in_directory": None if role == "manager" else
        q("SELECT count(*) FROM people WHERE source = 'directory'")[0][0],
        "labelled": labelled,
        "work_share": overall["work_share"],
        "tokens_in": int(tokens_in or 0),
        "tokens_out": int(tokens_out or 0),
        "cost": round(float(cost or 0.0), 4),
        "teams": teams,
        "teams_hidden": sum(c.suppressed for c in team_cells),
        "topic_groups": topic_groups,
        "weeks": weeks,
        "team_weeks": team_weeks,
        "suppressed": suppressed,
        "classifiers": classifiers,
        "rule_based_labels": any(c["tier"] == "rules" for c in classifiers),
        "quarantine": quarantine,
        "quarantined": sum(item["records"] for item in quarantine),
        **private,
    }


def self_view(store: Store, person_key: str) -> dict[str, Any]:
    """One person's own data in full: every conversation's labels, by week and topic group."""
    rows = _CONVERSATIONS.format(scope=_SCOPES["self"])
    person = store.query("SELECT team, opted_out, excluded FROM people WHERE person_key = ?", [person_key])
    conversations = [
        {"conversation_id": cid, "started_at": started.isoformat() if started else None, "tool": tool,
         "work": work, "work_probability": None if p is None else round(float(p), 4), "topic": topic,
         "topic_group": group, "tier": tier}
        for cid, started, tool, work, p, topic, group, tier in store.query(
            f"SELECT conversation_id, started_at, tool, work, work_probability, topic, topic_group, tier "
            f"FROM ({rows}) ORDER BY started_at, conversation_id", [person_key])
    ]
    labelled = [c for c in conversations if c["work"] is not None]
    groups: dict[str, int] = {g: 0 for g in GROUPS}
    for c in labelled:
        if c["topic_group"]:
            groups[c["topic_group"]] += 1
    weeks = [{"week": str(week), "conversations": n, "work_share": _share(w, lab)}
             for week, n, w, lab in store.query(
                 f"SELECT week, count(*), count(*) FILTER (WHERE work), count(work) FROM ({rows}) "
                 "GROUP BY week ORDER BY week", [person_key])]
    return {
        "role": "employee",
        "scope": "self",
        "person_key": person_key,
        "team": person[0][0] if person else None,
        "opted_out": bool(person and (person[0][1] or person[0][2])),
        "conversations": len(conversations),
        "labelled": len(labelled),
        "work_share": _share(sum(bool(c["work"]) for c in labelled), len(labelled)),
        "topic_groups": groups,
        "weeks": weeks,
        "conversation_labels": conversations,
        "suppressed": [],
    }
