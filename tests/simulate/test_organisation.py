import csv
import hashlib
import json
from pathlib import Path

from worksignal.simulate import simulate
from worksignal.simulate.bank import KINDS, load


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_deterministic_per_seed(tmp_path: Path):
    simulate(tmp_path / "a", people=60, days=5, seed=3)
    simulate(tmp_path / "b", people=60, days=5, seed=3)
    simulate(tmp_path / "c", people=60, days=5, seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_organisation_shape_and_truth_kept_apart(tmp_path: Path):
    counts = simulate(tmp_path, people=400, days=10, seed=7, quota=5)
    people = list(csv.DictReader((tmp_path / "people.csv").open()))
    assert len(people) == 400 == counts["people"]
    sizes: dict[str, int] = {}
    for p in people:
        sizes[p["team"]] = sizes.get(p["team"], 0) + 1
        assert p["email"].endswith("@acme-corp.example")
    assert any(n < 10 for n in sizes.values()) and any(n >= 10 for n in sizes.values())
    assert {"behaviour"} <= set(csv.DictReader((tmp_path / "truth" / "people.csv").open()).fieldnames or [])
    behaviours = {r["behaviour"] for r in csv.DictReader((tmp_path / "truth" / "people.csv").open())}
    assert behaviours == {"honest", "light", "padder"}
    logs = [json.loads(line) for line in (tmp_path / "conversations.jsonl").open()]
    truth = [json.loads(line) for line in (tmp_path / "truth" / "conversations.jsonl").open()]
    assert len(logs) == len(truth) == counts["conversations"]
    assert "kind" not in logs[0] and "work" not in logs[0]  # the logs carry no answers
    kinds = {t["kind"] for t in truth}
    assert kinds == {"work", "personal", "padding"}
    # Padding lands late in the day, where quota bunching shows.
    padding_hours = [int(log["created_at"][11:13]) for log, t in zip(logs, truth, strict=True) if t["kind"] == "padding"]
    assert min(padding_hours) >= 16


def test_prompt_bank_is_large_varied_and_multilingual():
    work = load("work_technical") + load("work_business")
    personal = load("personal") + load("padding")
    assert len(work) >= 1500 and len(personal) >= 1000
    assert len({p.text for p in work + personal}) == len(work + personal)
    assert {p.topic for p in load("personal")} >= {"cooking", "health", "relationships", "fiction", "about_model"}
    languages = {p.lang for p in work}
    assert len(languages) >= 8
    assert sum(p.lang != "en" for p in work) / len(work) > 0.1
    assert all(kind in KINDS for kind in KINDS)
