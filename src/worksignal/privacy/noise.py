"""Optional differential privacy for published counts, through OpenDP.

Each count gets discrete Laplace noise calibrated so that adding or removing one
conversation changes what is published by at most `epsilon` per count (the privacy unit
is one conversation). A conversation is counted in several published figures (its team,
week, team-week, topic group and the totals), so the report states the total spent by
sequential composition beside the per-count epsilon. Noise is added after the guard has
chosen what to show, from exact counts: the floor itself is not differentially private.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worksignal.errors import UsageError


@dataclass
class CountNoise:
    """Noises integer counts with a fixed epsilon each, and counts how many it noised."""

    epsilon: float
    noised: int = 0
    _measurement: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.epsilon <= 0:
            raise UsageError("--dp-epsilon must be above 0 (0 means no noise: leave it out).")
        import opendp.prelude as dp

        dp.enable_features("contrib")
        self._measurement = dp.m.make_laplace(dp.atom_domain(T=int), dp.absolute_distance(T=int),
                                              scale=1.0 / self.epsilon)
        # OpenDP's own privacy map: what one conversation more or less costs per count.
        self.epsilon_per_count = float(self._measurement.map(1))

    def __call__(self, count: int) -> int:
        self.noised += 1
        return max(0, int(self._measurement(int(count))))

    def statement(self, counts_per_conversation: int) -> dict[str, Any]:
        """The budget, for the report to print beside the figures."""
        return {
            "mechanism": "discrete Laplace (OpenDP)",
            "unit": "one conversation",
            "epsilon_per_count": round(self.epsilon_per_count, 6),
            "counts_noised": self.noised,
            "counts_per_conversation": counts_per_conversation,
            "epsilon_total": round(self.epsilon_per_count * counts_per_conversation, 6),
            "note": "suppression decisions use exact counts; shares are computed from noised counts",
        }
