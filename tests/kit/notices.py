"""The notifications' side of the story: an order moved through the API, its customer bound on
chats, and one outbox sender delivering to the Telegram and WeChat stand-ins and a real SMTP server."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from models.orders import Order
from models.outbox import Outbox
from models.people import Identity
from notifications.sending import OutboxSender
from tests.kit.base import Api, Bot
from tests.kit.fakes import Clock, MailSink
from tests.kit.telegram_api import BotApi
from tests.kit.wechat_api import WeChatApiStub

DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai (the server's zone): not quiet
NO = "SO202611240101"
EMAIL = "zhang@buyer.example"
CHAT = 1001  # the customer's Telegram chat
OPENID = "o_customer_1"
DIGEST = 21  # a little past the default digest_seconds (20): progress notices are due by then
NODES = ["placed", "approved", "paid", "stocking", "production", "qc", "outbound", "in_transit", "delivered"]


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class Notices:
    """The service with its channels and one outbox sender, and helpers that read like the story."""

    settings: Settings
    api: Api
    bot: Bot
    clock: Clock
    botapi: BotApi
    wx_api: WeChatApiStub
    mail: MailSink
    sender: OutboxSender
    channels: dict

    def sender_as(self, owner: str, **kw) -> OutboxSender:
        """Another process's outbox sender on the same database and channels."""
        kw = {"lease_seconds": 60, "first_retry_seconds": 10, "poll_seconds": 0.05, **kw}
        return OutboxSender(self.settings.notifications, self.bot.engine, self.channels, owner=owner, **kw)

    async def order(self, no: str = NO, *, at: str = "placed", **body) -> int:
        """Create ``no`` through the API and move it to ``at``; its customer's id."""
        status, data = await self.api.create(no, **body)
        assert status == 201, data
        await self.advance(no, *NODES[1:NODES.index(at) + 1])
        return (await Order.get(order_no=no)).customer_id

    async def advance(self, no: str, *nodes: str) -> None:
        for node in nodes:
            status, data = await self.api.event(no, f"erp-{no}-{node}", node)
            assert status == 201, data

    async def bind(self, customer_id: int, channel: str = "telegram", external_id: str = str(CHAT), *,
                   hours_ago: float = 1, tz: str | None = None) -> Identity:
        """The customer proved who they are on this chat and last wrote ``hours_ago``."""
        return await Identity.create(channel=channel, external_id=external_id, customer_id=customer_id,
                                     timezone=tz, last_inbound_at=self.clock() - timedelta(hours=hours_ago))

    async def open_exception(self, no: str = NO, kind: str = "stockout", note: str | None = "缺螺丝") -> int:
        status, data = await self.api.call("POST", f"/api/v1/orders/{no}/exceptions", {"kind": kind, "note": note})
        assert status == 201, data
        return data["id"]

    async def deliver(self, after: float = 0) -> int:
        """Let ``after`` seconds pass, then one outbox pass; how many rows it claimed."""
        self.clock.advance(seconds=after)
        return await self.sender.run_once()

    @staticmethod
    async def rows(**filters) -> list[Outbox]:
        return await Outbox.filter(**filters).order_by("id")


def texts(h: Notices, chat=CHAT) -> list[str]:
    return h.botapi.texts(chat)
