"""Subjects as a person reads them: no debris of a broken encoding, and cut between words."""
from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
SHORT = 60  # a subject made from a line of our text: what a phone's mail list shows
_SPACES = re.compile(r"\s+")


def clean(value: object) -> str:
    """One line without replacement characters, control or format characters (what a broken charset leaves)."""
    text = "".join(" " if ch.isspace() else ch for ch in str(value or "")
                   if ch.isspace() or ch in "\u200d\ufe0f" or (ch != "\ufffd" and unicodedata.category(ch)[0] != "C"))
    return _SPACES.sub(" ", text).strip()


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, "…" included when it is cut.

    Latin words are kept whole (cut at the last space); Chinese and Japanese, written without
    spaces, are cut between characters; a combining mark or emoji joiner never ends the cut.
    """
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    rest = text[limit - 1]
    if not (_wide(head[-1]) or _wide(rest) or rest.isspace()):
        space = head.rfind(" ")
        if space >= limit // 2:  # a word longer than half the room is cut, not dropped
            head = head[:space]
    while head and (unicodedata.combining(head[-1]) or head[-1] in "\u200d\ufe0f" or "\ud800" <= head[-1] <= "\udfff"):
        head = head[:-1]
    return head.rstrip(" ,;:，；：、-–—") + ELLIPSIS
