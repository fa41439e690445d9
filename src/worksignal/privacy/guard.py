"""The privacy guard: every aggregate a non-admin sees passes through here.

A cell (a team, a topic bucket, a team-week) is shown only when it covers at least
`min_group_size` distinct people and `min_conversations` conversations. Complementary
suppression then hides more cells until what the hidden ones add up to (the parent total
minus the shown cells, which anyone can compute) is itself a group above the floor, so
no suppressed figure can be recovered by subtraction.

A two-way table (team x week) has published totals on both sides: its cells are guarded
as children of their row and of their column, and then checked by linear algebra that no
hidden cell is pinned down by the row and column totals together (`guard_table`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from worksignal.config import setting

BELOW_FLOOR = "below_floor"
COMPLEMENTARY = "complementary"
PARENT_HIDDEN = "parent_hidden"


@dataclass
class Cell:
    """One published figure's group: who it covers and what it says."""

    key: str
    people: frozenset[str]
    conversations: int
    values: dict[str, Any] = field(default_factory=dict)
    suppressed: bool = False
    reason: str | None = None

    def hide(self, reason: str) -> None:
        self.suppressed, self.reason = True, reason


@dataclass(frozen=True)
class Floor:
    """The minimum a cell, or the residual of hidden cells, must cover to be shown."""

    min_group_size: int
    min_conversations: int

    @classmethod
    def from_settings(cls, min_group_size: int | None = None, min_conversations: int | None = None) -> Floor:
        return cls(setting("min_group_size", min_group_size), setting("min_conversations", min_conversations))

    def allows(self, people: Iterable[str] | frozenset[str], conversations: int) -> bool:
        covered = people if isinstance(people, frozenset) else frozenset(people)
        return len(covered) >= self.min_group_size and conversations >= self.min_conversations


def guard_children(cells: list[Cell], floor: Floor) -> list[Cell]:
    """Suppress small children of one parent, then enough others that the hidden rest is safe.

    Children may overlap in people (topic buckets, weeks): the residual's people are the
    union of the hidden cells', and its conversations their sum.
    """
    for cell in cells:
        if not floor.allows(cell.people, cell.conversations):
            cell.hide(BELOW_FLOOR)
    while True:
        hidden = [c for c in cells if c.suppressed]
        if not hidden:
            break
        residual = frozenset().union(*(c.people for c in hidden))
        if floor.allows(residual, sum(c.conversations for c in hidden)):
            break
        shown = [c for c in cells if not c.suppressed]
        if not shown:
            break  # everything is hidden; the parent must pass the floor on its own
        min(shown, key=lambda c: (len(c.people), c.conversations, c.key)).hide(COMPLEMENTARY)
    return cells


def guard_table(cells: dict[tuple[str, str], Cell], floor: Floor,
                hidden_rows: Iterable[str] = (), hidden_columns: Iterable[str] = ()) -> dict[tuple[str, str], Cell]:
    """Suppress a (row, column) table whose row and column totals are published.

    `hidden_rows` / `hidden_columns` are lines whose own total is suppressed elsewhere (a
    hidden team): their cells are hidden too. Afterwards every shown cell passes the floor,
    the hidden cells of every line together pass it, and no hidden cell under the floor can
    be solved for from the totals, however they are combined.
    """
    hidden_rows, hidden_columns = set(hidden_rows), set(hidden_columns)
    rows: dict[str, list[Cell]] = {}
    columns: dict[str, list[Cell]] = {}
    for (row, column), cell in cells.items():
        rows.setdefault(row, []).append(cell)
        columns.setdefault(column, []).append(cell)
        if row in hidden_rows or column in hidden_columns:
            cell.hide(PARENT_HIDDEN)
    while True:
        before = sum(c.suppressed for c in cells.values())
        for line in (*rows.values(), *columns.values()):
            guard_children(line, floor)
        recoverable = _recoverable(cells, floor, hidden_rows, hidden_columns)
        if recoverable:
            # Hiding a shown neighbour in the same row (else column) puts the cell on a cycle
            # of hidden cells, which the totals cannot resolve; failing that, any cell beside
            # the hidden ones, and check again.
            row, column = recoverable[0]
            shown = [c for c in rows[row] if not c.suppressed] or [c for c in columns[column] if not c.suppressed]
            if not shown:
                rows_hit = {r for (r, _), c in cells.items() if c.suppressed}
                columns_hit = {k for (_, k), c in cells.items() if c.suppressed}
                shown = [c for (r, k), c in cells.items() if not c.suppressed and (r in rows_hit or k in columns_hit)]
            if shown:
                min(shown, key=lambda c: (len(c.people), c.conversations, c.key)).hide(COMPLEMENTARY)
        if sum(c.suppressed for c in cells.values()) == before:
            return cells


def _recoverable(cells: dict[tuple[str, str], Cell], floor: Floor, hidden_rows: set[str],
                 hidden_columns: set[str]) -> list[tuple[str, str]]:
    """Hidden cells under the floor whose value follows from the published totals.

    The hidden values x satisfy A x = b: one equation per published row and column total,
    and one for all hidden rows (and columns) together, which the grand total minus the
    published ones gives away. x_j is determined exactly when e_j lies in the row space of A.
    """
    hidden = [key for key, cell in cells.items() if cell.suppressed]
    if not hidden:
        return []
    lines: dict[tuple[str, str], int] = {}
    a_entries = []
    for j, (row, column) in enumerate(hidden):
        for line in (("rows", "*" if row in hidden_rows else row), ("columns", "*" if column in hidden_columns else column)):
            a_entries.append((lines.setdefault(line, len(lines)), j))
    a = np.zeros((len(lines), len(hidden)))
    for i, j in a_entries:
        a[i, j] = 1.0
    _, singular, vt = np.linalg.svd(a, full_matrices=False)
    basis = vt[singular > 1e-9 * singular.max()]
    determined = (basis**2).sum(axis=0) > 1 - 1e-6
    return [key for key, known in zip(hidden, determined, strict=True)
            if known and not floor.allows(cells[key].people, cells[key].conversations)]
