"""The pipeline's classify stage, chosen by the `tier` setting."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from worksignal.classify.cascade import MODES, Cascade
from worksignal.classify.llm import LLMClassifier
from worksignal.classify.model import ClassifierModel
from worksignal.classify.rules import RuleClassifier
from worksignal.config import setting
from worksignal.errors import UsageError

TIER_CHOICES = (*MODES, "rules")


def llm_from_settings(url: str | None = None, model: str | None = None) -> LLMClassifier | None:
    """The LLM tier when a URL is configured (flag or WORKSIGNAL_LLM_URL), else None."""
    url = setting("llm_url", url)
    if not url:
        return None
    model = setting("llm_model", model)
    if not model:
        raise UsageError("--llm-url needs --llm-model (or WORKSIGNAL_LLM_MODEL) too.")
    return LLMClassifier(url, model, api_key=setting("llm_key") or None, max_calls=setting("llm_budget"),
                         per_second=setting("llm_rate"))


def classify_stage(tier: str | None = None, model_dir: str | None = None, llm: LLMClassifier | None = None,
                   work_prior: float | None = None) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """A Cascade over the shipped (or given) model, or the rules stand-in."""
    tier = setting("tier", tier)
    if tier not in TIER_CHOICES:
        raise UsageError(f"tier {tier!r} is not one of {', '.join(TIER_CHOICES)}.")
    if tier == "rules":
        return RuleClassifier()
    return Cascade(ClassifierModel.load(setting("model_dir", model_dir) or None, work_prior), tier, llm=llm)
