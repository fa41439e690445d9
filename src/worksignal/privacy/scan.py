"""Scanning stage: PII and secrets that people carried into the AI tool.

Detectors are cheap and offline: detect-secrets' pattern plugins for keys and tokens, a
keyword-anchored high-entropy rule for passwords and secrets in assignments and connection
strings (entropy alone flags ordinary words), and validated PII patterns (Luhn for cards,
mod-97 for IBANs, address parsing for IPs). Spans go to a side table; text is rewritten
only at export.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa
from stdnum import iban, luhn

SECRET_PLUGINS = [
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "MailchimpDetector", "NpmDetector",
    "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
]
_ASSIGNED = re.compile(
    r"(?i)\w*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret|auth)\w*"
    r"\s*[:=]\s*['\"]?([^\s'\"`,;]{8,})"
)
_CONNECTION = re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]+:([^\s@/]{4,})@[^\s/]+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,16}\d(?!\w)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_NINO = re.compile(r"\b(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIOQUV])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")


@dataclass(frozen=True)
class Span:
    field: str
    start: int
    end: int
    type: str
    detector: str


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


class Scanner:
    """Finds spans of PII and secrets in text; one instance loads detect-secrets once."""

    def __init__(self) -> None:
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import get_settings

        # Pattern plugins only: detect-secrets' entropy plugins flag ordinary words.
        get_settings().configure_plugins([{"name": n} for n in SECRET_PLUGINS])
        self._scan_line = scan_line

    def __reduce__(self) -> tuple[type[Scanner], tuple[()]]:
        """Rebuilt, not copied, in another process: detect-secrets' plugin set is global state."""
        return (Scanner, ())

    def secrets(self, text: str, field: str) -> list[Span]:
        spans = []
        offset = 0
        for line in text.splitlines(keepends=True):
            if len(line) > 6:
                for secret in self._scan_line(line.rstrip("\n")):
                    value = secret.secret_value or ""
                    at = line.find(value) if value else -1
                    start = offset + max(at, 0)
                    spans.append(Span(field, start, start + (len(value) if at >= 0 else len(line)),
                                      secret.type.lower().replace(" ", "_"), "detect-secrets"))
            offset += len(line)
        for pattern, kind in ((_ASSIGNED, "assigned_secret"), (_CONNECTION, "connection_password")):
            for m in pattern.finditer(text):
                value = m.group(1)
                looks_secret = kind == "connection_password" or (_entropy(value) >= 3.0 and not value.isalpha())
                if looks_secret and not any(s.start <= m.start(1) < s.end for s in spans):
                    spans.append(Span(field, m.start(1), m.end(1), kind, "keyword-entropy"))
        return spans

    def pii(self, text: str, field: str) -> list[Span]:
        spans = [Span(field, m.start(), m.end(), "email", "regex") for m in _EMAIL.finditer(text)]
        for m in _CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
                spans.append(Span(field, m.start(), m.end(), "card_number", "luhn"))
        for m in _IBAN.finditer(text):
            if iban.is_valid(m.group()):
                spans.append(Span(field, m.start(), m.end(), "iban", "mod97"))
        for m in _IPV4.finditer(text):
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if not (address.is_loopback or address.is_unspecified):
                spans.append(Span(field, m.start(), m.end(), "ip_address", "regex"))
        for pattern, kind in ((_SSN, "us_ssn"), (_NINO, "uk_nino")):
            spans.extend(Span(field, m.start(), m.end(), kind, "regex") for m in pattern.finditer(text))
        taken = [(s.start, s.end) for s in spans]
        for m in _PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            formatted = m.group().startswith("+") or re.search(r"\d[ ().-]+\d", m.group())
            overlaps = any(a <= m.start() < b or a < m.end() <= b for a, b in taken)
            date_or_ip = _IPV4.fullmatch(m.group().strip()) or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", m.group())
            # Part of a longer run of digit groups (a failed card number, an account id)?
            date_or_ip = date_or_ip or re.match(r"[ -]\d", text[m.end() : m.end() + 2])
            if formatted and 9 <= len(digits) <= 15 and not overlaps and not date_or_ip:
                spans.append(Span(field, m.start(), m.end(), "phone", "regex"))
        return spans

    def scan(self, text: str, field: str) -> list[Span]:
        if not text:
            return []
        secrets = self.secrets(text, field)
        # A PII match inside a secret (user:pass@host looks like an email) is the secret.
        pii = [p for p in self.pii(text, field) if not any(s.start < p.end and p.start < s.end for s in secrets)]
        return secrets + pii


SPAN_TYPE = pa.list_(pa.struct([("field", pa.string()), ("start", pa.int32()), ("end", pa.int32()),
                                ("type", pa.string()), ("detector", pa.string())]))
SECRET_TYPES_DETECTORS = {"detect-secrets", "keyword-entropy"}


class ScanStage:
    """Stage: adds `scan_spans`, `pii_counts` and `secrets` columns from the user turns."""

    def __init__(self, scanner: Scanner | None = None) -> None:
        self.scanner = scanner or Scanner()

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        first = batch.column("user_text").to_pylist()
        context = batch.column("context_text").to_pylist() if "context_text" in batch.schema.names else [""] * len(first)
        spans, pii_counts, secrets = [], [], []
        for a, b in zip(first, context, strict=True):
            found = self.scanner.scan(a or "", "first") + self.scanner.scan(b or "", "context")
            spans.append([s.__dict__ for s in found])
            secrets.append(sum(s.detector in SECRET_TYPES_DETECTORS for s in found))
            pii_counts.append(sorted(Counter(s.type for s in found if s.detector not in SECRET_TYPES_DETECTORS).items()))
        batch = batch.append_column("scan_spans", pa.array(spans, SPAN_TYPE))
        batch = batch.append_column("pii_counts", pa.array(pii_counts, pa.map_(pa.string(), pa.int32())))
        return batch.append_column("secrets", pa.array(secrets, pa.int32()))
