"""Simulate an organisation's AI-assistant logs, directory, outcomes and ground truth.

Teams of varied size (some under the minimum group size), honest users, light users and
people who pad a daily usage quota late in the day with greetings, fun facts and
personal chatter. Everything is drawn from one seed, so a seed names a dataset.
"""

from __future__ import annotations

import csv
import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from worksignal.simulate import bank
from worksignal.simulate.bank import Prompt

TEAMS: list[tuple[str, str]] = [
    ("payments", "engineering"), ("platform", "engineering"), ("mobile", "engineering"),
    ("data-science", "data"), ("customer-support", "support"), ("finance", "finance"),
    ("sales-emea", "sales"), ("marketing", "marketing"), ("it-operations", "it_ops"),
    ("legal", "legal"), ("people-ops", "hr"), ("product", "product"), ("design", "design"),
    ("security", "security"), ("clinical-ops", "clinical"), ("operations", "operations"),
    ("sales-americas", "sales"), ("research", "research"), ("training", "education"),
    ("search", "engineering"), ("analytics", "data"),
]
TECHNICAL_ROLES = {"engineering", "data", "it_ops", "product", "design", "security"}
TEAM_SIZES = [4, 6, 7, 9, 12, 14, 16, 18, 22, 26, 32, 40]
PADDING_PRESSURE = [0.0, 0.0, 0.05, 0.1, 0.3, 0.6]
TOOLS = ["chatgpt-enterprise", "copilot-chat", "claude", "internal-assistant"]
MODELS = ["gpt-4o", "gpt-4.1-mini", "claude-sonnet-4", "gpt-5-mini"]
FIRST = ["anna", "ben", "carla", "deniz", "elif", "farid", "greta", "hiro", "ines", "jonas", "kofi",
         "lena", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "sven", "tomoko", "ulla",
         "vikram", "wen", "xavier", "yara", "zoltan", "amara", "bruno", "chen", "dara", "emeka",
         "fatima", "gio", "hana", "ivan", "julia", "kai", "lucia", "mehmet", "noor", "olga", "pablo"]
LAST = ["schmidt", "okafor", "nakamura", "garcia", "kowalski", "dubois", "rossi", "jensen",
        "novak", "silva", "haddad", "lindqvist", "murphy", "tanaka", "fischer", "moreau", "costa",
        "yilmaz", "ivanova", "patel", "kim", "nguyen", "berg", "moretti", "santos", "wright"]
DOMAIN = "acme-corp.example"
REPLIES = {
    "doing": ["Here is a draft based on what you sent:", "Sure - here's a version you can use:",
              "Done. Below is the result, with the changes marked:"],
    "asking": ["Good question. In short:", "Here's how it works:", "The short answer is that it depends:"],
    "expressing": ["Hi! How can I help today?", "Thanks for sharing that.", "Happy to help."],
}
FILLER = ("The main points are listed below, followed by a short example and two caveats worth "
          "checking before you rely on it.")


@dataclass
class Person:
    email: str
    team: str
    role: str
    manager: str | None
    behaviour: str  # honest | light | padder
    genuine_rate: float
    personal_share: float
    opted_out: bool
    rng: random.Random = field(repr=False)
    padding_seen: list[str] = field(default_factory=list, repr=False)


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def _perturb(rng: random.Random, text: str) -> str:
    """The noise of real typing: typos, case, clipped punctuation, fillers."""
    roll = rng.random()
    if roll < 0.10 and len(text) > 8:
        i = rng.randrange(len(text) - 2)
        if text[i].isalpha() and text[i + 1].isalpha():
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    elif roll < 0.18:
        text = text.lower()
    elif roll < 0.24:
        text = text.rstrip(".?!")
    roll = rng.random()
    if roll < 0.05:
        text = rng.choice(["quick q: ", "hey, ", "pls ", "ok so ", "Hi! "]) + text
    elif roll < 0.10:
        text += rng.choice([" thanks", " thx", " asap", "!!", " :)", " - urgent"])
    return text


def _fake_secret(rng: random.Random) -> str:
    key = "AKIA" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=16))
    secret = "".join(rng.choices(string.ascii_letters + string.digits + "/+", k=40))
    return f"\n\naws_access_key_id = {key}\naws_secret_access_key = {secret}"


