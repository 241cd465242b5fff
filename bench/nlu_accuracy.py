"""Benchmark: how often the intent parser is right, per intent, on the part tuned on and the part held out.

Reads ``tests/data/nlu_set.jsonl`` (one labelled utterance a line: ``text``, ``intent``,
``order_refs``, ``code``, and ``split``: ``dev`` for the part the rules were tuned on,
``heldout`` for the part nobody tuned on), parses every text with a default ``Parser()``
and prints, for each part apart, the share of intents right overall and per intent, and
the share where the order references and the code are right as well. ``-v`` lists the
misses.

    python bench/nlu_accuracy.py
    python bench/nlu_accuracy.py -v
    python bench/nlu_accuracy.py --file other.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.conversation.nlu import INTENTS, Parser

SET_FILE = ROOT / "tests" / "data" / "nlu_set.jsonl"
PARTS = (("dev", "tuned on"), ("heldout", "held out"))


def rows(path: Path) -> list[dict]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("split") not in dict(PARTS):
            sys.exit(f"{path}:{n}: split must be one of {', '.join(dict(PARTS))}, not {row.get('split')!r}")
        out.append(row)
    return out


def report(name: str, labelled: list[dict], parser: Parser, verbose: bool) -> None:
    n = len(labelled)
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong_as: dict[str, Counter[str]] = defaultdict(Counter)
    whole = 0
    misses = []
    for row in labelled:
        got = parser.parse(row["text"])
        total[row["intent"]] += 1
        if got.intent == row["intent"]:
            right[row["intent"]] += 1
            if list(got.order_refs) == row["order_refs"] and got.code == row["code"]:
                whole += 1
                continue
        else:
            wrong_as[row["intent"]][got.intent] += 1
        misses.append((row, got))
    print(f"\n{name}: {n} utterances")
    print(f"  intent right         {sum(right.values()):4d} / {n:<4d} {sum(right.values()) / n:7.1%}")
    print(f"  intent, refs, code   {whole:4d} / {n:<4d} {whole / n:7.1%}")
    print(f"  {'intent':<16} {'right':>5} / {'n':<4} {'share':>7}   taken instead for")
    for intent in INTENTS:
        if not total[intent]:
            continue
        instead = ", ".join(f"{k} ×{v}" for k, v in wrong_as[intent].most_common())
        print(f"  {intent:<16} {right[intent]:5d} / {total[intent]:<4d} {right[intent] / total[intent]:7.1%}   "
              f"{instead}".rstrip())
    if verbose:
        for row, got in misses:
            print(f"    miss: {row['text']!r}: wanted {row['intent']} {row['order_refs']} {row['code']}, "
                  f"got {got.intent} {list(got.order_refs)} {got.code}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=SET_FILE, help="the labelled set (default tests/data/nlu_set.jsonl)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = ap.parse_args()
    if not args.file.exists():
        sys.exit(f"{args.file}: no such file")
    labelled = rows(args.file)
    parser = Parser()
    print(f"{args.file.name}: {len(labelled)} utterances")
    for split, name in PARTS:
        part = [r for r in labelled if r["split"] == split]
        if part:
            report(f"{name} ({split})", part, parser, args.verbose)


if __name__ == "__main__":
    main()
