"""What the web chat's API and WebSocket carry: a message in, the bot's replies out.

In: ``{"text": "...", "id": "<client message id>", "lang": "zh"}`` (``id`` and ``lang``
optional). The same ``id`` again is the same message (a retry) and is answered once: the
second time with no replies. Out: ``{"replies": [{"text", "buttons": [{"label", "data"}],
"link"}]}``; over the WebSocket a frame that answers a message also carries its ``id``,
and a frame the bot sends by itself (a notice) carries none.
"""
from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import HttpError, validation_error
from models.messages import Reply

MAX_TEXT = 4000  # characters; longer is refused with 413, not cut
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ChatMessageIn(BaseModel):
    """One message typed (or a button tapped) by the visitor."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(description=f"what the visitor wrote (at most {MAX_TEXT} characters), or a button's data")
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
                           description="the client's id of this message: a retry with the same id is answered "
                                       "once")
    lang: str | None = Field(None, max_length=16, description="the page's language (zh or en), for a new visitor")


class ButtonOut(BaseModel):
    label: str
    data: str = Field(description="sent back as the text of the next message when the button is tapped")


class ReplyOut(BaseModel):
    text: str
    buttons: list[ButtonOut] = []
    link: str | None = None


class RepliesOut(BaseModel):
    """The bot's answer to one message (usually one reply; none for a message seen before)."""

    replies: list[ReplyOut]


def parse_message(raw: bytes | str) -> ChatMessageIn:
    """The message in a request body or frame; HttpError 400 (malformed, no text) or 413 (too long)."""
    try:
        data: Any = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise HttpError(400, "malformed_json", f"the message is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise HttpError(400, "malformed_json", 'the message must be a JSON object: {"text": "...", "id": "..."}')
    try:
        msg = ChatMessageIn.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None
    try:
        msg.text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud83d without its pair): no text can hold it
        raise HttpError(400, "invalid_text", "text is not valid Unicode", field="text") from None
    # Control characters (NUL above all: PostgreSQL refuses it) mean nothing in a chat; line breaks stay.
    msg.text = _CONTROL.sub("", msg.text)
    if not msg.text.strip():
        raise HttpError(400, "empty_text", "text is empty", field="text")
    if len(msg.text) > MAX_TEXT:
        raise HttpError(413, "text_too_long", f"text is {len(msg.text)} characters; at most {MAX_TEXT} are taken",
                       field="text")
    return msg


def reply_out(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "buttons": [{"label": b.label, "data": b.data} for b in reply.buttons],
            "link": reply.link}


def replies_out(replies: list[Reply]) -> dict[str, Any]:
    return {"replies": [reply_out(r) for r in replies]}


def dumps(data: Any) -> str:
    """JSON as UTF-8 text: Chinese stays readable, and half the size of ``\\u`` escapes."""
    return json.dumps(data, ensure_ascii=False)
