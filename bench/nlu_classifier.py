"""Benchmark: would a small learned classifier beside the rules understand more?

Trains a character n-gram model (multinomial naive Bayes over 1- to 3-grams of the text
with order numbers and digits masked, written here: no dependency for an experiment) on the
``dev`` part of ``tests/data/nlu_set.jsonl`` and measures it on the ``heldout`` part, which
neither it nor the rules were tuned on. It prints three figures on the held-out part:

- the rules alone (``bot.conversation.nlu.Parser``, what ships);
- the classifier alone;
- the rules, with the classifier asked only where the rules give up (``fallback``) and only
  when its posterior is at least ``--confidence``: the one way it could be put beside them.

    python bench/nlu_classifier.py
    python bench/nlu_classifier.py --confidence 0.9 -v
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nlu_accuracy import SET_FILE, rows  # noqa: E402

from bot.conversation.nlu import Parser  # noqa: E402

_ORDER = re.compile(r"[A-Za-z]{2,4}[\s-]?\d{6,}")
_DIGITS = re.compile(r"\d+")


def grams(text: str) -> list[str]:
    # order numbers and codes are the rules' job; the model should learn the words around them
    t = _DIGITS.sub("0", _ORDER.sub("#", text.lower()))
    t = "^" + " ".join(t.split()) + "$"
    return [t[i:i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1)]


class NaiveBayes:
    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.docs: Counter[str] = Counter()
        self.vocab: set[str] = set()

    def fit(self, data: list[tuple[str, str]]) -> NaiveBayes:
        for text, label in data:
            g = grams(text)
            self.counts[label].update(g)
            self.docs[label] += 1
            self.vocab.update(g)
        self.totals = {k: sum(c.values()) for k, c in self.counts.items()}
        return self

    def predict(self, text: str) -> tuple[str, float]:
        g, n, v = grams(text), sum(self.docs.values()), len(self.vocab)
        scores = {}
        for label, c in self.counts.items():
            denom = math.log(self.totals[label] + self.alpha * v)
            scores[label] = math.log(self.docs[label] / n) + sum(
                math.log(c[x] + self.alpha) - denom for x in g if x in self.vocab)
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        best = max(scores, key=scores.get)
        return best, 1 / z


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--confidence", type=float, default=0.8, help="posterior the classifier must reach (0.8)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list where the combination differs from the rules")
    args = ap.parse_args()
    labelled = rows(SET_FILE)
    dev = [(r["text"], r["intent"]) for r in labelled if r["split"] == "dev"]
    held = [(r["text"], r["intent"]) for r in labelled if r["split"] == "heldout"]
    model = NaiveBayes().fit(dev)
    parser = Parser()
    rules = alone = both = 0
    for text, want in held:
        by_rules = parser.parse(text).intent
        guess, p = model.predict(text)
        combined = guess if by_rules == "fallback" and p >= args.confidence else by_rules
        rules += by_rules == want
        alone += guess == want
        both += combined == want
        if args.verbose and combined != by_rules:
            print(f"  {text!r}: rules {by_rules}, classifier {guess} ({p:.2f}), wanted {want}")
    n = len(held)
    print(f"trained on {len(dev)} (dev), measured on {n} held-out utterances")
    print(f"  rules alone                       {rules:4d} / {n}  {rules / n:6.1%}")
    print(f"  classifier alone                  {alone:4d} / {n}  {alone / n:6.1%}")
    print(f"  rules, classifier on fallback≥{args.confidence:.2f} {both:4d} / {n}  {both / n:6.1%}")


if __name__ == "__main__":
    main()
