"""The benchmarks still run and print the figures the README quotes (tiny sizes: no timing is checked)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str, *args: str) -> str:
    return subprocess.run([sys.executable, str(BENCH / script), *args], check=True, capture_output=True,
                          text=True, timeout=300).stdout


@pytest.mark.slow
def test_classify_benchmark_prints_every_tier_and_the_model_size():
    output = run("classify.py", "--n", "300")
    for line in ("shipped model files:", "cold start, fast:", "cold start, cascade:", "baseline, model2vec",
                 "fast: ", "accurate: ", "ensemble: ", "cascade: ", "ru_maxrss:"):
        assert line in output, f"{line!r} missing from bench/classify.py's output"
    assert "distinct)" in output


@pytest.mark.slow
def test_ingest_benchmark_prints_throughput_and_memory(tmp_path: Path):
    output = run("ingest.py", "--conversations", "1000", "--workdir", str(tmp_path))
    assert "ingest + scan + classify (fast) + store: 1,000" in output and "peak RSS" in output


def test_scan_benchmark_prints_findings_and_its_baseline():
    output = run("scan.py", "--messages", "500")
    assert "baseline, one email regex" in output and "findings by type" in output
