"""Benchmark: how long the intent parser takes per message.

Parses the labelled dev sample (``../shared/data/nlu_dev.jsonl``, when present), the
held-out table of ``tests/test_nlu.py`` and the labelled set ``tests/data/nlu_set.jsonl``
(both its parts), round robin, ``-n`` times, timing every parse on
its own with ``time.perf_counter_ns``. Prints the count, mean, p50, p99 and max in
microseconds and whether p99 is under the 2 ms target. The first pass over the messages
(cold: typo corrections not yet cached) is reported apart and not counted.

    python bench/nlu.py               # 20,000 parses
    python bench/nlu.py -n 100000
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the held-out table lives in the tests

from bot.conversation.nlu import Parser
from tests.test_nlu import DEV_FILE, HELD_OUT

TARGET_P99_US = 2_000
SET_FILE = ROOT / "tests" / "data" / "nlu_set.jsonl"


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def utterances() -> list[str]:
    """The dev sample, the held-out table, then the labelled set."""
    dev = []
    if DEV_FILE.exists():
        dev = _texts(DEV_FILE)
    else:
        print(f"note: {DEV_FILE} is absent; timing the held-out table and the set only", file=sys.stderr)
    return list(dict.fromkeys(dev + [text for text, _, _ in HELD_OUT] + _texts(SET_FILE)))  # each once


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--parses", type=int, default=20_000, help="timed parses (default 20,000)")
    args = ap.parse_args()

    texts = utterances()
    t0 = time.perf_counter_ns()
    parser = Parser()
    build_us = (time.perf_counter_ns() - t0) / 1000

    cold = []
    for text in texts:
        t0 = time.perf_counter_ns()
        parser.parse(text)
        cold.append(time.perf_counter_ns() - t0)

    timings = []
    for k in range(args.parses):
        text = texts[k % len(texts)]
        t0 = time.perf_counter_ns()
        parser.parse(text)
        timings.append(time.perf_counter_ns() - t0)
    timings.sort()

    us = [t / 1000 for t in timings]
    p99 = percentile(timings, 99) / 1000
    print(f"python {platform.python_version()} on {platform.machine()}, {len(texts)} distinct utterances")
    print(f"Parser() built in {build_us:,.0f} µs; first pass (cold) mean {statistics.fmean(cold) / 1000:.1f} µs, "
          f"max {max(cold) / 1000:.1f} µs")
    print(f"count {len(us):,}")
    print(f"mean  {statistics.fmean(us):8.1f} µs")
    print(f"p50   {percentile(timings, 50) / 1000:8.1f} µs")
    print(f"p99   {p99:8.1f} µs")
    print(f"max   {us[-1]:8.1f} µs")
    ok = p99 < TARGET_P99_US
    print(f"p99 < {TARGET_P99_US / 1000:g} ms: {'yes' if ok else 'NO'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
