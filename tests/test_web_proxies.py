"""The web chat behind a reverse proxy: which address the per-source rate limit counts.

``X-Forwarded-For`` is read only when the direct peer is one of ``[web] trusted_proxies``;
the client is then the right-most address that is not itself a trusted proxy.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.web.proxies import TrustedProxies, parse_address
from bot.config import ConfigError, load_settings
from bot.conversation.limits import Limit
from models.chats import RateCounter
from tests.kit.base import SECRET, Bot
from tests.kit.web_client import Site, Visitor, serve_site

PEER = "203.0.113.9"  # whoever connects to us
PROXY = "10.0.0.2"
CLIENT = "198.51.100.7"
SPOOFED = "6.6.6.6"


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("trusted, peer, forwarded, expected", [
    # no proxies configured: the header is never read, whatever it says
    ([], PEER, [SPOOFED], PEER),
    ([], PROXY, [f"{SPOOFED}, {CLIENT}"], PROXY),
    # proxies configured, but this peer is not one: a spoofed header is ignored
    (["10.0.0.0/8"], PEER, [SPOOFED], PEER),
    (["10.0.0.0/8"], PEER, ["10.0.0.3"], PEER),
    # a trusted proxy: the address it got the request from
    (["10.0.0.0/8"], PROXY, [CLIENT], CLIENT),
    ([PROXY], PROXY, [f" {CLIENT} "], CLIENT),
    # what the client wrote itself, left of its own address, is ignored
    (["10.0.0.0/8"], PROXY, [f"{SPOOFED}, {CLIENT}"], CLIENT),
    # a chain of trusted proxies: the right-most address that is not one of them
    (["10.0.0.0/8", "192.0.2.1"], PROXY, [f"{SPOOFED}, {CLIENT}, 192.0.2.1, 10.0.0.3"], CLIENT),
    (["10.0.0.0/8"], PROXY, [f"{CLIENT}, 192.0.2.1, 10.0.0.3"], "192.0.2.1"),  # an untrusted hop is the client
    (["10.0.0.0/8"], PROXY, [SPOOFED, f"{CLIENT}, 10.0.0.3"], CLIENT),  # the header given more than once
    (["10.0.0.0/8"], PROXY, ["10.0.0.5, 10.0.0.3"], "10.0.0.5"),  # all trusted: from inside, the left-most
    # malformed: the peer
    (["10.0.0.0/8"], PROXY, [], PROXY),
    (["10.0.0.0/8"], PROXY, [""], PROXY),
    (["10.0.0.0/8"], PROXY, [" , ,"], PROXY),
    (["10.0.0.0/8"], PROXY, ["not-an-address"], PROXY),
    (["10.0.0.0/8"], PROXY, ["unknown"], PROXY),
    (["10.0.0.0/8"], PROXY, [f"{CLIENT}, garbage"], PROXY),
    (["10.0.0.0/8"], PROXY, [f"{CLIENT}, 10.0.0.3, 999.1.1.1"], PROXY),
    (["10.0.0.0/8"], PROXY, [f"garbage, {CLIENT}"], CLIENT),  # the client's own junk, left of it, is ignored
    (["10.0.0.0/8"], PROXY, [f"{CLIENT}\x00"], PROXY),
    # ports, IPv6, and a dual-stack socket's IPv4-mapped peer
    (["10.0.0.0/8"], PROXY, [f"{CLIENT}:4711"], CLIENT),
    (["10.0.0.0/8"], PROXY, ["[2001:DB8:0::1]:443"], "2001:db8::1"),
    (["::1"], "::1", ["2001:db8:0:0::1"], "2001:db8::1"),
    (["fd00::/8"], "fd00::2", [f"{CLIENT}, fd00::3"], CLIENT),
    (["10.0.0.0/8"], f"::ffff:{PROXY}", [CLIENT], CLIENT),
    # no peer address at all (a unix socket)
    (["10.0.0.0/8"], None, [CLIENT], None),
])
def test_the_client_address(trusted, peer, forwarded, expected):
    assert TrustedProxies(trusted).client(peer, forwarded) == expected


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.1", "192.0.2.1"), ("192.0.2.1:80", "192.0.2.1"), ("[::1]", "::1"), ("[::1]:8080", "::1"),
    ("::ffff:192.0.2.1", "192.0.2.1"), ("", None), ("192.0.2.1:", None), ("192.0.2", None), ("::1:80:", None),
    ("[192.0.2.1]:80", "192.0.2.1"), ("host.example", None),
])
def test_parse_address(text, expected):
    address = parse_address(text)
    assert (str(address) if address else None) == expected


# ---------------------------------------------------------------- through the web chat
@pytest.fixture
async def site(bot: Bot, settings, engine) -> AsyncIterator[Site]:
    async with serve_site(bot, settings, engine) as s:
        yield s


async def say_via(visitor: Visitor, text: str, forwarded: str | None) -> str:
    headers = visitor.headers() | ({"X-Forwarded-For": forwarded} if forwarded is not None else {})
    visitor._n += 1
    async with visitor.session.post(f"{visitor.base}/chat/api/messages", headers=headers,
                                    json={"text": text, "id": f"m{visitor._n}"}) as r:
        assert r.status == 200
        return "\n".join(reply["text"] for reply in (await r.json())["replies"])


async def source_keys() -> set[str]:
    return set(await RateCounter.filter(key__startswith="source:").values_list("key", flat=True))


# The test client connects from 127.0.0.1: that is the peer.
@pytest.mark.parametrize("trusted, forwarded, counted", [
    ([], SPOOFED, "127.0.0.1"),
    (["127.0.0.1"], CLIENT, CLIENT),
    (["127.0.0.0/8", "10.0.0.0/8"], f"{SPOOFED}, {CLIENT}, 10.0.0.3", CLIENT),
    (["127.0.0.1"], "bogus", "127.0.0.1"),
    (["127.0.0.1"], None, "127.0.0.1"),
    (["10.0.0.0/8"], CLIENT, "127.0.0.1"),
], ids=["spoofed, no proxies", "trusted proxy", "chain", "malformed", "no header", "peer not trusted"])
async def test_the_rate_limit_counts_the_client_address(site: Site, trusted, forwarded, counted):
    site.chat.config.trusted_proxies = trusted
    assert "订单助手" in await say_via(site.visitor(), "你好", forwarded)
    assert await source_keys() == {f"source:{counted}"}


async def test_the_websocket_counts_the_client_address_too(site: Site):
    site.chat.config.trusted_proxies = ["127.0.0.1"]
    me = site.visitor()
    async with me.session.ws_connect(f"{site.base}/chat/ws",
                                     headers=me.headers() | {"X-Forwarded-For": f"{SPOOFED}, {CLIENT}"}) as ws:
        await ws.send_json({"text": "你好", "id": "w1"})
        frame = await ws.receive_json(timeout=10)
    assert frame["id"] == "w1" and frame["replies"]
    assert await source_keys() == {f"source:{CLIENT}"}


@pytest.mark.parametrize("trusted, other_is_limited", [([], True), (["127.0.0.1"], False)],
                         ids=["without trusted proxies everyone behind the proxy is one source",
                              "with the proxy trusted each client has its own limit"])
async def test_clients_behind_one_proxy(site: Site, monkeypatch, trusted, other_is_limited):
    monkeypatch.setattr("bot.conversation.router.PER_SOURCE", Limit("source", 3, 60))
    site.chat.config.trusted_proxies = trusted
    busy, other = site.visitor(), site.visitor()
    for _ in range(3):
        assert "订单助手" in await say_via(busy, "你好", "198.51.100.7")
    assert "太频繁" in await say_via(busy, "你好", "198.51.100.7")
    assert ("太频繁" in await say_via(other, "你好", "198.51.100.8")) == other_is_limited
    # whatever the busy client adds to the header, the proxy's entry names it
    assert "太频繁" in await say_via(busy, "你好", "198.51.100.9, 198.51.100.7")


# ---------------------------------------------------------------- the setting
def test_trusted_proxies_are_off_by_default():
    assert load_settings(None, security={"secret_key": SECRET}).web.trusted_proxies == []


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.0/8, 192.0.2.1", ["10.0.0.0/8", "192.0.2.1/32"]),
    ('["172.16.0.0/12", "2001:db8::/32"]', ["172.16.0.0/12", "2001:db8::/32"]),
    ("10.1.2.3/8", ["10.0.0.0/8"]),  # host bits allowed, as in nginx's set_real_ip_from
    ("", []),
])
def test_trusted_proxies_come_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("ORDERBOT_WEB__TRUSTED_PROXIES", value)
    assert load_settings(None, security={"secret_key": SECRET}).web.trusted_proxies == expected


def test_trusted_proxies_from_the_file(tmp_path):
    cfg = tmp_path / "orderbot.toml"
    cfg.write_text(f'[security]\nsecret_key = "{SECRET}"\n[web]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n')
    assert load_settings(cfg).web.trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8"]


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.0/33", "10.0.0.1:80"])
def test_a_trusted_proxy_that_is_no_address_is_a_config_error(monkeypatch, value):
    monkeypatch.setenv("ORDERBOT_WEB__TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match="web.trusted_proxies"):
        load_settings(None, security={"secret_key": SECRET})
