"""The intent parser: what a customer's message asks for, and which orders it names.

Rules and fuzzy matching, no model and no network. A message goes through:

1. NFKC (full-width → ASCII), group mentions ("@order_test_bot") blanked out;
   traditional characters read as simplified ones (OpenCC's t2s) for the phrases;
2. order references and a one-time code taken out (``bot.conversation.nlu.entities``);
3. a message that is only references (or only a code) plus filler is a lookup (a code);
4. otherwise the phrases of every intent are found, Chinese on the characters, English
   on the words with typos corrected, and the intents scored (``_decide``).
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace

import opencc

from bot.conversation.nlu.entities import Entities, EntityFinder
from bot.conversation.nlu.lexicon import (
    COMMON_EN,
    DROPPED_WITH_A_REF,
    FILLER_EN,
    FILLER_ZH,
    NEUTRAL,
    PRIORITY,
    REQUESTS,
    ZH_TYPOS,
)
from bot.conversation.nlu.matching import Hit, PhraseSet, WordCorrector
from bot.conversation.nlu.phrases import EN, ZH

# WeChat puts U+2005 after a mention, Telegram a plain space; a CJK name needs one of them.
_MENTION = re.compile(r"(?<!\S)@(?:[A-Za-z0-9_.\-]+|[^\s@]{1,20}(?=\s))")
# Links and mail addresses are blanked before the words are read ("hi@example.com" is no
# greeting), after the references are taken out (a pasted order link names its order).
_LINK = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+", re.ASCII)
_HAN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z]+")
# "？？" or "..." alone: the person is lost, and is shown what the bot can do.
_PUZZLED = re.compile(r"[\s?？!！.。…~～,，、]*[?？.。…][\s?？!！.。…~～,，、]*")
PUZZLED_CONFIDENCE = 0.6

FALLBACK_CONFIDENCE = 0.3
BARE_CONFIDENCE = 0.95
CODE_GIVEN = 2.0  # a six-digit code in the message is a clear cue by itself
REF_GIVEN = 1.0   # a reference with nothing else said is most likely a lookup
FUZZY_FACTOR = 0.85
# Intent cues are read in the first this many characters only: what a long e-mail asks
# comes first, and what follows (the thread quoted, a signature with "Manager" in it) is
# noise that also costs time. References and codes are taken from the whole text.
INTENT_CHARS = 500


@dataclass(frozen=True)
class Parse:
    """How one message was understood.

    Attributes:
        text: the input, unchanged.
        intent: one of ``INTENTS``.
        order_refs: order and tracking numbers, normalised, in order of appearance, no duplicates.
        code: a six-digit one-time code given in the text, else None.
        confidence: 0..1; high for a clear keyword, lower when only typo-corrected words or
            a bare guess support it, low for fallback.
        language: "zh" when the message has CJK characters, else "en".
    """

    text: str
    intent: str
    order_refs: tuple[str, ...]
    code: str | None
    confidence: float
    language: str


def _blank(text: str, spans) -> str:
    """``text`` with the spans replaced by spaces (same length, so offsets stay valid)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


class Parser:
    """Parses customer messages; pure and cheap, build one and share it.

    Args:
        number_pattern: ``[orders] number_pattern``; a normalised reference must fullmatch it.
        default_prefix: ``[orders] default_prefix``, completes digits-only references.
    """

    def __init__(self, number_pattern: str = r"^[A-Z]{1,4}[0-9]{6,20}$", default_prefix: str = "SO") -> None:
        self._entities = EntityFinder(number_pattern, default_prefix)
        self._zh = PhraseSet(ZH)
        self._en = PhraseSet(EN)
        self._words = WordCorrector(self._en.words(), keep=COMMON_EN)
        self._typos = re.compile("|".join(map(re.escape, sorted(ZH_TYPOS, key=len, reverse=True))))
        self._filler_zh = re.compile("|".join(map(re.escape, sorted(FILLER_ZH, key=len, reverse=True))))
        self._t2s = opencc.OpenCC("t2s.json")

    def parse(self, text: str) -> Parse:
        """Understand one message."""
        norm = _MENTION.sub(lambda m: " " * len(m.group()), unicodedata.normalize("NFKC", text or ""))
        found = self._entities.find(norm)
        masked = _LINK.sub(lambda m: " " * len(m.group()), _blank(norm, found.spans)).lower()
        language = "zh" if _HAN.search(norm) else "en"
        if language == "zh":
            masked = self._t2s.convert(masked)
        elif _PUZZLED.fullmatch(norm):
            return Parse(text, "help", (), None, PUZZLED_CONFIDENCE, language)
        if (found.code or found.refs) and self._bare(masked):
            intent = "provide_code" if found.code else "track_order"
            return Parse(text, intent, found.refs, found.code, BARE_CONFIDENCE, language)
        head = masked[:INTENT_CHARS]
        hits = self._zh.find(self._typos.sub(lambda m: ZH_TYPOS[m.group()], head)) + self._english(head)
        intent, confidence = self._decide(hits, found)
        return Parse(text, intent, found.refs, found.code, confidence, language)

    def _bare(self, masked: str) -> bool:
        """Nothing but filler around the references or the code ("订单号：SO…", "code 482913 pls")."""
        rest = self._filler_zh.sub(" ", masked)
        return not _HAN.search(rest) and all(w in FILLER_EN for w in _WORD.findall(rest))

    def _english(self, masked: str) -> list[Hit]:
        tokens = _WORD.findall(masked)
        if not tokens:
            return []
        fixed = [self._words.correct(t) for t in tokens]
        hits = self._en.find(" ".join(fixed))
        if fixed == tokens:
            return hits
        corrected, pos = [], 0
        for before, after in zip(tokens, fixed):
            if before != after:
                corrected.append((pos, pos + len(after)))
            pos += len(after) + 1
        return [replace(h, fuzzy=True) if any(h.start < e and s < h.end for s, e in corrected) else h
                for h in hits]

    @staticmethod
    def _decide(hits: list[Hit], found: Entities) -> tuple[str, float]:
        """The winning intent and how sure we are of it.

        A clear request (score ≥ 2) beats a status question in the same message; otherwise
        the highest score wins, ties going to the earlier intent in ``PRIORITY``.
        """
        scores: dict[str, float] = defaultdict(float)
        exact: set[str] = set()
        for hit in hits:
            if hit.intent == NEUTRAL:
                continue
            scores[hit.intent] += hit.weight
            if not hit.fuzzy:
                exact.add(hit.intent)
        if found.code:
            scores["provide_code"] += CODE_GIVEN
            exact.add("provide_code")
        else:
            scores.pop("provide_code", None)  # "验证码没收到" gives no code
        if found.refs:
            scores["track_order"] += REF_GIVEN
            exact.add("track_order")
            for intent in DROPPED_WITH_A_REF:
                scores.pop(intent, None)
        if len(scores) > 1:
            scores.pop("greeting", None)  # "hi, where is my order" is not a greeting
        if not scores:
            return "fallback", FALLBACK_CONFIDENCE
        best = max(scores, key=lambda i: (i in REQUESTS and scores[i] >= 2, scores[i], -PRIORITY.index(i)))
        score = scores[best]
        confidence = min(0.97, 0.5 + 0.15 * score)
        if best not in exact:
            confidence *= FUZZY_FACTOR
        runner_up = max((v for k, v in scores.items() if k != best), default=0.0)
        if runner_up >= 2 or runner_up >= 0.75 * score:
            confidence -= 0.1  # two intents with real evidence: say so
        return best, round(max(confidence, FALLBACK_CONFIDENCE + 0.05), 2)
