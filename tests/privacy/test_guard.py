"""No guarded output reveals a cell under the floor, directly or by differencing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from worksignal.privacy.guard import BELOW_FLOOR, COMPLEMENTARY, Cell, Floor, guard_children

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