def _fake_pii(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"
    phone = "+44 20 " + "".join(rng.choices(string.digits, k=4)) + " " + "".join(rng.choices(string.digits, k=4))
    email = f"{name.split()[0].lower()}.{name.split()[1].lower()}@customer-mail.example"
    return f"\n\nContact: {name}, {email}, {phone}"


class Organisation:
    """The people and teams; built from the seed before any conversation is drawn."""

    def __init__(self, n_people: int, seed: int) -> None:
        rng = random.Random(seed)
        self.people: list[Person] = []
        self.team_roles: dict[str, str] = {}
        used: set[str] = set()
        heads: dict[str, str] = {}  # role family -> the first team lead of it, whom later leads report to
        index, remaining = 0, n_people
        while remaining > 0:
            name, role = TEAMS[index % len(TEAMS)]
            if index >= len(TEAMS):
                name = f"{name}-{index // len(TEAMS) + 1}"
            size = min(remaining, rng.choice(TEAM_SIZES))
            if remaining - size < 3:
                size = remaining
            pressure = rng.choice(PADDING_PRESSURE)
            self.team_roles[name] = role
            lead: str | None = None
            for _ in range(size):
                email = self._email(rng, used)
                roll = rng.random()
                behaviour = "padder" if roll < pressure else "light" if roll < pressure + 0.15 else "honest"
                rate = {"honest": rng.uniform(2, 9), "light": rng.uniform(0.3, 2), "padder": rng.uniform(0.5, 3)}[behaviour]
                personal = rng.uniform(0.03, 0.2) if behaviour != "padder" else rng.uniform(0.2, 0.35)
                self.people.append(Person(
                    email, name, role, lead or heads.get(role), behaviour, rate, personal, rng.random() < 0.03,
                    random.Random(f"{seed}:{email}"),
                ))
                if lead is None:
                    lead = email
                    heads.setdefault(role, email)
            index += 1
            remaining -= size

    @staticmethod
    def _email(rng: random.Random, used: set[str]) -> str:
        base = f"{rng.choice(FIRST)}.{rng.choice(LAST)}"
        email, n = f"{base}@{DOMAIN}", 1
        while email in used:
            n += 1
            email = f"{base}{n}@{DOMAIN}"
        used.add(email)
        return email


class Conversations:
    """Draws conversations for a person-day from the prompt bank."""

    def __init__(self, quota: int) -> None:
        self.quota = quota
        self.work = {"technical": bank.by_role("work_technical"), "business": bank.by_role("work_business")}
        self.work_all = {"technical": bank.load("work_technical"), "business": bank.load("work_business")}
        self.personal = bank.load("personal")
        self.padding = bank.load("padding")
        self.followups = bank.load("followups")

    def _work_prompt(self, person: Person) -> Prompt:
        family = "technical" if person.role in TECHNICAL_ROLES else "business"
        own = self.work[family].get(person.role)
        pool = own if own and person.rng.random() < 0.75 else self.work_all[family]
        return person.rng.choice(pool)

    def day(self, person: Person, day: date) -> list[tuple[datetime, str, Prompt]]:
        rng = person.rng
        weekend = day.weekday() >= 5
        if weekend and rng.random() > 0.08:
            return []
        drawn = []
        for _ in range(_poisson(rng, person.genuine_rate * (0.3 if weekend else 1.0))):
            personal = rng.random() < person.personal_share
            prompt = rng.choice(self.personal) if personal else self._work_prompt(person)
            minute = rng.randint(8 * 60, 18 * 60)
            drawn.append((minute, "personal" if personal else "work", prompt))
        if person.behaviour == "padder" and not weekend:
            for _ in range(max(0, self.quota - len(drawn))):
                if person.padding_seen and rng.random() < 0.3:
                    text = rng.choice(person.padding_seen)
                    prompt = next(p for p in self.padding + self.personal if p.text == text)
                else:
                    prompt = rng.choice(self.padding) if rng.random() < 0.7 else rng.choice(self.personal)
                    person.padding_seen.append(prompt.text)
                drawn.append((rng.randint(16 * 60 + 30, 17 * 60 + 59), "padding", prompt))
        drawn.sort(key=lambda d: d[0])
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return [(start + timedelta(minutes=m, seconds=rng.randint(0, 59)), kind, p) for m, kind, p in drawn]

    def messages(self, person: Person, prompt: Prompt, text: str) -> list[dict[str, str]]:
        rng = person.rng
        reply = rng.choice(REPLIES.get(prompt.intent, REPLIES["asking"]))
        out = [{"role": "user", "content": text}, {"role": "assistant", "content": f"{reply} {FILLER}"}]
        if prompt.topic not in ("chitchat", "unclear") and rng.random() < 0.35:
            for _ in range(rng.randint(1, 3)):
                follow = rng.choice(self.followups)
                out.append({"role": "user", "content": _perturb(rng, follow.text)})
                out.append({"role": "assistant", "content": rng.choice(REPLIES["doing"]) + " " + FILLER})
        return out


def simulate(
    out: Path | str,
    *,
    people: int = 200,
    days: int = 30,
    seed: int = 7,
    quota: int = 5,
    start: date = date(2026, 9, 1),
    on_day: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write conversations.jsonl, people.csv, outcomes.csv and truth/ under `out`."""
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    org = Organisation(people, seed)
    draw = Conversations(quota)
    tool_of_team = {team: random.Random(f"{seed}:{team}").choice(TOOLS) for team in org.team_roles}
    n_conversations = 0
    genuine_work: dict[str, int] = {}
    with (out / "conversations.jsonl").open("wb") as logs, (out / "truth" / "conversations.jsonl").open("wb") as truth:
        for offset in range(days):
            day = start + timedelta(days=offset)
            for person in org.people:
                for started, kind, prompt in draw.day(person, day):
                    rng = person.rng
                    text = _perturb(rng, prompt.text) if kind != "padding" else prompt.text
                    secret = kind == "work" and rng.random() < 0.004
                    pii = kind == "work" and rng.random() < 0.01
                    text += (_fake_secret(rng) if secret else "") + (_fake_pii(rng) if pii else "")
                    messages = draw.messages(person, prompt, text)
                    conversation_id = f"sim-{seed}-{n_conversations:09d}"
                    n_conversations += 1
                    if kind == "work":
                        genuine_work[person.email] = genuine_work.get(person.email, 0) + 1
                    tokens_in = sum(len(m["content"]) for m in messages if m["role"] == "user") // 4 + 20
                    tokens_out = sum(len(m["content"]) for m in messages if m["role"] == "assistant") // 4
                    logs.write(orjson.dumps({
                        "id": conversation_id,
                        "user": person.email,
                        "team": person.team,
                        "tool": tool_of_team[person.team],
                        "model": MODELS[(n_conversations * 7 + len(text)) % len(MODELS)],
                        "created_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out},
                        "messages": messages,
                    }) + b"\n")
                    truth.write(orjson.dumps({
                        "id": conversation_id, "user": person.email, "kind": kind,
                        "work": prompt.work if kind == "work" else 0, "topic": prompt.topic,
                        "intent": prompt.intent, "lang": prompt.lang, "secret": secret, "pii": pii,
                    }) + b"\n")
            if on_day is not None:
                on_day(offset + 1)
    _write_people(out, org)
    n_outcomes = _write_outcomes(out, org, genuine_work, days, start, seed)
    return {"people": len(org.people), "teams": len(org.team_roles),
            "conversations": n_conversations, "outcomes": n_outcomes}


def _write_people(out: Path, org: Organisation) -> None:
    with (out / "people.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "team", "manager", "role", "opted_out"])
        for p in org.people:
            writer.writerow([p.email, p.team, p.manager or "", p.role, str(p.opted_out).lower()])
    with (out / "truth" / "people.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "team", "behaviour", "genuine_rate", "personal_share"])
        for p in org.people:
            writer.writerow([p.email, p.team, p.behaviour, f"{p.genuine_rate:.3f}", f"{p.personal_share:.3f}"])


def _write_outcomes(out: Path, org: Organisation, genuine_work: dict[str, int], days: int, start: date, seed: int) -> int:
    """Engineering outcomes per person-week; genuine AI work has a known, modest effect."""
    rng = random.Random(f"{seed}:outcomes")
    effect = {"pr_merged_per_genuine_conversation_per_week": 0.05, "cycle_hours_multiplier_at_full_use": 0.85}
    rows = 0
    with (out / "outcomes.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["event_id", "team", "person", "kind", "occurred_at", "value", "source"])
        for p in org.people:
            if p.role not in TECHNICAL_ROLES:
                continue
            weekly_work = genuine_work.get(p.email, 0) / max(days / 7, 1)
            for week in range(max(days // 7, 1)):
                week_start = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(weeks=week)
                for _ in range(_poisson(rng, 2.0 + effect["pr_merged_per_genuine_conversation_per_week"] * weekly_work)):
                    use = min(weekly_work / 30, 1.0)
                    hours = rng.lognormvariate(math.log(30), 0.6) * (1 - (1 - effect["cycle_hours_multiplier_at_full_use"]) * use)
                    when = week_start + timedelta(hours=rng.uniform(0, 120))
                    writer.writerow([f"pr-{seed}-{rows}", p.team, p.email, "pr_merged", when.isoformat(), f"{hours:.1f}", "github"])
                    rows += 1
                if rng.random() < 0.3:
                    when = week_start + timedelta(hours=rng.uniform(0, 120))
                    writer.writerow([f"bug-{seed}-{rows}", p.team, p.email, "bug_opened", when.isoformat(), "1", "jira"])
                    rows += 1
    (out / "truth" / "effects.json").write_bytes(orjson.dumps(effect, option=orjson.OPT_INDENT_2))
    return rows
