"""Understanding customer messages: intent, order references, a one-time code.

``Parser().parse("SO202611240042 到哪了")`` gives a :class:`Parse` with intent
``track_order`` and ``order_refs == ("SO202611240042",)``. Rules and fuzzy matching
(rapidfuzz); no model, no network, no database.
"""
from bot.conversation.nlu.lexicon import INTENTS
from bot.conversation.nlu.parser import Parse, Parser

__all__ = ["INTENTS", "Parse", "Parser"]
