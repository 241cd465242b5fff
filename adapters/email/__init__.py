"""The email channel (IMAP in, SMTP out). See ``channel`` for the adapter, ``guard`` for the loop guard."""
from adapters.email.adapter import EmailChannel
from adapters.email.guard import refusal, should_answer

__all__ = ["EmailChannel", "refusal", "should_answer"]
