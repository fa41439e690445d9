"""One registry of settings: it drives CLI defaults and help, the docs, and validation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worksignal.errors import UsageError


@dataclass(frozen=True)
class Setting:
    """A named, documented knob with an environment variable and a validated default."""

    name: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def env(self) -> str:
        return "WORKSIGNAL_" + self.name.upper()

    def resolve(self, value: Any = None) -> Any:
        """Explicit value, else the environment variable, else the default; validated."""
        if value is None:
            raw = os.environ.get(self.env)
            try:
                value = self.default if raw is None else type(self.default)(raw)
            except ValueError:
                raise UsageError(f"{self.env}={raw!r} is not a valid {type(self.default).__name__} "
                                 f"for {self.name}; fix or unset it.") from None
        if self.minimum is not None and value < self.minimum:
            raise UsageError(
                f"{self.name} must be at least {self.minimum} (got {value}); "
                f"pass a larger value or unset {self.env}."
            )
        if self.maximum is not None and value > self.maximum:
            raise UsageError(
                f"{self.name} must be at most {self.maximum} (got {value}); "
                f"pass a smaller value or unset {self.env}."
            )
        return value


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("store", "worksignal.duckdb", "DuckDB file that holds the canonical tables."),
        Setting(
            "key_file",
            str(Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "worksignal" / "key"),
            "File holding the pseudonymisation key (outside the store); created on first use. "
            "WORKSIGNAL_KEY, if set, is used instead.",
        ),
        Setting(
            "memory_limit",
            "512MB",
            "DuckDB's memory budget; beyond it, large queries spill to disk instead of growing.",
        ),
        Setting("batch_size", 20_000, "Conversations per Arrow batch; bounds peak memory.", minimum=1),
        Setting(
            "workers",
            os.cpu_count() or 1,
            "Processes that parse large line-based files in parallel (1 turns it off).",
            minimum=1,
        ),
        Setting(
            "max_record_bytes",
            16 * 1024 * 1024,
            "Largest single record (line or array item) read; larger ones are quarantined.",
            minimum=1024,
        ),
        Setting(
            "tier",
            "cascade",
            "How ingest and classify label conversations: cascade, fast, accurate, ensemble, llm, "
            "or rules (the keyword stand-in).",
        ),
        Setting(
            "model_dir",
            "",
            "Folder of a model written by `worksignal train`; empty means the shipped model.",
        ),
        Setting(
            "work_prior",
            0.0,
            "Share of the organisation's AI conversations expected to be work. Work probabilities, "
            "calibrated on labelled data with its own work share, are moved to this one (label "
            "shift). 0 uses the model's own: 0.4 for the shipped model, the sample's share for a "
            "model from `worksignal teach`.",
            minimum=0.0,
            maximum=0.99,
        ),
        Setting("llm_url", "", "OpenAI-compatible API base URL for the optional llm tier (off when empty)."),
        Setting("llm_model", "", "Model name to ask at llm_url."),
        Setting("llm_key", "", "Bearer token for llm_url, if it needs one."),
        Setting("llm_budget", 1000, "Most LLM calls one command may make.", minimum=0),
        Setting("llm_rate", 5.0, "Most LLM calls per second."),
        Setting(
            "min_group_size",
            10,
            "Fewest distinct people a team row must cover to be shown in a report.",
            minimum=5,
        ),
        Setting("retention", "365d", "How long raw message content is kept; `worksignal purge` drops older content."),
        Setting(
            "min_conversations",
            10,
            "Fewest conversations a shown cell (or the residual of hidden cells) must cover.",
            minimum=1,
        ),
        Setting(
            "dp_epsilon",
            0.0,
            "Differential privacy for report counts: epsilon spent on each published count "
            "(discrete Laplace noise through OpenDP); 0 turns it off.",
            minimum=0,
        ),
    ]
}


def setting(name: str, value: Any = None) -> Any:
    """Resolve one setting by name."""
    return SETTINGS[name].resolve(value)
