"""A transparent keyword classifier: a stand-in until trained tiers ship, and says so.

Every label it writes carries tier "rules" and model version RULES_VERSION, and reports
print that the labels come from keyword rules, not from a trained model.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from worksignal.classify.taxonomy import TOPIC_GROUPS

RULES_VERSION = "rules-0.1"
TIER = "rules"
_MAX_CHARS = 2000

# Evidence that a message is part of paid work, and that it is personal. Each pattern
# that matches adds one unit of evidence; the sum goes through a logistic link.
WORK_PATTERNS = [
    r"```|traceback|exception|error:|stack ?trace|\bnull\b|undefined|segfault",
    r"\b(def|class|function|import|select|insert|update|from|where|join|const|var|return)\b.*[({;=]",
    r"\b(sql|api|endpoint|deploy|kubernetes|k8s|docker|terraform|ci/cd|pipeline|repo|pull request|pr|jira|ticket|sprint|backlog|prod|staging|incident|postmortem|on-?call)\b",
    r"\b(client|customer|stakeholder|vendor|supplier|invoice|contract|proposal|quarterly|q[1-4]\b|kpi|okr|roadmap|budget|forecast|revenue|board|compliance|audit|gdpr|policy|onboarding|recruit|candidate|interview|payroll)",
    r"\b(colleague|manager|team|department|meeting|agenda|minutes|report|presentation|slide|deck|memo|email to|reply to|draft)\b",
    r"\b(kunde|rechnung|vertrag|besprechung|cliente|factura|contrato|reunión|réunion|facture|contrat|fornecedor|客户|会议|合同|клиент|договор)",
]
PERSONAL_PATTERNS = [
    r"\b(my (wife|husband|girlfriend|boyfriend|partner|kids?|son|daughter|mom|mum|dad|mother|father|dog|cat|family))\b",
    r"\b(recipe|dinner|lunch|breakfast|meal plan|grocery|groceries|vegan|bake|cook)\b",
    r"\b(birthday|wedding|date night|dating|tinder|crush|anniversary|vacation|holiday|trip to)\b",
    r"\b(poem|story|song|lyrics|joke|riddle|fan ?fiction|role ?play|let's play|dungeons)\b",
    r"\b(workout|diet|lose weight|calories|sleep|skin|acne|headache|symptom)\b",
    r"^\s*(hi|hello|hey|yo|test|testing|ok|thanks|thank you|hola|hallo|salut|привет|你好)\W*$",
    r"\b(who (made|created) you|are you (an? )?(ai|human|conscious|sentient)|what model are you)\b",
]

# First matching rule wins; order from most to least specific.
TOPIC_RULES: list[tuple[str, str]] = [
    ("about_model", r"who (made|created|trained) you|are you (an? )?(ai|human|conscious|sentient|chatgpt|gpt)|what model are you|jailbreak|ignore (all |your )?previous instructions"),
    ("chitchat", r"^\s*(hi|hello|hey|yo|sup|good (morning|evening)|how are you|hola|hallo|salut|привет|你好)\W*$"),
    ("unclear", r"^\s*\S{0,12}\s*$"),
    ("translation", r"\btranslat|übersetz|tradu[cz]|переведи|翻译"),
    ("programming", r"```|traceback|exception|stack ?trace|\b(python|javascript|typescript|java|golang|rust|c\+\+|c#|sql|bash|regex|api|function|bug|compile|docker|kubernetes|terraform|git|react|css|html|json|yaml)\b"),
    ("data_analysis", r"\b(spreadsheet|excel|pivot|dataset|csv|regression|statistic|dashboard|chart|variance|forecast|a/b test)"),
    ("math", r"\b(solve|equation|integral|derivative|probability|calculate|percent|algebra)\b|\d+\s*[-+*/^]\s*\d+"),
    ("create_image", r"\b(image|picture|logo|illustration|drawing|midjourney|dall-?e)\b.*\b(of|for|with)\b|\b(draw|generate an image)"),
    ("cooking", r"\b(recipe|cook|bake|meal|dinner|lunch|breakfast|grocery|ingredients?)\b"),
    ("health", r"\b(workout|exercise|diet|calories|symptom|pain|sleep|skin|doctor|medication|fitness)\b"),
    ("relationships", r"\b(girlfriend|boyfriend|wife|husband|partner|friend|crush|dating|breakup|feel(ing)? (sad|lonely|anxious))\b"),
    ("games_roleplay", r"\b(role ?play|let's play|game|riddle|pretend you are|dungeons|trivia)\b"),
    ("fiction", r"\b(poem|story|song|lyrics|novel|screenplay|haiku|limerick|fan ?fiction)\b"),
    ("edit_text", r"\b(rewrite|proofread|rephrase|improve|edit|correct|shorten|polish)\b"),
    ("personal_writing", r"\b(email|letter|message|card|post|bio|profile|toast|speech)\b"),
    ("argument_summary", r"\b(summar|essay|report|outline|argument|memo|brief)"),
    ("ideation", r"\b(ideas?|brainstorm|names? for|suggest|plan)\b"),
    ("products", r"\b(buy|best .* (for|under)|compare|which (laptop|phone|car)|price|review of)\b"),
    ("tutoring", r"\b(explain|what is|what are|teach me|homework|how does)\b"),
    ("how_to", r"\bhow (do|can|to|should)\b|\bsteps?\b|\bguide\b"),
    ("specific_info", r"\b(who|when|where|which|what)\b"),
]

_QUESTION = r"\?\s*$|^\s*(who|what|when|where|why|how|which|is|are|can|could|does|do|should|wie|was|warum|qué|cómo|pourquoi|comment|что|как|为什么|怎么)\b"
_DOING = r"^\s*(please\s+)?(write|create|make|generate|draft|rewrite|fix|translate|summari[sz]e|list|give|build|convert|refactor|design|plan|compose|edit|improve|explain|schreib|erstelle|escribe|écris|напиши)\b"


def _any(text: pa.Array, pattern: str) -> np.ndarray:
    hits = pc.match_substring_regex(text, pattern, ignore_case=True)
    return np.asarray(pc.fill_null(hits, False), dtype=bool)


class RuleClassifier:
    """Arrow batch in, the same batch with label columns out; vectorised with Arrow compute."""

    version = RULES_VERSION

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        text = pc.utf8_slice_codeunits(batch.column("user_text"), 0, _MAX_CHARS)
        n = len(text)
        has_text = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), False))
        evidence = np.zeros(n)
        for pattern in WORK_PATTERNS:
            evidence += _any(text, pattern)
        for pattern in PERSONAL_PATTERNS:
            evidence -= 1.2 * _any(text, pattern)
        probability = 1.0 / (1.0 + np.exp(-(1.4 * evidence - 0.4)))

        topic = np.full(n, "other", dtype=object)
        undecided = np.ones(n, dtype=bool)
        for code, pattern in TOPIC_RULES:
            hit = undecided & _any(text, pattern)
            topic[hit] = code
            undecided &= ~hit
        intent = np.full(n, "expressing", dtype=object)
        intent[_any(text, _DOING)] = "doing"
        asking = _any(text, _QUESTION)
        intent[asking & (intent != "doing")] = "asking"

        mask = ~has_text
        columns = {
            "work_probability": pa.array(probability.astype(np.float32), pa.float32(), mask=mask),
            "work": pa.array(probability >= 0.5, pa.bool_(), mask=mask),
            "topic": pa.array(topic, pa.string(), mask=mask),
            "topic_group": pa.array([TOPIC_GROUPS[t] for t in topic], pa.string(), mask=mask),
            "intent": pa.array(intent, pa.string(), mask=mask),
            "tier": pa.array(np.full(n, TIER, dtype=object), pa.string(), mask=mask),
            "model_version": pa.array(np.full(n, RULES_VERSION, dtype=object), pa.string(), mask=mask),
        }
        for name, values in columns.items():
            batch = batch.append_column(name, values)
        return batch
