"""Outgoing webhooks as a channel the outbox sender sends through (never a chat: nothing comes in)."""
from adapters.webhook.adapter import SIGNATURE, WebhookSender, sign

__all__ = ["SIGNATURE", "WebhookSender", "sign"]
