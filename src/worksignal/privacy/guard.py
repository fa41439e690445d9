"""The privacy guard: every aggregate a non-admin sees passes through here.

A cell (a team, a topic bucket, a team-week) is shown only when it covers at least
`min_group_size` distinct people and `min_conversations` conversations. Complementary
suppression then hides more cells until what the hidden ones add up to (the parent total
minus the shown cells, which anyone can compute) is itself a group above the floor, so
no suppressed figure can be recovered by subtraction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from worksignal.config import setting

BELOW_FLOOR = "below_floor"
COMPLEMENTARY = "complementary"


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
