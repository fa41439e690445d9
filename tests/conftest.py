"""Shared fixtures: a fixed pseudonymisation key, a fresh store, and the shared data folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from worksignal.ingest import Adapter, Quarantined, Source
from worksignal.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FORMATS = SHARED / "formats"
TEST_KEY = "test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKSIGNAL_KEY", TEST_KEY)
    monkeypatch.setenv("WORKSIGNAL_KEY_FILE", str(tmp_path / "no-key-file"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.duckdb") as db:
        yield db


@pytest.fixture
def formats() -> Path:
    if not FORMATS.is_dir():
        pytest.skip("shared format samples (../shared/data/formats) are not present")
    return FORMATS


def read_all(adapter: Adapter, path: Path, max_bytes: int = 1 << 20) -> tuple[list[dict], list[Quarantined]]:
    """Every output of an adapter over one file, split into records and quarantine entries."""
    records, quarantined = [], []
    for output in adapter.read(Source(path), max_bytes):
        (quarantined if isinstance(output, Quarantined) else records).append(output)
    return records, quarantined
