"""Benchmark: ingest + store of simulated OpenAI-JSONL conversations (target >= 20,000/s,
peak RSS < 1.5 GB on 2 cores).

Prints throughput and peak resident memory of the whole process tree (the ingest command
and its parser processes, sampled every 50 ms), next to a baseline measured in the same
run: decoding every line with orjson and nothing else, the floor of any JSON ingest.

"ingest + store" runs `ingest --no-classify --no-scan` (parse, normalise, pseudonymise,
store); the figures with scanning, and with labels (`--tier fast` on everything, the
default cascade on a tenth) follow, since those stages then bound the rate.

    python bench/ingest.py [--conversations 1000000] [--workdir bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psutil

from worksignal.simulate import simulate


def make_input(workdir: Path, conversations: int) -> Path:
    """Simulate until there are enough conversations, then keep exactly the first N lines."""
    path = workdir / f"conversations-{conversations}.jsonl"
    if path.exists():
        return path
    people = max(50, conversations // 400)
    days = 60
    org = workdir / "org"
    while True:
        counts = simulate(org, people=people, days=days, seed=11)
        if counts["conversations"] >= conversations:
            break
        people = int(people * conversations / max(counts["conversations"], 1) * 1.1) + 1
    with (org / "conversations.jsonl").open("rb") as src, path.open("wb") as dst:
        for _, line in zip(range(conversations), src, strict=False):
            dst.write(line)
    return path


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS of the process tree, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed with exit code {proc.returncode}")
    return time.perf_counter() - start, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    data = make_input(args.workdir, args.conversations)
    print(f"input: {data} ({data.stat().st_size / 1e6:,.0f} MB), prepared in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with data.open("rb") as f:
        n = sum(1 for line in f if orjson.loads(line))
    baseline = time.perf_counter() - t0

    store = args.workdir / "bench.duckdb"
    for suffix in ("", ".wal"):
        Path(str(store) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "WORKSIGNAL_KEY": "bench-key-0123456789abcdef"}
    command = [sys.executable, "-m", "worksignal", "ingest", str(data), "--store", str(store), "--json",
               "--no-classify", "--no-scan"]
    seconds, peak, out = run_measured(command, env)
    result = json.loads(out)
    again, peak_again, out_again = run_measured(command, env)
    unchanged = json.loads(out_again)["unchanged"]

    print(f"cores: {os.cpu_count()}")
    print(f"baseline, orjson decode only: {n / baseline:,.0f} lines/s ({baseline:.1f} s)")
    print(f"ingest + store: {result['ingested']:,} conversations in {seconds:.1f} s = "
          f"{result['ingested'] / seconds:,.0f} conversations/s (target >= 20,000); "
          f"{(n / baseline) / (result['ingested'] / seconds):.1f}x the decode-only time")
    print(f"peak RSS (process tree): {peak / 2**30:.2f} GiB (target < 1.5 GB)")
    print(f"re-ingest, all unchanged: {unchanged:,} in {again:.1f} s = {unchanged / again:,.0f}/s, "
          f"peak RSS {peak_again / 2**30:.2f} GiB")
    print(f"store size: {store.stat().st_size / 1e6:,.0f} MB")

    # Peak memory must not grow with file size: the same ingest over a fifth of the input.
    fifth = _head(data, args.workdir, args.conversations // 5)
    small_store = args.workdir / "bench-fifth.duckdb"
    for suffix in ("", ".wal"):
        Path(str(small_store) + suffix).unlink(missing_ok=True)
    small_command = [*command[:4], str(fifth), "--store", str(small_store), "--json", "--no-classify", "--no-scan"]
    small_seconds, small_peak, small_out = run_measured(small_command, env)
    small_n = json.loads(small_out)["ingested"]
    print(f"same ingest of {small_n:,}: {small_n / small_seconds:,.0f}/s, peak RSS {small_peak / 2**30:.2f} GiB "
          f"({peak / small_peak:.2f}x the peak for 5x the data)")

    # With scanning, then end to end with labels.
    tenth = _head(data, args.workdir, args.conversations // 10)
    for name, path, extra in (("scan", data, ["--no-classify"]), ("scan + classify (fast)", data, ["--tier", "fast"]),
                              ("scan + classify (cascade)", tenth, ["--tier", "cascade"])):
        staged_store = args.workdir / "bench-staged.duckdb"
        for suffix in ("", ".wal"):
            Path(str(staged_store) + suffix).unlink(missing_ok=True)
        staged = [*command[:4], str(path), "--store", str(staged_store), "--json", *extra]
        seconds, staged_peak, staged_out = run_measured(staged, env)
        n_staged = json.loads(staged_out)["ingested"]
        print(f"ingest + {name} + store: {n_staged:,} in {seconds:.1f} s = {n_staged / seconds:,.0f}/s, "
              f"peak RSS {staged_peak / 2**30:.2f} GiB")


def _head(data: Path, workdir: Path, n: int) -> Path:
    path = workdir / f"conversations-{n}.jsonl"
    with data.open("rb") as src, path.open("wb") as dst:
        for _, line in zip(range(n), src, strict=False):
            dst.write(line)
    return path


if __name__ == "__main__":
    main()
