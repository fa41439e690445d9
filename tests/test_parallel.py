"""The parallel runner (parser processes running the pure stages) stores exactly what the
sequential one does."""

from pathlib import Path

import pytest

import worksignal.pipeline as pipeline
from worksignal.pipeline import ingest
from worksignal.simulate import simulate
from worksignal.store import Store

pytestmark = pytest.mark.slow


def test_parallel_and_sequential_runs_store_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    org = tmp_path / "org"
    simulate(org, people=40, days=5, seed=4)
    monkeypatch.setenv("WORKSIGNAL_BATCH_SIZE", "200")
    pools = []
    real_pool = pipeline.ProcessPoolExecutor

    def counting_pool(*args, **kwargs):
        pools.append(args)
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", counting_pool)
    fingerprints = []
    for name, workers, threshold in (("sequential", "1", 1 << 40), ("parallel", "2", 0)):
        monkeypatch.setenv("WORKSIGNAL_WORKERS", workers)
        monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", threshold)
        with Store(tmp_path / f"{name}.duckdb") as db:
            ingest([org / "people.csv", org / "conversations.jsonl"], db, tier="fast")
            fingerprints.append(db.fingerprint())
            assert db.query("SELECT count(*) FROM scan_spans")[0][0] > 0
    assert len(pools) == 1  # only the parallel run (and only for the JSONL file) used processes
    assert fingerprints[0] == fingerprints[1]
