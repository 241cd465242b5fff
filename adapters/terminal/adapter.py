"""The terminal channel: talk to the bot from a terminal, as any identity (`orderbot chat`).

Each line typed (or piped) is one message, sent as ``channel:sender`` (a Telegram user, a
staff member's WeChat...), so that what the bot says is what that person would get.
Nothing reaches a terminal unasked: ``send`` answers that it cannot reach anyone.
"""
from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any, TextIO

from adapters.base import Occasion, OnMessage, Route
from models.messages import Delivery, InboundMessage, Reply, Target

NAME = "terminal"


class Terminal:
    """Reads lines, hands each to the conversation as ``channel:sender`` and prints the replies."""

    name = NAME
    routes: tuple[Route, ...] = ()

    def __init__(self, on_message: OnMessage, channel: str, sender: str, *, group: str | None = None,
                 out: TextIO | None = None) -> None:
        self.on_message, self.channel, self.sender, self.group = on_message, channel, sender, group
        self.out = out or sys.stdout

    def parse(self, raw: Any) -> InboundMessage | None:
        """A typed line as a message; None for a blank one."""
        if not isinstance(raw, str) or not raw.strip():
            return None
        # A fresh id each line, as a platform's would be: the line is handled once.
        return InboundMessage(channel=self.channel, sender_id=self.sender, chat_id=self.group or self.sender,
                              text=raw.rstrip("\r\n"), message_id=f"terminal-{uuid.uuid4().hex}",
                              is_group=self.group is not None, mentioned=self.group is not None)

    async def send(self, target: Target, reply: Reply, occasion: Occasion | None = None) -> Delivery:
        return Delivery.failed("a terminal is reached only while someone types in it", retryable=False,
                               unreachable=True)

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def run(self, stdin: TextIO | None = None) -> int:
        """Until end of input; returns how many messages were sent."""
        stdin = stdin or sys.stdin
        interactive = stdin.isatty()
        loop = asyncio.get_running_loop()
        sent = 0
        while True:
            if interactive:
                print("> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                return sent
            msg = self.parse(line)
            if msg is None:
                continue
            sent += 1
            for reply in await self.on_message(msg):
                print(reply.as_text(), file=self.out, end="\n\n", flush=True)
