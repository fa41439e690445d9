"""No guarded output reveals a cell under the floor, directly or by differencing."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from worksignal.privacy.guard import (
    BELOW_FLOOR,
    COMPLEMENTARY,
    Cell,
    Floor,
    guard_children,
    guard_table,
)

FLOOR = Floor(min_group_size=5, min_conversations=8)

# Teams: disjoint people. Buckets (topics, weeks): people may appear in several.
team_sizes = st.lists(st.tuples(st.integers(0, 14), st.integers(0, 40)), min_size=1, max_size=9)


def _teams(sizes: list[tuple[int, int]]) -> list[Cell]:
    cells, next_person = [], 0
    for i, (people, conversations) in enumerate(sizes):
        members = frozenset(f"p{next_person + j}" for j in range(people))
        next_person += people
        cells.append(Cell(f"team-{i}", members, conversations if people else 0))
    return cells


def _check(cells: list[Cell]) -> None:
    shown = [c for c in cells if not c.suppressed]
    hidden = [c for c in cells if c.suppressed]
    for cell in shown:
        assert FLOOR.allows(cell.people, cell.conversations)  # directly
    if hidden and shown:
        # parent total minus every shown child = the hidden cells together: above the floor
        residual = frozenset().union(*(c.people for c in hidden))
        assert FLOOR.allows(residual, sum(c.conversations for c in hidden))
    for cell in cells:
        if not FLOOR.allows(cell.people, cell.conversations):
            assert cell.suppressed and cell.reason == BELOW_FLOOR


@settings(max_examples=300, deadline=None)
@given(sizes=team_sizes)
def test_disjoint_teams(sizes):
    _check(guard_children(_teams(sizes), FLOOR))


@settings(max_examples=300, deadline=None)
@given(buckets=st.lists(st.tuples(st.sets(st.integers(0, 12), max_size=12), st.integers(0, 30)), min_size=1, max_size=8))
def test_overlapping_buckets(buckets):
    cells = [Cell(f"b{i}", frozenset(f"p{p}" for p in people), n) for i, (people, n) in enumerate(buckets)]
    _check(guard_children(cells, FLOOR))


@settings(max_examples=200, deadline=None)
@given(sizes=team_sizes)
def test_no_two_shown_figures_difference_to_a_small_group(sizes):
    """Total (if shown) minus any shown team, or minus all shown teams, is never a small group."""
    cells = guard_children(_teams(sizes), FLOOR)
    everyone = frozenset().union(*(c.people for c in cells))
    total_conversations = sum(c.conversations for c in cells)
    if not FLOOR.allows(everyone, total_conversations):
        return  # the caller suppresses a total below the floor
    shown = [c for c in cells if not c.suppressed]
    if len(shown) < len(cells):
        rest = everyone - frozenset().union(*(c.people for c in shown)) if shown else everyone
        rest_conversations = total_conversations - sum(c.conversations for c in shown)
        assert FLOOR.allows(rest, rest_conversations)


def test_one_small_team_takes_the_next_smallest_with_it():
    cells = guard_children(_teams([(3, 20), (12, 40), (6, 9), (30, 90)]), FLOOR)
    assert [(c.key, c.reason) for c in cells if c.suppressed] == [("team-0", BELOW_FLOOR), ("team-2", COMPLEMENTARY)]


# Team x week tables: people belong to one team and are active in some weeks.
activity = st.lists(  # one team each: for each member, conversations in each of up to 4 weeks
    st.lists(st.lists(st.integers(0, 4), min_size=4, max_size=4), max_size=12), min_size=1, max_size=4)


def _table(teams: list[list[list[int]]]) -> tuple[dict[tuple[str, str], Cell], list[Cell]]:
    cells: dict[tuple[str, str], Cell] = {}
    team_cells = []
    for t, members in enumerate(teams):
        team_people, team_conversations = set(), 0
        for m, weeks in enumerate(members):
            for w, n in enumerate(weeks):
                if n:
                    key = (f"team-{t}", f"week-{w}")
                    cell = cells.setdefault(key, Cell(f"{key[0]}|{key[1]}", frozenset(), 0))
                    cell.people = cell.people | {f"t{t}m{m}"}
                    cell.conversations += n
                    team_people.add(f"t{t}m{m}")
                    team_conversations += n
        team_cells.append(Cell(f"team-{t}", frozenset(team_people), team_conversations))
    return cells, team_cells


def _lines(cells, hidden_rows, hidden_columns):
    """The totals an attacker knows each hidden cell to be part of (hidden lines pooled)."""
    return {key: (("r", "*" if key[0] in hidden_rows else key[0]), ("c", "*" if key[1] in hidden_columns else key[1]))
            for key in cells}


def _determined(cells: dict[tuple[str, str], Cell], hidden_rows: set[str], hidden_columns: set[str]) -> list[tuple[str, str]]:
    """Hidden cells an attacker can solve for, by rank: an implementation apart from the guard's."""
    hidden = [k for k, c in cells.items() if c.suppressed]
    member = _lines(cells, hidden_rows, hidden_columns)
    equations = sorted({line for k in hidden for line in member[k]})
    a = np.array([[1.0 if e in member[k] else 0.0 for k in hidden] for e in equations])
    rank = np.linalg.matrix_rank(a) if len(a) else 0
    found = []
    for j, key in enumerate(hidden):
        unit = np.zeros((1, len(hidden)))
        unit[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            found.append(key)
    return found


@settings(max_examples=300, deadline=None)
@given(teams=activity)
def test_team_week_table_cannot_be_differenced(teams):
    cells, team_cells = _table(teams)
    if not FLOOR.allows(frozenset().union(*(c.people for c in team_cells)), sum(c.conversations for c in team_cells)):
        return  # the caller suppresses a grand total below the floor, and so everything
    guard_children(team_cells, FLOOR)
    hidden_rows = {c.key for c in team_cells if c.suppressed}
    week_cells = {}
    for (_, week), cell in cells.items():
        total = week_cells.setdefault(week, Cell(week, frozenset(), 0))
        total.people, total.conversations = total.people | cell.people, total.conversations + cell.conversations
    guard_children(list(week_cells.values()), FLOOR)
    hidden_columns = {c.key for c in week_cells.values() if c.suppressed}
    guard_table(cells, FLOOR, hidden_rows=hidden_rows, hidden_columns=hidden_columns)
    for cell in cells.values():
        if not cell.suppressed:
            assert FLOOR.allows(cell.people, cell.conversations)
    lines: dict[tuple[str, str], list[Cell]] = {}
    for (row, column), cell in cells.items():
        lines.setdefault(("row", row), []).append(cell)
        lines.setdefault(("column", column), []).append(cell)
    for (kind, name), line in lines.items():
        hidden = [c for c in line if c.suppressed]
        if hidden and name not in (hidden_rows if kind == "row" else hidden_columns):
            assert FLOOR.allows(frozenset().union(*(c.people for c in hidden)), sum(c.conversations for c in hidden))
    for key in _determined(cells, hidden_rows, hidden_columns):
        assert FLOOR.allows(cells[key].people, cells[key].conversations), f"{key} can be solved for"
    for (row, column), cell in cells.items():
        if row in hidden_rows or column in hidden_columns:
            assert cell.suppressed


def test_a_hidden_cell_on_its_own_in_a_row_and_column_takes_a_neighbour():
    # Week 1 of team-0 is small; team-0 row and week-1 column would otherwise each leave
    # only it hidden alongside one more cell, so a 2x2 cycle of hidden cells must appear.
    floor = Floor(2, 1)
    cells = {
        ("a", "w1"): Cell("a|w1", frozenset({"p1"}), 1),
        ("a", "w2"): Cell("a|w2", frozenset({"p1", "p2", "p3"}), 5),
        ("b", "w1"): Cell("b|w1", frozenset({"p4", "p5", "p6"}), 5),
        ("b", "w2"): Cell("b|w2", frozenset({"p4", "p5", "p6"}), 5),
    }
    guard_table(cells, floor)
    assert all(c.suppressed for c in cells.values())
