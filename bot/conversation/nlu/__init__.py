"""Understanding customer messages: intent, order references, a one-time code.

``Parser().parse("SO202611240042 到哪了")`` gives a :class:`Parse` with intent
``track_order`` and ``order_refs == ("SO202611240042",)``. Hand-written rules, fuzzy matching
for English typos (rapidfuzz) and OpenCC's traditional-to-simplified table; no learned model,
no network, no database. ``Parser.parse`` (``parser.py``) takes a message through these stages:

1. NFKC (full-width → ASCII), group mentions blanked out;
2. order and courier references and a six-digit code taken out of the whole text
   (``entities.py``: "ｓｏ-2026 1124-0042", digits alone with the default prefix, a code typed
   in short groups "12 34 56"; digits in links and mail addresses are no order);
3. links and mail addresses blanked; Chinese text read through OpenCC's t2s, so the phrases,
   written in simplified characters, also match "我的訂單出貨了嗎";
4. question marks or dots alone ("？？") are a call for help; references or a code with
   only filler around them ("订单号：SO…", "code 482913 pls") are a lookup or a code;
5. otherwise the first 500 characters are searched for every intent's phrases
   (``phrases.py``, weighted; Chinese on the characters after the pinyin-slip fixes of
   ``lexicon.py``, English on the words with typos corrected, ``matching.py``); phrases filed
   as neutral ("不用催", "no rush") hide the cues inside them, so negation counts for nothing;
6. the scores decide (``Parser._decide``): a clear request beats a status question, a
   greeting in front of a question gives way to it, ties go by ``lexicon.PRIORITY``; nothing
   found is ``fallback``.

The intent decides the handler only; what happens to a message nobody understood (the
choices offered, a person after two misses in a row) is ``handlers.basics``'s.

Measured against ``tests/data/nlu_set.jsonl``: 645 labelled utterances, each marked
``"split": "dev"`` (what the rules were tuned on) or ``"heldout"`` (a quarter nobody tuned on,
kept so by not fixing its misses). ``bench/nlu_accuracy.py`` prints the accuracy overall and
per intent on each part; ``bench/nlu.py`` times a parse (p99 must stay under 2 ms); figures in
``bench/README.md``. ``tests/test_nlu.py`` holds its own tables, and ``orderbot nlu TEXT``
shows how one message is understood.
"""
from bot.conversation.nlu.lexicon import INTENTS
from bot.conversation.nlu.parser import Parse, Parser

__all__ = ["INTENTS", "Parse", "Parser"]
