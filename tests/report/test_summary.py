"""Each role's view of a simulated organisation, through the privacy guard."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from worksignal.pipeline import ingest
from worksignal.privacy.pseudonym import Pseudonymiser, load_key
from worksignal.report.html import render_html
from worksignal.report.summary import summary
from worksignal.simulate import simulate
from worksignal.store import Store


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    folder = tmp_path_factory.mktemp("org")
    simulate(folder, people=160, days=21, seed=5)
    with (folder / "people.csv").open() as f:
        people = list(csv.DictReader(f))
    return folder, people


@pytest.fixture
def db(org, tmp_path: Path):
    folder, _ = org
    with Store(tmp_path / "s.duckdb") as store:
        ingest([folder / "people.csv", folder / "conversations.jsonl"], store, tier="fast")
        yield store


def _key(email: str) -> str:
    key = Pseudonymiser(load_key()).person_key(email)
    assert key is not None
    return key


def _largest_subtree(people: list[dict[str, str]]) -> tuple[str, set[str]]:
    """The manager with most people below them (the simulator: team leads report to a head)."""
    reports: dict[str, list[str]] = {}
    for p in people:
        if p["manager"]:
            reports.setdefault(p["manager"], []).append(p["email"])

    def below(manager: str) -> set[str]:
        found = {manager}
        for r in reports.get(manager, []):
            found |= below(r)
        return found

    head = max(reports, key=lambda m: len(below(m)))
    return head, below(head)


def test_analyst_view_guards_every_cell_kind(db: Store):
    data = summary(db, min_group_size=10, min_conversations=10)
    assert data["scope"] == "organisation" and data["weeks"] and data["team_weeks"]
    for row in data["teams"] + data["weeks"] + data["team_weeks"]:
        assert row["people"] >= 10 and row["conversations"] >= 10
    kinds = Counter(s["cell"] for s in data["suppressed"])
    assert kinds["team"] > 0 and kinds["team_week"] > 0  # the simulator has small teams
    shown_teams = {t["team"] for t in data["teams"]}
    hidden_teams = {s["team"] for s in data["suppressed"] if s["cell"] == "team"}
    assert not {c["team"] for c in data["team_weeks"]} & hidden_teams  # a hidden team shows no weeks
    assert {c["team"] for c in data["team_weeks"]} <= shown_teams
    admin = summary(db, min_group_size=10, role="admin")
    assert admin["suppressed"] == [] and sum(w["conversations"] for w in admin["weeks"]) == admin["conversations"]


def test_manager_sees_their_subtree_only(db: Store, org):
    _, people = org
    head, subtree = _largest_subtree(people)
    teams_below = {p["team"] for p in people if p["email"] in subtree}
    data = summary(db, min_group_size=5, min_conversations=5, role="manager", viewer=_key(head))
    everyone = summary(db, min_group_size=5, min_conversations=5)
    assert data["scope"] == "subtree" and len(teams_below) >= 2
    assert data["people"] <= len(subtree) < everyone["people"]
    assert {t["team"] for t in data["teams"]} | {s["team"] for s in data["suppressed"] if s["cell"] == "team"} <= teams_below
    assert data["quarantine"] == [] and data["people_in_directory"] is None


def test_manager_of_a_small_subtree_sees_nothing(db: Store, org):
    _, people = org
    member = next(p for p in people if p["manager"] and not any(q["manager"] == p["email"] for q in people))
    data = summary(db, min_group_size=10, role="manager", viewer=_key(member["email"]))  # manages nobody
    assert data["conversations"] is None and data["teams"] == [] and data["suppressed"][0]["cell"] == "total"
    assert "Nothing can be shown" in render_html(data)


def test_employee_sees_their_own_labels_in_full(db: Store, org):
    _, people = org
    person = next(p for p in people if p["opted_out"] == "false" and p["manager"])
    key = _key(person["email"])
    data = summary(db, min_group_size=10, role="employee", viewer=key)
    own = db.query("SELECT count(*) FROM conversations WHERE person_key = ?", [key])[0][0]
    assert data["conversations"] == own > 0 and len(data["conversation_labels"]) == own
    assert {c["conversation_id"] for c in data["conversation_labels"]} == {
        r[0] for r in db.query("SELECT conversation_id FROM conversations WHERE person_key = ?", [key])}
    assert data["team"] == person["team"] and not data["opted_out"]
    html = render_html(data)
    assert "Your AI-assistant use" in html and data["conversation_labels"][0]["conversation_id"] not in html


def test_personal_roles_need_to_say_who(db: Store):
    from worksignal.errors import UsageError

    with pytest.raises(UsageError, match="--as"):
        summary(db, min_group_size=10, role="manager")
    with pytest.raises(UsageError, match="not one of"):
        summary(db, min_group_size=10, role="ceo")


def test_differential_privacy_noises_counts_and_states_the_budget(db: Store):
    exact = summary(db, min_group_size=10, min_conversations=10)
    runs = [summary(db, min_group_size=10, min_conversations=10, dp_epsilon=0.5) for _ in range(40)]
    dp = runs[0]["differential_privacy"]
    assert dp["epsilon_per_count"] == pytest.approx(0.5) and dp["epsilon_total"] == pytest.approx(0.5 * 30)
    assert dp["counts_noised"] > 0 and runs[0]["cost"] is None and runs[0]["tokens_in"] is None
    # The same cells are shown (suppression uses exact counts) ...
    assert [t["team"] for t in runs[0]["teams"]] == [t["team"] for t in exact["teams"]]
    # ... with noise of mean about 0 and scale 1/epsilon = 2 (variance 2 * scale^2 = 8).
    errors = [r["teams"][0]["conversations"] - exact["teams"][0]["conversations"] for r in runs]
    assert any(errors) and abs(sum(errors) / len(errors)) < 2.5
    assert 1 < (sum(e * e for e in errors) / len(errors)) ** 0.5 < 6
    admin = summary(db, min_group_size=10, role="admin", dp_epsilon=0.5)
    assert "differential_privacy" not in admin and admin["cost"] is not None


def test_as_without_a_personal_role_is_a_usage_error(db: Store, tmp_path: Path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "worksignal", "report", "--store", str(tmp_path / "s.duckdb"),
                             "--as", "someone@example.com"], capture_output=True, text=True)
    assert result.returncode == 2 and "--as only applies" in result.stderr
