"""The email channel (IMAP in, SMTP out, and every mail the bot writes first). See ``adapter``
for the channel, ``outgoing`` for the one sender, ``guard`` for the loop guard."""
from adapters.base import Channel
from adapters.email.adapter import EmailChannel
from adapters.email.config import EmailSettings, problem
from adapters.email.guard import refusal, should_answer

CHANNEL = Channel("email", EmailSettings, problem, EmailChannel)

__all__ = ["CHANNEL", "EmailChannel", "EmailSettings", "refusal", "should_answer"]
