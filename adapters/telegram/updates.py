"""A Telegram update's JSON as the conversation reads it: the chat, the sender, the text, the kind.

Updates are read from their JSON, not through python-telegram-bot's ``Update.de_json``: that
refuses whole updates for a field its version requires and real traffic lacks (``is_bot`` in
older clients' examples, ``date`` in migrations, fields ChatMember types gained later, a poll),
and building its objects cost more than the rest of an update (bench/README.md). Only what the
bot needs is taken, each value checked for its type; what does not fit is not for the bot.

Read as a message:
- a ``message`` from a person, in a private chat, or in a group when it addresses the bot (a
  command, a mention, a reply to the bot); a photo, a document... with a caption is its caption
  (an order number typed under a screenshot is asked about); without one it is a message of
  that kind (``kind="image"``...), which the conversation answers as it answers WeChat's;
- a message sent on behalf of a chat (``sender_chat``: an anonymous group admin, a channel
  posting in a group) is that chat's: the chat is the sender;
- a tap on one of the bot's buttons (``callback_query`` on a message).

Not read (None): edits (the message was answered as sent; answering each edit of a typo would
answer twice), channel posts (a channel has readers, not a customer asking), service messages
(members joining, pins, migrations) and a linked channel's automatic forwards, business
messages (the bot is not a business account's chatbot), and every other kind in the Bot API's
Update (inline queries, reactions, polls, payments, member changes, boosts...).
"""
from __future__ import annotations

from typing import Any

from models.messages import InboundMessage

CHANNEL = "telegram"
GROUPS = ("group", "supergroup")
# A message's content field → its kind, first match first (a venue carries a location too).
MEDIA = (("photo", "image"), ("video_note", "video"), ("video", "video"), ("animation", "animation"),
         ("voice", "voice"), ("audio", "audio"), ("document", "document"), ("sticker", "sticker"),
         ("venue", "location"), ("location", "location"), ("contact", "contact"), ("poll", "poll"),
         ("dice", "dice"), ("story", "story"), ("game", "game"), ("paid_media", "paid_media"))


def _id(obj: Any) -> int | None:
    """An object's integer ``id`` (a bool is no id); None when it has none."""
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read(data: dict[str, Any], bot_id: int | None, bot_username: str | None) -> InboundMessage | None:
    """The message in update ``data`` (see the module docstring); None for an update not for the bot."""
    if type(data.get("update_id")) is not int:
        return None
    message_id = f"u{data['update_id']}"
    if isinstance(data.get("message"), dict):
        return _message(data["message"], message_id, bot_id, (bot_username or "").lower())
    if isinstance(data.get("callback_query"), dict):
        return _button(data["callback_query"], message_id)
    return None


def _button(q: dict[str, Any], message_id: str) -> InboundMessage | None:
    """A tap on a button of one of the bot's messages; a button under an inline result has no chat."""
    message, person = q.get("message"), q.get("from")
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id, sender = _id(chat), _id(person)
    if chat_id is None or sender is None:
        return None
    return InboundMessage(channel=CHANNEL, sender_id=str(sender), chat_id=str(chat_id), text=_str(q.get("data")) or "",
                          message_id=message_id, is_group=chat.get("type") in GROUPS, mentioned=True,
                          language=_str(person.get("language_code")), raw=q)


def _message(m: dict[str, Any], message_id: str, bot_id: int | None, name: str) -> InboundMessage | None:
    chat, person, on_behalf = m.get("chat"), m.get("from"), m.get("sender_chat")
    chat_id = _id(chat)
    if chat_id is None or m.get("is_automatic_forward") is True:
        return None
    if _id(on_behalf) is not None:
        sender, language = _id(on_behalf), None  # anonymous admin or a channel: the chat speaks
    elif _id(person) is not None and person.get("is_bot") is not True:  # older clients leave is_bot out
        sender, language = _id(person), _str(person.get("language_code"))
    else:
        return None
    text, kind = _str(m.get("text")) or _str(m.get("caption")) or "", "text"
    if not text.strip():
        kind = next((k for field, k in MEDIA if m.get(field) is not None), None)
        if kind is None:
            return None  # a service message (someone joined, a pin, a migration): nobody asked anything
        text = ""
    # Telegram's own examples leave the chat's type out; a person's chat id is positive.
    chat_type = _str(chat.get("type")) or ("private" if chat_id > 0 else "group")
    group = chat_type in GROUPS
    if chat_type not in (*GROUPS, "private"):
        return None
    return InboundMessage(channel=CHANNEL, sender_id=str(sender), chat_id=str(chat_id), text=text,
                          message_id=message_id, is_group=group,
                          mentioned=not group or addressed(m, text, bot_id, name), language=language, kind=kind,
                          raw=m)


def addressed(m: dict[str, Any], text: str, bot_id: int | None, name: str) -> bool:
    """In a group: a command (for this bot), a mention of the bot, or a reply to one of its messages."""
    replied = m.get("reply_to_message")
    if bot_id is not None and isinstance(replied, dict) and _id(replied.get("from")) == bot_id:
        return True
    entities = m.get("entities") if m.get("text") else m.get("caption_entities")
    for entity in entities if isinstance(entities, list) else ():
        if not isinstance(entity, dict):
            continue
        value = _entity_text(text, entity.get("offset"), entity.get("length")).lower()
        if entity.get("type") == "bot_command" and value and ("@" not in value or value.endswith("@" + name)):
            return True
        if entity.get("type") == "mention" and name and value == "@" + name:
            return True
    return False


def _entity_text(text: str, offset: Any, length: Any) -> str:
    """The text an entity covers: Telegram counts offsets in UTF-16 code units."""
    if type(offset) is not int or type(length) is not int or offset < 0 or length <= 0:
        return ""
    units = text.encode("utf-16-le")
    return units[2 * offset:2 * (offset + length)].decode("utf-16-le", errors="ignore")
