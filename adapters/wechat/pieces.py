"""What WeChat accepts as text: pieces small enough for one message, and XML-safe.

A customer-service text message may carry about 2,048 bytes, a passive reply no more:
600 characters are at most 1,800 bytes of Chinese, and a piece full of 4-byte emoji is
cut again so that no piece passes 2,000 bytes.
"""
from __future__ import annotations

import re

from adapters.base import split_text

MAX_CHARS = 600
MAX_BYTES = 2000
_SAFE_CHARS = MAX_BYTES // 4  # characters that fit MAX_BYTES whatever they are

# Said when the conversation failed (a transport's "500"), in both languages: who wrote is unknown here.
SORRY = ("抱歉，系统暂时出了点问题，请稍后再试。\n"
         "Sorry, something went wrong on our side; please try again in a moment.")

# Characters XML 1.0 does not allow, even inside CDATA.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def pieces(text: str) -> list[str]:
    """``text`` as WeChat text messages: at most MAX_CHARS characters and MAX_BYTES bytes each."""
    out: list[str] = []
    for piece in split_text(text, MAX_CHARS):
        out += split_text(piece, _SAFE_CHARS) if len(piece.encode()) > MAX_BYTES else [piece]
    return out


def xml_safe(text: str) -> str:
    """``text`` fit for wechatpy's ``<![CDATA[...]]>``: no control characters, no early ``]]>``."""
    return _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>")
