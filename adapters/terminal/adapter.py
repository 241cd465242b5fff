"""The console channel: talk to the bot from a terminal, as any identity (`orderbot chat`)."""
from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TextIO

from models.messages import InboundMessage
from bot.conversation.router import Dispatcher


class Console:
    """Reads lines (typed or piped), hands each to the router as ``channel:sender`` and prints the replies."""

    name = "console"

    def __init__(self, dispatcher: Dispatcher, channel: str, sender: str, *, group: str | None = None,
                 out: TextIO | None = None) -> None:
        self.dispatcher, self.channel, self.sender, self.group = dispatcher, channel, sender, group
        self.out = out or sys.stdout
        self._run = uuid.uuid4().hex[:8]  # message ids unique to this run, as a platform's would be

    def message(self, text: str, n: int) -> InboundMessage:
        return InboundMessage(channel=self.channel, sender_id=self.sender, chat_id=self.group or self.sender,
                              text=text, message_id=f"console-{self._run}-{n}", is_group=self.group is not None,
                              mentioned=self.group is not None)

    async def run(self, stdin: TextIO | None = None) -> int:
        """Until end of input; returns how many messages were sent."""
        stdin = stdin or sys.stdin
        interactive = stdin.isatty()
        loop = asyncio.get_running_loop()
        n = 0
        while True:
            if interactive:
                print("> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                return n
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            n += 1
            for reply in await self.dispatcher.handle(self.message(text, n)):
                print(reply.as_text(), file=self.out, end="\n\n", flush=True)
