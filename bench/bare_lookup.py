"""The yardstick for bench/inbound.py: a bare aiohttp handler doing one SQLite lookup.

    python bench/bare_lookup.py DATABASE_FILE PORT

``POST /lookup`` with JSON ``{"order_no": ...}`` answers the order's current node. It is
what a minimal service on the same stack costs; orderbot's pipeline is measured against it.
"""
from __future__ import annotations

import json
import sys

import aiosqlite
from aiohttp import web


def yardstick_app(path: str, handler, close) -> web.Application:
    """``handler`` at ``POST path``, ``GET /healthz`` for the bench to wait on, ``close()`` at cleanup."""
    app = web.Application()
    app.router.add_post(path, handler)
    app.router.add_get("/healthz", lambda request: web.Response(text="ok"))

    async def cleanup(app: web.Application) -> None:
        await close()

    app.on_cleanup.append(cleanup)
    return app


def run(app) -> None:
    """Serve ``app`` (or the coroutine making it) on loopback at the port given after the database file."""
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)


async def make_app(path: str) -> web.Application:
    db = await aiosqlite.connect(path)

    async def lookup(request: web.Request) -> web.Response:
        order_no = json.loads(await request.read())["order_no"]
        async with db.execute("SELECT current_node FROM orders WHERE order_no = ?", (order_no,)) as cur:
            row = await cur.fetchone()
        return web.json_response({"node": row[0] if row else None})

    return yardstick_app("/lookup", lookup, db.close)


if __name__ == "__main__":
    run(make_app(sys.argv[1]))
