"""What channels keep in the database: platform access tokens, and the sends people allowed us.

WeChat's access token is shared by every process (fetching a new one invalidates the old);
a WeChat subscribe message may be sent once per consent the person gave.
"""
from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model

from models.chats import InboundDedupe
from models.messages import Target
from models.sql import transaction


class ChannelToken(Model):
    """A platform's access token (WeChat's), shared by every process."""

    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.TextField()
    expires_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channel_tokens"


class MessageConsent(Model):
    """Sends a person allowed us on a channel: WeChat subscribe messages, one per consent given."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    address = fields.CharField(max_length=254)
    template_id = fields.CharField(max_length=128)
    remaining = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "message_consents"
        unique_together = (("channel", "address", "template_id"),)


async def stored_token(name: str) -> ChannelToken | None:
    return await ChannelToken.get_or_none(name=name)


async def store_token(name: str, value: str, expires_at: datetime) -> None:
    if not await ChannelToken.filter(name=name).update(value=value, expires_at=expires_at):
        await ChannelToken.create(name=name, value=value, expires_at=expires_at)


async def take_consent(target: Target, template_id: str) -> bool:
    """Use one of the person's consents for ``template_id``; False when none is left."""
    updated = await MessageConsent.filter(channel=target.channel, address=target.address, template_id=template_id,
                                          remaining__gt=0).update(remaining=F("remaining") - 1)
    return updated > 0


async def give_consent(target: Target, template_id: str) -> None:
    """The person accepted a subscribe message for ``template_id`` (one more send allowed)."""
    if not await MessageConsent.filter(channel=target.channel, address=target.address,
                                       template_id=template_id).update(remaining=F("remaining") + 1):
        await MessageConsent.create(channel=target.channel, address=target.address, template_id=template_id,
                                    remaining=1)


async def record_consents(target: Target, push_key: str, template_ids: list[str]) -> bool:
    """One more send allowed per accepted template; the platform's retries of the same push
    (``push_key``) count once. False when this push was counted before."""
    try:
        async with transaction():
            await InboundDedupe.create(channel=target.channel, message_key=push_key)
            for template_id in template_ids:
                await give_consent(target, template_id)
    except IntegrityError:
        return False
    return True
