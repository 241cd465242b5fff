"""The second yardstick for bench/inbound.py: the database work every update must do, and nothing else.

    python bench/floor_lookup.py DATABASE_FILE PORT

``POST /update`` takes a Telegram update (a bound customer asking about an order) and runs,
in one transaction on the event loop (no thread, no ORM, no asyncio between statements),
the statements orderbot's pipeline runs for it (taken from a trace of one update): the
dedupe row, the conversation's lease, the chat's rate counter, the identity touched and read
with its customer, the order's rate counter, the order, its nodes and open exceptions, the
audit row, the lease given back. What DESIGN.md asks of every update: dedupe and
conversation state in the database, rate limits in the database, every lookup audited. No
intent parser (a regular expression finds the order number), no card, no view policy: the
answer is the order's current node. Its rate is the most one process could reach with that
work, whatever the rest of the pipeline cost.
"""
from __future__ import annotations

import json
import re
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

from aiohttp import web
from bare_lookup import run, yardstick_app  # noqa: E402 - sibling script

ORDER_NO = re.compile(r"SO\d+")
OWNER = "floor:1"


def make_app(path: str) -> web.Application:
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA journal_size_limit=67108864")

    def work(update: dict) -> str:
        msg = update["message"]
        chat, text = str(msg["chat"]["id"]), msg["text"]
        order_no = ORDER_NO.search(text).group(0)
        now = datetime.now(timezone.utc)
        window = int(time.time())
        session = f"telegram:{chat}"
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO inbound_dedupe (channel, message_key, received_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (channel, message_key) DO NOTHING RETURNING id",
                       ["floor", f"u{update['update_id']}", now]).fetchall()
            db.execute("INSERT INTO conversation_states (session_key, data, lease_owner, lease_until, version, "
                       "updated_at) VALUES (?, '{}', ?, ?, 0, ?) ON CONFLICT (session_key) DO UPDATE SET "
                       "lease_owner = excluded.lease_owner, lease_until = excluded.lease_until "
                       "WHERE conversation_states.lease_until IS NULL OR conversation_states.lease_until < ? "
                       "OR conversation_states.lease_owner = ? RETURNING data, locked_until",
                       [session, OWNER, now + timedelta(seconds=30), now, now, OWNER]).fetchall()
            db.execute("INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1) ON CONFLICT "
                       "(key, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count",
                       [f"chat:{session}", window - window % 60]).fetchall()
            db.execute("UPDATE identities SET last_inbound_at = ? WHERE channel = 'telegram' AND external_id = ? "
                       "AND (last_inbound_at IS NULL OR last_inbound_at < ?)",
                       [now, chat, now - timedelta(minutes=1)])
            identity = db.execute("SELECT i.*, c.* FROM identities i LEFT JOIN customers c ON c.id = i.customer_id "
                                  "WHERE i.channel = 'telegram' AND i.external_id = ? LIMIT 1", [chat]).fetchone()
            db.execute("INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1) ON CONFLICT "
                       "(key, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count",
                       [f"order:{order_no}", window - window % 600]).fetchall()
            order = db.execute("SELECT * FROM orders WHERE order_no = ? OR tracking_no = ? "
                               "ORDER BY order_no = ? DESC LIMIT 1", [order_no, order_no, order_no]).fetchone()
            order_id, node = order["id"], order["current_node"]
            db.execute("SELECT DISTINCT node FROM node_events WHERE order_id = ? AND kind <> 'update'",
                       [order_id]).fetchall()
            db.execute("SELECT kind, note FROM order_exceptions WHERE order_id = ? AND status IN "
                       "('open', 'acknowledged') ORDER BY id", [order_id]).fetchall()
            db.execute("INSERT INTO audit_log (at, actor_kind, actor_id, order_no, fields_shown, channel, "
                       "verified_by, chat_id) VALUES (?, 'customer', ?, ?, '[\"current_node\"]', 'telegram', "
                       "'binding', ?)", [now, str(identity["customer_id"]), order_no, chat])
            db.execute("UPDATE conversation_states SET lease_owner = NULL, lease_until = NULL, data = ?, "
                       "locked_until = NULL, version = version + 1, updated_at = ? WHERE session_key = ? "
                       "AND lease_owner = ?", [json.dumps({"last_order": order_no}), now, session, OWNER])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return node

    async def update(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        node = work(data)
        return web.json_response({"method": "sendMessage", "chat_id": data["message"]["chat"]["id"], "text": node})

    async def close() -> None:
        db.close()

    sqlite3.register_adapter(datetime, lambda d: d.isoformat(" "))
    return yardstick_app("/update", update, close)


if __name__ == "__main__":
    run(make_app(sys.argv[1]))
