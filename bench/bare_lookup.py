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


async def make_app(path: str) -> web.Application:
    app = web.Application()
    db = await aiosqlite.connect(path)

    async def lookup(request: web.Request) -> web.Response:
        order_no = json.loads(await request.read())["order_no"]
        async with db.execute("SELECT current_node FROM orders WHERE order_no = ?", (order_no,)) as cur:
            row = await cur.fetchone()
        return web.json_response({"node": row[0] if row else None})

    async def close(app: web.Application) -> None:
        await db.close()

    app.router.add_post("/lookup", lookup)
    app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
    app.on_cleanup.append(close)
    return app


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
