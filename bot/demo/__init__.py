"""`orderbot demo`: the whole service on a throwaway SQLite database, with believable history.

The demo reads no config file and no ``ORDERBOT_*`` variable: everything it needs is made up
here and in ``bot.demo.seed``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import time as timer
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bot.app import serve
from bot.cli.support import CONFIG_EXIT, DEMO_CONFIG, DEMO_PID, DEMO_PREFIX, fail
from bot.config import ENV_PREFIX, ConfigError, Settings, load_settings
from bot.demo.motion import keep_moving
from bot.demo.data import SHOWCASE_ORDER
from bot.demo.seed import seed_orders, seed_showcase, seed_staff
from models.apikeys import ApiKey, hash_key, new_key
from models.engine import ProgressEngine
from models import console, progress
from models.orders import Order, OrderException
from models.people import StaffMember

log = logging.getLogger(__name__)
DEMO_BRAND = "演示五金厂 Demo Hardware"  # the company the demo's pages and mails speak for
DEMO_MANAGER = "M001"  # the demo's manager (bot/demo/seed.py), signed in to the console from the start message
DEMO_TIMEZONE = "Asia/Shanghai"  # the demo's customers and staff are in China, whatever the machine says


@dataclass
class DemoInfo:
    """What the start-up message shows; filled in while the database is prepared."""

    db_file: Path
    kept: bool
    config: Path  # the demo's own config file, which `orderbot ...` in another terminal reads
    api_key: str = ""
    orders: int = 0
    late_order: str | None = None
    late_email: str | None = None  # the late order's customer: where its code is mailed
    move: tuple[str, str] | None = None  # an order and the node it can go to next
    console_token: str | None = None  # a sign-in link for the demo's manager
    secret: str = ""  # the demo's secret key, which signs progress links
    progress_token: str | None = None  # the late order's customer progress page


# ---------------------------------------------------------------- running it
def run_demo(host: str, port: int, n_orders: int, db_path: Path | None) -> None:
    """Serve the demo until Ctrl+C or SIGTERM; the throwaway database goes with it."""
    # A folder of its own: a second demo on this machine neither reads nor removes this one's files.
    folder = Path(tempfile.mkdtemp(prefix=DEMO_PREFIX))
    info = DemoInfo(db_file=db_path.resolve() if db_path else folder / "demo.db", kept=db_path is not None,
                    config=folder / DEMO_CONFIG)
    try:
        settings = demo_settings(folder, info, host, port)
        asyncio.run(serve(settings, prepare=partial(prepare, n_orders=n_orders, info=info),
                          on_ready=partial(print_instructions, info), companion=keep_moving))
    except ConfigError as e:  # only --host or --port can be wrong here
        fail(str(e), CONFIG_EXIT)
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass  # stopped while seeding
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"demo stopped; the database stays in {info.db_file}" if info.kept
          else "demo stopped; its database is gone", flush=True)


@contextmanager
def _without_orderbot_env() -> Iterator[None]:
    """Hide ORDERBOT_* variables: one naming a real database must not get demo orders."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(ENV_PREFIX)}
    try:
        yield
    finally:
        os.environ.update(saved)


def demo_settings(folder: Path, info: DemoInfo, host: str, port: int) -> Settings:
    """Settings from nothing but the demo's own config file in ``folder``.

    With the demo's process id next to it, so that `orderbot chat` and `orderbot mailbox` in
    another terminal find the running demo's database without a config (``running_demos``).
    """
    # A throwaway file need not survive a power cut; a kept one keeps WAL's usual safety.
    url = f"sqlite://{info.db_file}?synchronous={'NORMAL' if info.kept else 'OFF'}"
    info.secret = secrets.token_urlsafe(32)
    text = (f"# written by `orderbot demo`; removed when it stops\n[database]\nurl = {json.dumps(url)}\n"
            f"[server]\nhost = {json.dumps(host)}\nport = {port}\ntimezone = {json.dumps(DEMO_TIMEZONE)}\n"
            f"[security]\nsecret_key = {json.dumps(info.secret)}\n"
            f"[brand]\nname = {json.dumps(DEMO_BRAND)}\nphone = \"0574-8888 6666\"\nemail = \"sales@demo-factory.example\"\n"
            # Notices at once, day and night: a newcomer should see them arrive.
            "[notifications]\nquiet_hours = \"\"\ndigest_seconds = 5\nscan_interval_seconds = 15\n")
    info.config.write_text(text, encoding="utf-8")
    with _without_orderbot_env():
        settings = load_settings(info.config)
    (folder / DEMO_PID).write_text(str(os.getpid()), encoding="ascii")
    return settings


