"""The simulator's prompt bank: hand-written prompts shipped with the package.

It is kept apart from any classifier training corpus, so that figures measured on
simulated data never flatter a classifier that was trained on the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import orjson

from worksignal.errors import WorksignalError

KINDS = ("work_technical", "work_business", "personal", "padding", "followups")


@dataclass(frozen=True)
class Prompt:
    text: str
    work: int | None
    topic: str
    intent: str
    lang: str
    role: str


@cache
def load(kind: str) -> tuple[Prompt, ...]:
    """All prompts of one bank file, in file order (so sampling is deterministic)."""
    try:
        data = resources.files("worksignal.simulate").joinpath("bank", f"{kind}.jsonl").read_bytes()
    except FileNotFoundError as exc:
        raise WorksignalError(f"prompt bank file {kind}.jsonl is missing; reinstall worksignal.") from exc
    return tuple(Prompt(**orjson.loads(line)) for line in data.splitlines() if line.strip())


def by_role(kind: str) -> dict[str, tuple[Prompt, ...]]:
    groups: dict[str, list[Prompt]] = {}
    for prompt in load(kind):
        groups.setdefault(prompt.role, []).append(prompt)
    return {role: tuple(prompts) for role, prompts in groups.items()}
