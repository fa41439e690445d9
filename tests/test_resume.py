"""A run killed with SIGKILL part-way, then run again, ends with the same store content."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from worksignal.simulate import simulate
from worksignal.store import Store

pytestmark = pytest.mark.slow


def _ingest_command(org: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "worksignal", "ingest", str(org / "people.csv"),
            str(org / "conversations.jsonl"), "--store", str(store), "--json"]


def test_sigkill_then_rerun_matches_uninterrupted_run(tmp_path: Path):
    org = tmp_path / "org"
    total = simulate(org, people=120, days=25, seed=5)["conversations"]
    env = {**os.environ, "WORKSIGNAL_BATCH_SIZE": "300"}

    clean = tmp_path / "clean.duckdb"
    started = time.perf_counter()
    subprocess.run(_ingest_command(org, clean), env=env, check=True, capture_output=True)
    duration = time.perf_counter() - started
    with Store(clean, read_only=True) as db:
        expected = db.fingerprint()
        assert db.query("SELECT count(*) FROM conversations")[0][0] == total

    killed = tmp_path / "killed.duckdb"
    partial = None
    for fraction in (0.5, 0.35, 0.65, 0.25, 0.8, 0.15):
        for suffix in ("", ".wal"):
            Path(str(killed) + suffix).unlink(missing_ok=True)
        proc = subprocess.Popen(_ingest_command(org, killed), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not still_running or not killed.exists():
            continue
        with Store(killed) as db:
            partial = db.query("SELECT count(*) FROM conversations")[0][0]
        if 0 < partial < total:
            break
    assert partial is not None and 0 < partial < total, "could not kill the run part-way"

    rerun = subprocess.run(_ingest_command(org, killed), env=env, check=True, capture_output=True, text=True)
    assert '"unchanged"' in rerun.stdout
    with Store(killed, read_only=True) as db:
        assert db.fingerprint() == expected
        assert db.query("SELECT count(*) FROM ingest_runs WHERE status = 'running'")[0][0] >= 1
