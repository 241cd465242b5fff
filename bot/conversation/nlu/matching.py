"""Finding the phrases of every intent in a text, and putting English typos right."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase of ``intent`` found at ``text[start:end]``."""

    intent: str
    weight: float
    start: int
    end: int
    fuzzy: bool = False


def needles(pattern: str) -> tuple[str, ...]:
    """Literal strings one of which is in every match of ``pattern`` (empty: no such promise).

    A cheap ``in`` test on them lets most patterns skip the regex engine altogether: a
    Chinese message holds few of the characters, an English one few of the words.
    """
    found: list[str] = []
    run, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        step = 1
        if c == "\\":
            step = 2  # an escape (\b, \s, \d) is no literal
        elif c == "[":
            step = pattern.index("]", i + 1) + 1 - i
        elif c == "(" and pattern.startswith("(?", i):
            step = pattern.index(":", i) + 1 - i
        elif c in "?*" or pattern.startswith("{0", i):
            run = run[:-1]  # the character before is optional
            if c == "{":
                step = pattern.index("}", i) + 1 - i
        elif c == "{":
            step = pattern.index("}", i) + 1 - i
        elif c not in "()|+^$.":
            run += c
            i += 1
            continue
        found.append(run)
        run = ""
        i += step
    found.append(run)
    return tuple(sorted({n.strip() for n in found if n.strip()}))


class PhraseSet:
    """The phrase table of one language, compiled once.

    Args:
        table: intent -> ((regex, weight), ...).
    """

    # Above this length testing every literal beats running every pattern; below, it does not.
    LONG = 120

    def __init__(self, table: Mapping[str, Iterable[tuple[str, float]]]) -> None:
        self._rules = [(intent, float(weight), re.compile(pattern), lits, frozenset(n[0] for n in lits))
                       for intent, rows in table.items() for pattern, weight in rows
                       for lits in [needles(pattern)]]
        self._patterns = [pattern for rows in table.values() for pattern, _ in rows]

    def find(self, text: str, exhaustive: bool = False) -> list[Hit]:
        """Every phrase in ``text``, less those overlapped by a longer phrase at least as heavy.

        Longest first: "取消订阅" must win over the "取消" and "订阅" inside it, and a negation
        ("别再通知我", "no rush") over the request it contains. A longer but lighter phrase
        does not hide a heavier one: in "when will my refund arrive" the refund counts.
        ``exhaustive`` runs every pattern, for tests of the ``needles`` shortcut.
        """
        if not text.strip():
            return []
        chars = frozenset(text)
        long = len(text) > self.LONG
        found = [Hit(intent, weight, m.start(), m.end())
                 for intent, weight, rx, lits, initials in self._rules
                 if exhaustive or not lits or (not initials.isdisjoint(chars)
                                               and (not long or any(n in text for n in lits)))
                 for m in rx.finditer(text) if m.end() > m.start()]
        found.sort(key=lambda h: (h.start - h.end, h.start))
        kept: list[Hit] = []
        for hit in found:
            if all(hit.end <= k.start or hit.start >= k.end or k.weight < hit.weight for k in kept):
                kept.append(hit)
        return kept

    def words(self, min_len: int = 4) -> set[str]:
        """The literal words of the patterns: the vocabulary typos are corrected towards."""
        words: set[str] = set()
        for pattern in self._patterns:
            bare = re.sub(r"\\[a-zA-Z]", " ", pattern)  # \b, \w would glue onto the next word
            words.update(w for w in re.findall(r"[a-z]+", bare) if len(w) >= min_len)
        return words


class WordCorrector:
    """Corrects a mistyped English word to the nearest keyword, with rapidfuzz.

    Only words of four letters or more are corrected, only towards keywords that start
    with the same letter (people rarely get the first letter wrong, and it keeps "dress"
    from becoming "address"), and never a common word (a real word is not a typo).

    Args:
        vocabulary: the keywords.
        keep: words never corrected.
    """

    CACHE_SIZE = 4096

    def __init__(self, vocabulary: Iterable[str], keep: Iterable[str] = ()) -> None:
        self._vocab = frozenset(vocabulary)
        self._keep = frozenset(keep)
        by_initial: dict[str, list[str]] = {}
        for word in sorted(self._vocab):
            by_initial.setdefault(word[0], []).append(word)
        self._by_initial = {k: tuple(v) for k, v in by_initial.items()}
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """``word`` itself, or the keyword it is a typo of."""
        if len(word) < 4 or word in self._vocab or word in self._keep:
            return word
        hit = self._cache.get(word)
        if hit is None:
            # fuzz.ratio is 2·matches/total: one slip in four letters scores 75, in five 80.
            cutoff = 75 if len(word) == 4 else 80
            best = process.extractOne(word, self._by_initial.get(word[0], ()), scorer=fuzz.ratio,
                                      score_cutoff=cutoff)
            hit = best[0] if best else word
            if len(self._cache) >= self.CACHE_SIZE:  # bounded: chat text has no end of odd words
                self._cache.clear()
            self._cache[word] = hit
        return hit
