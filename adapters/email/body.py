"""The new text of a mail: the readable body, without the quoted history below it.

Mail clients quote the whole thread under (or around) the answer: ">" lines, or a marker
line ("On … wrote:", "在 … 写道：", "-----Original Message-----", "------------------ 原始邮件
------------------", an Outlook "From: … Sent: …" / "发件人： … 发送时间：" block) followed
by the old mail. Only what the person wrote now is handed to the router: an order number
quoted from last week's mail must not be read as this week's question.
"""
from __future__ import annotations

import contextlib
import re
import unicodedata
from html.parser import HTMLParser

_SEPARATOR = re.compile(
    r"^[-=_*\s]{2,}(original message|original|forwarded message|原始邮件|原始郵件|回复的原邮件|转发邮件|轉寄郵件)"
    r"[-=_*\s]{2,}$", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^(on\s.{0,400}\swrote|在.{0,400}(写道|寫道)|.{0,400}[于於].{0,100}(写道|寫道))\s*[:：]$",
                          re.IGNORECASE | re.DOTALL)
_HEADER_FROM = re.compile(r"^\**\s*(from|发件人|寄件者|寄件人)\s*\**\s*[:：]", re.IGNORECASE)
_HEADER_DATE = re.compile(r"^\**\s*(sent|date|发送时间|日期|寄件日期|時間|时间)\s*\**\s*[:：]", re.IGNORECASE)
_RULE = re.compile(r"^[-_=*~\s]{5,}$")
_BLANKS = re.compile(r"\n{3,}")
ATTRIBUTION_LINES = 3  # Gmail wraps a long "On …, Name <addr> wrote:" over up to three lines


def _norm(line: str) -> str:
    return unicodedata.normalize("NFKC", line).strip()


def _quote_starts(lines: list[str], i: int) -> bool:
    """Whether the quoted history begins at line ``i``."""
    line = _norm(lines[i])
    if _SEPARATOR.match(line) or lines[i] == "-- ":  # "-- " opens a signature (RFC 3676)
        return True
    if _HEADER_FROM.match(line):
        return any(_HEADER_DATE.match(_norm(nxt)) for nxt in lines[i + 1:i + 5])
    low = line.lower()
    if low.startswith("on ") or line.startswith("在") or "写道" in line or "寫道" in line or "wrote" in low:
        for n in range(1, ATTRIBUTION_LINES + 1):
            joined = " ".join(_norm(x) for x in lines[i:i + n])
            if _ATTRIBUTION.match(joined):
                return True
    return False


def strip_quoted(text: str) -> str:
    """``text`` without ">" lines and without everything from a reply marker on."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith((">", "＞")):
            continue
        if _quote_starts(lines, i):
            break
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _RULE.match(kept[-1])):
        kept.pop()  # the "____" or "----" line Outlook puts above its header block
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


# ---------------------------------------------------------------- HTML → text
_BLOCK = frozenset({"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
                    "pre", "section", "article", "header", "footer", "blockquote", "dd", "dt"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"})
_INVISIBLE = frozenset({"head", "style", "script", "title", "template", "noscript"})
# Quoted history as mail clients mark it in HTML: Gmail, Outlook, Apple Mail, Thunderbird.
_QUOTE_CLASSES = frozenset({"gmail_quote", "gmail_extra", "moz-cite-prefix", "yahoo_quoted"})
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hiding started here)
        self.hiding = False

    def _hides(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _INVISIBLE or tag == "blockquote":
            return True
        a = {k.lower(): (v or "") for k, v in attrs}
        return bool(set(a.get("class", "").lower().split()) & _QUOTE_CLASSES) or a.get("id", "").lower() in _QUOTE_IDS

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and not self.hiding:
            self.out.append("\n")
        if tag in _VOID:
            return
        starts = not self.hiding and self._hides(tag, attrs)
        self.hiding = self.hiding or starts
        self.stack.append((tag, starts))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and not self.hiding:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self.stack):
            return  # a stray end tag
        while self.stack:
            t, started = self.stack.pop()
            if started:
                self.hiding = False
            if t == tag:
                break
        if tag in _BLOCK and not self.hiding:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hiding:
            self.out.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    """The visible text of an HTML mail body, without the parts mail clients mark as quoted."""
    parser = _TextOf()
    with contextlib.suppress(Exception):  # html.parser is lenient; keep what was read before a failure
        parser.feed(html)
        parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
