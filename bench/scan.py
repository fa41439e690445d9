"""Benchmark: PII and secret scanning throughput (target >= 2,000 messages/s on 2 cores).

Messages are the user turns of a simulated organisation (with its planted keys and
contact details), scanned by the default detectors in one process; the baseline in the
same run is a single compiled email regex over the same messages.

    python bench/scan.py [--messages 50000]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from worksignal.privacy.scan import Scanner
from worksignal.simulate import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()
    messages: list[str] = []
    truth = {"secret": 0, "pii": 0}
    with tempfile.TemporaryDirectory() as tmp:
        simulate(tmp, people=max(50, args.messages // 100), days=20, seed=3)
        with (Path(tmp) / "conversations.jsonl").open() as logs, (Path(tmp) / "truth" / "conversations.jsonl").open() as t:
            for line, truth_line in zip(logs, t, strict=True):
                record, facts = json.loads(line), json.loads(truth_line)
                messages += [m["content"] for m in record["messages"] if m["role"] == "user"]
                truth["secret"] += facts["secret"]
                truth["pii"] += facts["pii"]
                if len(messages) >= args.messages:
                    break
    scanner = Scanner()
    start = time.perf_counter()
    found = [scanner.scan(m, "first") for m in messages]
    seconds = time.perf_counter() - start
    email = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
    start = time.perf_counter()
    for m in messages:
        email.findall(m)
    baseline = time.perf_counter() - start
    kinds: dict[str, int] = {}
    for spans in found:
        for s in spans:
            kinds[s.type] = kinds.get(s.type, 0) + 1
    print(f"messages: {len(messages):,} simulated user turns, mean {sum(map(len, messages)) / len(messages):.0f} characters")
    print(f"default detectors: {len(messages) / seconds:,.0f} messages/s (target >= 2,000)")
    print(f"baseline, one email regex: {len(messages) / baseline:,.0f} messages/s "
          f"({seconds / baseline:.0f}x the time)")
    print(f"findings by type: {dict(sorted(kinds.items()))}")
    print(f"planted in these conversations: {truth['secret']} key pairs, {truth['pii']} contact blocks")


if __name__ == "__main__":
    main()
