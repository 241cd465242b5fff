"""Times in the reader's zone, the ETA as a day, and `orderbot init` writing the zone."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from tests.kit.notices import CHAT, NO, Notices


async def test_a_customer_in_shanghai_sees_the_shipping_time_in_shanghai_time(h: Notices):
    h.bot.engine.tz = ZoneInfo("UTC")  # a fresh machine's server zone
    customer = await h.order(at="outbound")  # at 02:00 UTC: 10:00 in Shanghai
    await h.bind(customer, tz="Asia/Shanghai")
    card = await h.bot.flow(str(CHAT)).say(NO)
    assert "10:00" in card and "02:00" not in card


async def test_a_chat_sets_its_own_zone_with_slash_timezone(h: Notices):
    h.bot.engine.tz = ZoneInfo("UTC")
    customer = await h.order(at="outbound")
    await h.bind(customer)
    chat = h.bot.flow(str(CHAT))
    assert "02:00" in await chat.say(NO)
    assert "Asia/Shanghai" in await chat.say("/timezone asia/shanghai")
    assert "10:00" in await chat.say(NO)
    assert "Mars/Base" in await chat.say("/timezone Mars/Base")


async def test_the_eta_is_shown_as_a_day_not_to_the_minute(h: Notices):
    customer = await h.order(at="paid")
    await h.bind(customer)
    card = await h.bot.flow(str(CHAT)).say(NO)
    [eta] = [line for line in card.splitlines() if line.startswith("预计送达")]
    assert re.fullmatch(r"预计送达：\d{1,2}月\d{1,2}日(–\d{1,2}日)?", eta), eta


def test_init_writes_the_zone_given_or_detected(cli, tmp_path):
    assert cli("init", "--dir", str(tmp_path / "a"), "--timezone", "asia/shanghai", input="").code == 0
    assert 'timezone = "Asia/Shanghai"' in (tmp_path / "a" / "orderbot.toml").read_text()
    detected = cli("init", "--dir", str(tmp_path / "b"), input="")
    assert detected.code == 0 and "time zone:" in detected.out
    assert re.search(r'^timezone = "[\w/+-]+"$', (tmp_path / "b" / "orderbot.toml").read_text(), re.M)
    bad = cli("init", "--dir", str(tmp_path / "c"), "--timezone", "Mars/Base", input="")
    assert bad.code != 0 and "unknown time zone" in bad.err and "Traceback" not in bad.err


def test_init_at_a_terminal_asks_for_the_zone_and_offers_this_machines(cli, tmp_path):
    import os
    import pty
    import subprocess
    import sys

    main, side = pty.openpty()
    os.write(main, b"not/a_zone\nEurope/Berlin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBOT_")}
    p = subprocess.run([sys.executable, "-m", "bot", "init", "--dir", str(tmp_path / "t")], stdin=side,
                       capture_output=True, text=True, env=env, timeout=60)
    os.close(side)
    os.close(main)
    assert p.returncode == 0, p.stderr
    assert "Time zone" in p.stdout and "unknown time zone" in p.stdout
    assert 'timezone = "Europe/Berlin"' in (tmp_path / "t" / "orderbot.toml").read_text()
