"""The command contract that other checks drive, run as a real process."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from worksignal.cli import app
from worksignal.config import SETTINGS
from worksignal.simulate import simulate

README = Path(__file__).resolve().parents[1] / "README.md"


def run(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "worksignal", *args], capture_output=True, text=True,
                            env=os.environ.copy(), cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def test_ingest_json_contract_with_quarantine_exits_zero(tmp_path: Path):
    store = str(tmp_path / "s.duckdb")
    result = run("ingest", str(FIXTURES / "openai_mixed.jsonl"), "--store", store, "--json")
    data = json.loads(result.stdout)
    for field in ("ingested", "updated", "unchanged", "quarantined"):
        assert isinstance(data[field], int)
    assert data["ingested"] == 2 and data["quarantined"] == 9
    again = json.loads(run("ingest", str(FIXTURES / "openai_mixed.jsonl"), "--store", store, "--json").stdout)
    assert (again["ingested"], again["unchanged"]) == (0, 2)


def test_nothing_readable_exits_non_zero_and_says_why(tmp_path: Path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a log at all")
    result = run("ingest", str(junk), "--store", str(tmp_path / "s.duckdb"), "--json", check=False)
    assert result.returncode != 0
    assert "nothing could be read" in result.stderr and "unknown_format" in result.stderr
    assert json.loads(result.stdout)["quarantined"] == 1


def test_missing_path_is_a_clear_error(tmp_path: Path):
    result = run("ingest", str(tmp_path / "nope.jsonl"), "--store", str(tmp_path / "s.duckdb"), check=False)
    assert result.returncode == 2 and "no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_json_contract_and_small_teams_hidden(tmp_path: Path):
    org = tmp_path / "org"
    simulate(org, people=150, days=5, seed=2)
    store = str(tmp_path / "s.duckdb")
    run("ingest", str(org / "people.csv"), str(org / "conversations.jsonl"), "--store", store)
    data = json.loads(run("report", "--store", store, "--json").stdout)
    assert data["conversations"] > 0 and 140 <= data["people"] <= 150  # people who used an assistant
    assert data["people_in_directory"] == 150
    assert 0 <= data["work_share"] <= 1
    active: dict[str, set[str]] = {}
    for line in (org / "conversations.jsonl").read_text().splitlines():
        record = json.loads(line)
        active.setdefault(record["team"], set()).add(record["user"])
    sizes = {team: len(users) for team, users in active.items()}
    shown = {t["team"] for t in data["teams"]}
    assert shown <= {team for team, n in sizes.items() if n >= 10}
    hidden = {s["team"]: s["reason"] for s in data["suppressed"] if s["cell"] == "team"}
    assert set(hidden) == set(sizes) - shown and data["teams_hidden"] == len(hidden) > 0
    assert {team for team, reason in hidden.items() if reason == "below_floor"} == {t for t, n in sizes.items() if n < 10}
    for team in data["teams"]:
        assert set(team) >= {"team", "people", "conversations", "work_share"} and team["people"] >= 10
    admin = json.loads(run("report", "--store", store, "--json", "--role", "admin").stdout)
    assert {t["team"] for t in admin["teams"]} == set(sizes) and admin["suppressed"] == []
    assert data["rule_based_labels"] is False
    assert {c["tier"] for c in data["classifiers"]} <= {"fast", "accurate", "ensemble"}
    assert sum(c["conversations"] for c in data["classifiers"]) == data["labelled"]
    text = run("report", "--store", store).stdout
    assert "keyword rules" not in text and "below the minimum group size" in text
    run("ingest", str(org / "conversations.jsonl"), "--store", store, "--tier", "rules")  # unchanged: labels stay
    rules_store = str(tmp_path / "rules.duckdb")
    run("ingest", str(org / "conversations.jsonl"), "--store", rules_store, "--tier", "rules")
    assert "keyword rules" in run("report", "--store", rules_store).stdout


def test_min_group_size_floor_is_enforced(tmp_path: Path):
    store = str(tmp_path / "s.duckdb")
    run("ingest", str(FIXTURES / "openai_mixed.jsonl"), "--store", store)
    result = run("report", "--store", store, "--min-group-size", "3", check=False)
    assert result.returncode == 2 and "at least 5" in result.stderr


def test_every_command_and_setting_is_documented():
    readme = README.read_text()
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    for command in commands:
        assert re.search(rf"`{command}`", readme), f"command {command} is not in README.md"
        help_text = run(command, "--help").stdout
        assert "Example:" in help_text, f"`worksignal {command} --help` gives no example"
    for setting in SETTINGS.values():
        assert f"`{setting.name}`" in readme and setting.env in readme, f"setting {setting.name} undocumented"
    assert readme.count("make demo") >= 1 and readme.count("make test") >= 1


@pytest.mark.parametrize("command", ["formats", "settings"])
def test_listing_commands(command: str):
    assert run(command).stdout.strip()
