"""The pipeline's classify stage, chosen by the `tier` setting."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from worksignal.classify.cascade import MODES, Cascade
from worksignal.classify.model import ClassifierModel
from worksignal.classify.rules import RuleClassifier
from worksignal.config import setting
from worksignal.errors import UsageError

TIER_CHOICES = (*MODES, "rules")


def classify_stage(tier: str | None = None, model_dir: str | None = None) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """A Cascade over the shipped (or given) model, or the rules stand-in."""
    tier = setting("tier", tier)
    if tier not in TIER_CHOICES:
        raise UsageError(f"tier {tier!r} is not one of {', '.join(TIER_CHOICES)}.")
    if tier == "rules":
        return RuleClassifier()
    return Cascade(ClassifierModel.load(setting("model_dir", model_dir) or None), tier)
