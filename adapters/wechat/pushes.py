"""What a WeChat push means to the bot: a message for the conversation, or nothing.

- text (and voice with WeChat's speech recognition on) → a message, ``message_id`` = MsgId;
- events carry no MsgId: their id is ``FromUserName:CreateTime:Event``, which is what a
  retry of the same event repeats;
- ``subscribe`` → "你好" (the bot greets); following through a bind QR code
  (EventKey ``qrscene_bind_<token>``) or scanning one as a follower (``SCAN``, EventKey
  ``bind_<token>``) → ``/start bind_<token>``: the scene as the API issued it
  (``links.wechat_scene``), which the verification handler reads;
- menu ``CLICK`` events → the words the menu key stands for (``MENU_KEYS``);
- pictures, voice (without recognition), video, places, links, unknown types → a message of
  that kind (``kind="image"``...) with no text: the conversation answers what it reads;
- ``subscribe_msg_popup_event`` (the person answered a subscribe-message prompt) → nothing
  to say, but ``consents`` lists the template ids they accepted (one send each);
- other events (unsubscribe, menu links, reported location, template receipts, a product
  scan) → nothing;
- pushes from WeChat's hardware platform (``device_text``, ``device_event``,
  ``device_status``...) come from a device, not a person → nothing (answered ``success``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from wechatpy import parse_message
from wechatpy.messages import BaseMessage

from models.messages import InboundMessage

log = logging.getLogger(__name__)
CHANNEL = "wechat"
BIND_SCENE = "bind_"
DEVICE = "device_"  # the MsgType prefix of the hardware platform's pushes

# The EventKey of each "click" button of the Official Account's menu, and what it says.
MENU_KEYS = {
    "TRACK": "查订单",
    "MY_ORDERS": "我的订单",
    "HUMAN": "转人工",
    "HELP": "帮助",
}

Meaning = InboundMessage | None  # for the conversation; nothing to say
_WORDS = {"text": "Content", "voice": "Recognition"}  # where a message type keeps its words


class Malformed(ValueError):
    """A push that is XML but not one WeChat would send."""


def read(xml: str) -> BaseMessage:
    """wechatpy's message for ``xml``; Malformed for anything it cannot read."""
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise Malformed("a DTD in the push")  # WeChat never sends one
    try:
        push = parse_message(xml)
    except Exception as e:  # noqa: BLE001 - expat errors, KeyError, TypeError...: all malformed
        raise Malformed(f"unreadable XML ({type(e).__name__})") from None
    if push is None:
        raise Malformed("an empty body")
    return push


def _text(push: BaseMessage, field: str) -> str:
    value = push._data.get(field)  # wechatpy keeps the parsed XML there; its fields convert loosely
    return value if isinstance(value, str) else ""


def _number(push: BaseMessage, field: str) -> str:
    value = _text(push, field).strip()
    if value and not (value.isascii() and value.isdigit()):
        raise Malformed(f"{field} is not a number")
    return value


def kind(push: BaseMessage) -> str:
    """The push's MsgType (``text``, ``image``, ``event``...), as WeChat wrote it but in lower case."""
    return _text(push, "MsgType").lower()


def _event(push: BaseMessage) -> str:
    return _text(push, "Event").lower()  # wechatpy writes "subscribe_scan" for a follow through a QR code


def understand(push: BaseMessage) -> Meaning:
    """What ``push`` asks of the bot (see the module docstring); Malformed when it cannot be answered."""
    openid = _text(push, "FromUserName").strip()
    if not openid:
        raise Malformed("no FromUserName")
    created = _number(push, "CreateTime")
    msg_type = kind(push)
    if msg_type.startswith(DEVICE):
        return None  # a device's report or binding: nobody to answer
    if msg_type == "event":
        handler = _EVENTS.get(_event(push))
        return handler(push, openid, f"{openid}:{created}:{_event(push)}") if handler else None
    msg_id = _number(push, "MsgId") or f"{openid}:{created}:{msg_type}"
    field = _WORDS.get(msg_type)
    text = _text(push, field) if field else ""
    if text.strip():
        return _message(push, openid, text, msg_id)
    if msg_type == "text":
        return None  # an empty text needs no answer; a picture does
    return _message(push, openid, "", msg_id, kind=msg_type[:16] or "unknown")


def _message(push: BaseMessage, openid: str, text: str, msg_id: str, kind: str = "text") -> InboundMessage:
    return InboundMessage(channel=CHANNEL, sender_id=openid, chat_id=openid, text=text, message_id=msg_id,
                          kind=kind, raw=push)


# Event handlers get the push, the sender and the event's id (events carry no MsgId).
def _subscribed(push: BaseMessage, openid: str, event_id: str) -> InboundMessage:
    return _message(push, openid, "你好", event_id)


def _scanned(push: BaseMessage, openid: str, event_id: str) -> InboundMessage | None:
    # wechatpy has already cut "qrscene_" off a subscribe's EventKey.
    scene = _text(push, "EventKey").strip()
    if scene.startswith(BIND_SCENE) and len(scene) > len(BIND_SCENE) and " " not in scene:
        return _message(push, openid, f"/start {scene}", event_id)
    return _subscribed(push, openid, event_id) if _event(push) == "subscribe_scan" else None


def _clicked(push: BaseMessage, openid: str, event_id: str) -> InboundMessage:
    key = _text(push, "EventKey").strip()
    words = MENU_KEYS.get(key)
    if words is None:
        log.warning("wechat: the menu key %r means nothing to the bot (known: %s); answering with help",
                    key[:64], ", ".join(MENU_KEYS))
        words = MENU_KEYS["HELP"]
    return _message(push, openid, words, event_id)


_EVENTS: dict[str, Callable[[BaseMessage, str, str], Meaning]] = {
    "subscribe": _subscribed,
    "subscribe_scan": _scanned,
    "scan": _scanned,
    "click": _clicked,
}


def consents(push: BaseMessage) -> list[str]:
    """The subscribe-message template ids accepted in a ``subscribe_msg_popup_event``."""
    if kind(push) != "event" or _event(push) != "subscribe_msg_popup_event":
        return []
    block = push._data.get("SubscribeMsgPopupEvent")
    items = block.get("List") if isinstance(block, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [str(i.get("TemplateId")).strip() for i in items
            if isinstance(i, dict) and i.get("TemplateId") and str(i.get("SubscribeStatusString")).lower() == "accept"]