async def prepare(engine: ProgressEngine, *, n_orders: int, info: DemoInfo) -> None:
    """Seed staff and orders unless there are orders already; make a fresh demo API key."""
    if not await Order.all().exists():
        started, loop = timer.perf_counter(), asyncio.get_running_loop()
        # A task of its own: stopped half-way into a transaction, it leaves that transaction in its
        # own context, not in the one the database is closed from. SIGTERM stops it as Ctrl+C does.
        seeding = asyncio.create_task(_seed(engine, n_orders))
        loop.add_signal_handler(signal.SIGTERM, seeding.cancel)
        try:
            await seeding
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
        log.info("seeded %d demo orders in %.1f s", n_orders, timer.perf_counter() - started)
    info.api_key = new_key()
    await ApiKey.create(name="demo", prefix=info.api_key[:10], key_hash=hash_key(info.api_key))
    info.orders = await Order.all().count()
    manager = await StaffMember.filter(code=DEMO_MANAGER, active=True).first()
    if manager is not None:
        info.console_token = await console.issue_link(manager, "cli", engine.clock())
    info.late_order, info.move = await pick_examples(engine)
    if info.late_order:
        late = await Order.get(order_no=info.late_order)
        info.late_email = (await late.customer).email
        info.progress_token = await progress.link_for(info.secret, late.id, engine.clock(), made_for="cli")


async def _seed(engine: ProgressEngine, n_orders: int) -> None:
    await seed_staff()
    with engine.hooks_paused():  # the made-up past tells nobody anything
        await seed_showcase(engine)
        await seed_orders(engine, n_orders - 1)


# ---------------------------------------------------------------- what to try
async def pick_examples(engine: ProgressEngine) -> tuple[str | None, tuple[str, str] | None]:
    """A late order (README.md's); and a recent order without open exceptions, with the node it can go to next."""
    overdue = await Order.filter(promised_date__lt=engine.today()).order_by("promised_date", "id").limit(500)
    showcase = await Order.filter(order_no=SHOWCASE_ORDER).first()  # absent from a database kept by an older demo
    late = next((o.order_no for o in ([showcase] if showcase else []) + overdue if engine.is_late(o)), None)
    unresolved = OrderException.filter(status__in=("open", "acknowledged"))
    stuck = set(await unresolved.values_list("order_id", flat=True))
    for o in await Order.all().order_by("-id").limit(200):
        wf = engine.workflows.get(o.workflow)
        if wf and o.id not in stuck and o.order_no != late and wf.index(o.current_node) < wf.done_index:
            return late, (o.order_no, wf.nodes[wf.index(o.current_node) + 1].key)
    return late, None


def print_instructions(info: DemoInfo, url: str) -> None:
    """Print the address, the demo API key and a few curl lines that work as they stand."""
    base = url.replace("://0.0.0.0:", "://127.0.0.1:")
    auth = f'-H "Authorization: Bearer {info.api_key}"'
    post = f"{auth} -H 'Content-Type: application/json' -d"
    fate = "kept after exit" if info.kept else "thrown away on exit"
    lines = ["", "演示已启动 — the orderbot demo is running", f"  URL:          {url}",
             f"  Web chat:     {base}/chat",
             *([f"  Console:      {base}/console/signin/{info.console_token}",
                f"                (the manager's sign-in link: works once, within 5 minutes;",
                f"                 `orderbot console-link {DEMO_MANAGER}` prints another)"] if info.console_token else []),
             *([f"  Customer:     {base}/t/{info.progress_token}",
                "                (the late order's progress page, as its customer sees it)"] if info.progress_token else []),
             f"  API docs:     {base}/api/docs",
             f"  Demo API key: {info.api_key}",
             f"  Database:     {info.db_file} ({info.orders} orders; {fate})",
             f"  Config:       {info.config} (`orderbot` commands without a config use it;",
             f"                with other demos running: export {ENV_PREFIX}CONFIG={info.config})",
             "", "Try:", f"  curl -s {base}/healthz", f"  curl -s {auth} '{base}/api/v1/orders?late=true'"]
    if info.late_order:
        order = f"{base}/api/v1/orders/{info.late_order}"
        lines += [f"  curl -s {auth} {order}    # a late order",
                  f"""  curl -s {post} '{{"kind": "delay", "note": "customer called"}}' {order}/exceptions"""]
    if info.move:
        no, node = info.move
        body = f'{{"event_id": "try-{secrets.token_hex(3)}", "node": "{node}"}}'
        lines.append(f"  curl -s {post} '{body}' {base}/api/v1/orders/{no}/events    # on to {node}")
    lines.append(f"  curl -s {base}/api/v1/openapi.json")
    if info.late_order:
        lines += ["", "Talk to the bot as a customer would (the code goes to the dev mailbox):",
                  f"  printf '查一下订单{info.late_order}\\n' | orderbot chat --as telegram:1001",
                  f"  orderbot mailbox --to {info.late_email} --last 1",
                  "  orderbot chat --as telegram:1001          # then type the 6-digit code",
                  "  orderbot chat --as telegram:9001          # staff (the manager): /help, /late"]
    lines += ["", "Ctrl+C stops the demo" + ("." if info.kept else " and throws its database away."), ""]
    print("\n".join(lines), flush=True)
