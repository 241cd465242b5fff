"""Order references and one-time codes in a message, as customers type them.

The text (already NFKC, so full-width characters are ASCII) is cut into pieces: runs of
letters and runs of digits. A reference is a few consecutive pieces joined by nothing, by
a dash-like separator, or by a space where that is plausible ("SO 2026 1124 0042"),
whose normalised form fullmatches ``[orders] number_pattern``. Digits alone are
completed with the default prefix, unless they are a code (six digits), a mobile number,
a date, an amount or a quantity.

Inside a link or a mail address digits are someone else's ids (``?__utma=193350514.1``,
``12345678@qq.com``): a link names an order only as a whole part of its path or query
(``/orders/SO202611240042``), written as the pattern wants it, and a mail address never.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from bot.conversation.nlu.lexicon import KNOWN_PREFIXES, NOT_PREFIXES
from models.numbers import normalize_order_no

_PIECE = re.compile(r"[A-Za-z]+|[0-9]+")
_SEPARATORS = frozenset(" \t\u00a0-_./\\\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70·")
_SEP = "[" + re.escape("".join(sorted(_SEPARATORS))) + "]"
# A cluster: digits, with the letters glued or close before them ("SO-", "sf "), and
# what follows them closely (more digit groups, glued letters).
_DIGITS = re.compile(r"[0-9]+")
_HEAD = re.compile(rf"[A-Za-z]+{_SEP}{{0,3}}$")
_TAIL = re.compile(rf"(?:[A-Za-z]+|[0-9]+|{_SEP}{{1,3}}[0-9]+)*")
HEAD_MAX = 24
ADJACENT, SPACE, DASH, BREAK = range(4)
MAX_PIECES = 8
CODE_LEN = 6
CODE_GROUP_MAX = 3  # "12 34 56", "4 8 2 9 1 3", "482 913": short groups only; "2026 1124" is no code

_LINKISH = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+", re.ASCII)
_URL_PART = re.compile(r"[A-Za-z0-9-]+")

_MOBILE = re.compile(r"(86)?1[3-9]\d{9}")
_YYYYMMDD = re.compile(r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
_UNIT_AFTER = re.compile(r"\s*(元|块|万|千|百|个|件|箱|台|套|只|条|张|米|公斤|斤|克|吨|美元|人民币|%|"
                         r"(kg|pcs|pc|units?|yuan|rmb|usd|cny|dollars?)\b)", re.IGNORECASE)
# An amount, a quantity or a phone number is not a code and not an order.
_LABEL_BEFORE = re.compile(r"(¥|\$|rmb|usd|cny|数量|改成|改为|改到|qty|quantity|×|价格|金额|总价|单价|付了|付款|price|"
                           r"paid|total|amount|电话|手机号?|"
                           r"tel|phone|mobile|qq|微信|wechat|wx|vx)\s*[:=]?\s*$|\+\s*$", re.IGNORECASE)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the spans made spaces, offsets kept."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


@dataclass(frozen=True, slots=True)
class Entities:
    """What was found, and where (so the intent matcher can blank it out)."""

    refs: tuple[str, ...]
    code: str | None
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    text: str

    @property
    def is_digits(self) -> bool:
        return self.text[0].isdigit()


def _clusters(text: str):
    """(start, end) of every cluster, in order; found from the digits out, which is cheap."""
    pos = 0
    while (m := _DIGITS.search(text, pos)) is not None:
        start = m.start()
        head = _HEAD.search(text, max(pos, start - HEAD_MAX), start)
        if head and not (head.start() > 0 and text[head.start() - 1].isascii() and text[head.start() - 1].isalpha()):
            start = head.start()  # (a longer run of letters than HEAD_MAX is a word, not a prefix)
        pos = _TAIL.match(text, m.end()).end()
        yield start, pos


def _gap(between: str) -> int:
    if not between:
        return ADJACENT
    if len(between) > 3 or any(c not in _SEPARATORS for c in between):
        return BREAK
    return SPACE if between.isspace() else DASH


class EntityFinder:
    """Finds order references and codes.

    Args:
        number_pattern: ``[orders] number_pattern``; a reference must fullmatch it.
        default_prefix: ``[orders] default_prefix``, put in front of digits-only references.
    """

    def __init__(self, number_pattern: str, default_prefix: str) -> None:
        self._pattern = re.compile(number_pattern)
        self._prefix = normalize_order_no(default_prefix)
        self._known = KNOWN_PREFIXES | {self._prefix}

    def find(self, text: str) -> Entities:
        """References in order of appearance without duplicates, and the first code."""
        refs: list[str] = []
        spans: list[tuple[int, int]] = []
        code = None
        links = [m.span() for m in _LINKISH.finditer(text)]
        if links:
            refs += self._linked(text, links)
            text = _blank(text, links)
        # Only the stretches around digits can hold a reference or a code; cutting just
        # those into pieces keeps a long e-mail cheap.
        for span in _clusters(text):
            pieces = [_Piece(m.start(), m.end(), m.group()) for m in _PIECE.finditer(text, *span)]
            gaps = [BREAK] + [_gap(text[a.end:b.start]) for a, b in pairwise(pieces)] + [BREAK]
            used: set[int] = set()
            i = 0
            while i < len(pieces):
                ref, j = self._ref_at(text, pieces, gaps, i)
                if ref is not None:
                    if ref not in refs:
                        refs.append(ref)
                    spans.append((pieces[i].start, pieces[j].end))
                    used.update(range(i, j + 1))
                i = j + 1
            if code is None:
                code, span = self._code(text, pieces, gaps, used)
                if span:
                    spans.append(span)
        return Entities(tuple(refs), code, tuple(spans))

    def _linked(self, text: str, links: list[tuple[int, int]]) -> list[str]:
        """References a link names as one whole part of it; a mail address names none."""
        found = []
        for start, end in links:
            if "@" in text[start:end] and "://" not in text[start:end]:
                continue
            for m in _URL_PART.finditer(text, start, end):
                ref = normalize_order_no(m.group())
                if any(c.isdigit() for c in ref) and self._pattern.fullmatch(ref) and ref not in found:
                    found.append(ref)
        return found

    def _code(self, text: str, pieces: list[_Piece], gaps: list[int],
              used: set[int]) -> tuple[str | None, tuple[int, int] | None]:
        """The first six digits standing alone, or typed in short groups ("482 913", "12 34 56")."""
        k = 0
        while k < len(pieces):
            p = pieces[k]
            if k in used or not p.is_digits or gaps[k] == ADJACENT:
                k += 1
                continue  # glued to letters ("abc123456") it is some other id
            last = k
            if len(p.text) <= CODE_GROUP_MAX:
                while (last + 1 < len(pieces) and last + 1 not in used and gaps[last + 1] in (SPACE, DASH)
                       and pieces[last + 1].is_digits and len(pieces[last + 1].text) <= CODE_GROUP_MAX):
                    last += 1
            digits = "".join(q.text for q in pieces[k:last + 1])
            dashed = DASH in gaps[k + 1:last + 1]
            if dashed and [len(q.text) for q in pieces[k:last + 1]] != [3, 3]:
                digits = ""  # "10-12-26" is a date; only "482-913" is a code with dashes
            if (len(digits) == CODE_LEN and gaps[last + 1] != ADJACENT
                    and not self._amount(text, p.start, pieces[last].end)):
                return digits, (p.start, pieces[last].end)
            k = last + 1
        return None, None

    def _ref_at(self, text: str, pieces: list[_Piece], gaps: list[int], i: int) -> tuple[str | None, int]:
        """The longest reference starting at piece ``i`` and its last piece, else (None, where to go on)."""
        end = i
        while end + 1 < len(pieces) and end - i < MAX_PIECES - 1 and self._joinable(
                pieces[end], pieces[end + 1], gaps[end + 1]):
            end += 1
        if not pieces[i].is_digits:
            for j in range(end, i, -1):
                ref = self._candidate(text, pieces, gaps, i, j)
                if ref:
                    return ref, j
            return None, i
        # Digits are one number however they are grouped: "138 0013 8000" is a phone
        # number as a whole, not a reference "1380013" followed by "8000".
        last = i
        while last < end and pieces[last + 1].is_digits:
            last += 1
        for j in [*range(end, last, -1), last]:
            ref = self._candidate(text, pieces, gaps, i, j)
            if ref:
                return ref, j
        return None, last

    @staticmethod
    def _joinable(a: _Piece, b: _Piece, gap: int) -> bool:
        if gap == ADJACENT:
            return True
        if gap == BREAK or not b.is_digits:
            return False
        if not a.is_digits or gap == DASH:
            return True
        # Digit groups apart by a space are one number when typed in short groups
        # ("2026 1124 0042"), not when two whole numbers sit side by side.
        return min(len(a.text), len(b.text)) <= 4 and max(len(a.text), len(b.text)) <= 8

    def _candidate(self, text: str, pieces: list[_Piece], gaps: list[int], i: int, j: int) -> str | None:
        first, window = pieces[i], pieces[i:j + 1]
        digits = "".join(p.text for p in window if p.is_digits)
        if not first.is_digits:
            if j == i or not self._prefix_ok(first, gaps[i + 1], len(digits)):
                return None  # a reference needs its digits: "so where is it" has none
            ref = normalize_order_no(text[first.start:pieces[j].end])
            return ref if self._pattern.fullmatch(ref) else None
        if any(not p.is_digits for p in window):
            ref = normalize_order_no(text[first.start:pieces[j].end])
            return ref if self._pattern.fullmatch(ref) else None
        if not self._plain_number_ok(text, window, digits):
            return None
        for ref in (digits, self._prefix + digits):
            if self._pattern.fullmatch(ref):
                return ref
        return None

    def _prefix_ok(self, letters: _Piece, gap: int, n_digits: int) -> bool:
        label = letters.text.upper()
        if label in NOT_PREFIXES:
            return False
        if gap == SPACE:  # "so 2026…" in English text must still have the look of a number
            return label in self._known and (letters.text.isupper() or n_digits >= 8)
        if gap == DASH:
            return label in self._known or letters.text.isupper()
        return True

    def _plain_number_ok(self, text: str, window: list[_Piece], digits: str) -> bool:
        lengths = [len(p.text) for p in window]
        if len(digits) < 7 or _MOBILE.fullmatch(digits):
            return False  # six digits is a code; shorter is a quantity, a year, a price
        if (len(digits) == 8 and _YYYYMMDD.fullmatch(digits)) or (
                len(lengths) == 3 and (lengths[0] == 4 or lengths[2] == 4) and sorted(lengths)[1] <= 2):
            return False  # 20261124, 2026-11-24, 24/11/2026
        return not self._amount(text, window[0].start, window[-1].end)

    @staticmethod
    def _amount(text: str, start: int, end: int) -> bool:
        return bool(_UNIT_AFTER.match(text, end) or _LABEL_BEFORE.search(text[max(0, start - 12):start]))
