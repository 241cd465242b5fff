"""The web chat in a real browser: Debian's headless Chromium, phone-sized, with a screenshot.

Skips when Chromium is not installed (``apt-get install chromium``; ``.ci/run`` does it).
"""
from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncIterator

import pytest

from tests.kit.base import Bot
from tests.kit.web_client import Site, serve_site

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--accept-lang=zh-CN,zh", "--window-size=375,812",
                  "--virtual-time-budget=8000")


@pytest.fixture
async def site(bot: Bot, settings, engine) -> AsyncIterator[Site]:
    async with serve_site(bot, settings, engine) as s:
        yield s


async def chromium(tmp_path, *args: str, profile: str | None = None) -> str:
    """Chromium run once on ``args``; in a profile of its own unless one is named (its cookies kept)."""
    profile = tmp_path / (profile or f"profile-{len(list(tmp_path.iterdir()))}")
    proc = await asyncio.create_subprocess_exec(CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_a_phone_browser_follows_the_link_and_shows_the_bots_reply(site: Site, api, tmp_path):
    _, created = await api.create("SO202611240043")
    url = f"{site.base}/chat?start={created['bind_token']}"
    dom = await chromium(tmp_path, "--dump-dom", url, profile="phone")
    assert "已绑定订单 SO202611240043" in dom, dom[-3000:]
    shot = tmp_path / "chat-375x812.png"
    await chromium(tmp_path, f"--screenshot={shot}", url, profile="phone")  # the same browser: its link still works
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (375, 812)
    assert shot.stat().st_size > 10_000, "a page with text on it, not a blank one"
