import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_llm import fake_llm_server
from worksignal.classify.model import ClassifierModel
from worksignal.pipeline import ingest
from worksignal.simulate import simulate
from worksignal.store import Store


@pytest.mark.slow
def test_teach_labels_a_sample_retrains_and_reports_agreement(tmp_path: Path):
    org = tmp_path / "org"
    simulate(org, people=30, days=3, seed=9)
    store_path = tmp_path / "s.duckdb"
    with Store(store_path) as db:
        ingest([org / "conversations.jsonl"], db, tier="fast")
    with fake_llm_server() as (url, fake):
        result = subprocess.run(
            [sys.executable, "-m", "worksignal", "teach", "--store", str(store_path), "--llm-url", url,
             "--llm-model", "fake", "--sample", "120", "--out", str(tmp_path / "taught"), "--json"],
            check=True, capture_output=True, text=True, env={**os.environ, "WORKSIGNAL_LLM_RATE": "1000"})
    data = json.loads(result.stdout)
    assert data["sampled"] == 120 and data["llm_labelled"] == 120 and len(fake.requests) == 120
    assert data["trained_on"] + data["held_out"] == 120
    assert -1 <= data["work_kappa_before"] <= 1 and -1 <= data["work_kappa_after"] <= 1
    taught = ClassifierModel.load(tmp_path / "taught")
    assert taught.version == data["model_version"]
    assert taught.work_prior == pytest.approx(data["work_share"], abs=1e-4)  # the sample's share, by default
