"""Typos forgiven: the one matcher the chat's "did you mean" and the console's search share.

rapidfuzz's ``fuzz.ratio`` (2·matches / total length, 0–100). An order number is taken
when it scores 85 or more against the one typed; a name when it scores at least what one
slipped character costs in a name of its length (a third in 3 characters, 85 from 7 on).
Shorter than ``MIN_FUZZY`` nothing is guessed: one slip in two characters is another name.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

NUMBER_CUTOFF = 85
MIN_FUZZY = 3


def closest(ref: str, candidates: Sequence[str], cutoff: float = NUMBER_CUTOFF) -> str | None:
    """The closest of ``candidates`` (those the asker may see already) to ``ref``, if close enough."""
    if not candidates:
        return None
    best = process.extractOne(ref, candidates, scorer=fuzz.ratio, score_cutoff=cutoff)
    return best[0] if best else None


def name_cutoff(length: int) -> float:
    """The least score a name of ``length`` characters may have to be a typo of the one typed."""
    return min(NUMBER_CUTOFF, 100 * (1 - 1 / length)) - 0.01 if length >= MIN_FUZZY else 101.0


def fold(text: str) -> str:
    """A name as compared: lower case, spaces squeezed."""
    return " ".join(text.lower().split())


def close_names(typed: str, names: Iterable[tuple[int, str]], limit: int) -> list[tuple[int, float]]:
    """The ids of the names (``(id, name)`` pairs) closest to ``typed``, best first, at most ``limit``.

    A name is compared whole and by runs of as many words as were typed, so "Zhang Wie" finds
    "Zhang Wei Trading".
    """
    want = fold(typed)
    cutoff = name_cutoff(len(want))
    if cutoff > 100:
        return []
    span = want.count(" ") + 1
    keys: list[int] = []
    texts: list[str] = []
    for cid, name in names:
        folded = fold(name)
        keys.append(cid)
        texts.append(folded)
        words = folded.split(" ")
        for i in range(len(words) - span + 1 if len(words) > span else 0):  # as many words as were typed
            keys.append(cid)
            texts.append(" ".join(words[i:i + span]))
    best: dict[int, float] = {}
    for _, score, i in process.extract(want, texts, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
        cid = keys[i]
        if score > best.get(cid, -1):
            best[cid] = score
    return sorted(best.items(), key=lambda kv: -kv[1])[:limit]
