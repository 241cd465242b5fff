"""One IMAP connection to INBOX: every unseen mail handled, then IDLE, reconnecting when it drops.

Mail is fetched with ``BODY.PEEK[]`` (reading does not mark it seen) and marked ``\\Seen``
only once it was handled, so a mail read just before a crash is handled again (and the
router's dedupe on Message-ID keeps that from answering twice). After a batch the mailbox
is searched again, and IDLE is entered only when a search found nothing new: mail that
arrives while a batch is handled (its ``EXISTS`` comes inside another command's answer,
and the server does not say it twice) is handled right after it. IDLE is re-issued every
5 minutes, well within the 30 at which RFC 2177 servers drop idle clients (and within what
NAT boxes allow a silent connection); each re-issue searches too. A lost connection is
retried after 1 s, doubling to 5 min, with jitter; each change of state is logged once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aioimaplib

from adapters.email.config import EmailSettings

log = logging.getLogger("adapters.email")
COMMAND_TIMEOUT = 30.0
MAX_FETCH = 5 * 1024 * 1024  # bytes of a mail read; the text comes before big attachments
NEW_MAIL = (b"EXISTS", b"RECENT")

HandleMail = Callable[[bytes], Awaitable[bool]]  # True: done, mark it seen; False: leave it for later


class ConnectionLost(ConnectionError):
    """The server went away (closed the connection or said BYE)."""


class Refused(ConnectionError):
    """The server answered NO or BAD to a command we need."""


class MailboxWatcher:
    """Feeds each unseen mail of INBOX to ``handle``, one at a time, until ``stop()``."""

    first_retry = 1.0
    max_retry = 300.0
    idle_seconds = 5 * 60.0
    retry_seconds = 60.0  # a mail left for later (SMTP down) is tried again this soon
    poll_seconds = 60.0  # for servers without IDLE

    def __init__(self, settings: EmailSettings, handle: HandleMail) -> None:
        self.settings = settings
        self.handle = handle
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()
        self._client: aioimaplib.IMAP4 | None = None
        self._state: str | None = None
        self._retry_soon = False
        self._new_mail = False  # the server announced mail (EXISTS) since the last search
        self._selected = False
        self.where = f"{settings.imap_user} on {settings.imap_host}:{settings.imap_port}"

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        delay = self.first_retry
        while not self._stop.is_set():
            self._selected = False
            try:
                await self._session()
            except Exception as e:  # noqa: BLE001 - every failure means: reconnect later
                if not self._stop.is_set():
                    self._enter(f"down: {_describe(e)}", logging.WARNING,
                                "email: IMAP %s unavailable (%s); retrying with backoff", self.where, _describe(e),
                                exc=None if isinstance(e, (OSError, asyncio.TimeoutError, aioimaplib.AioImapException))
                                else e)
            finally:
                await self._close()
            if self._selected:
                delay = self.first_retry
            if self._stop.is_set():
                break
            try:
                await asyncio.wait_for(self._stop.wait(), random.uniform(delay / 2, delay))
            except TimeoutError:
                pass
            delay = min(delay * 2, self.max_retry)
        log.info("email: stopped watching %s", self.where)

    def _enter(self, state: str, level: int, text: str, *args: Any, exc: BaseException | None = None) -> None:
        """Log a change of state once; the same state again is only a debug line."""
        if state == self._state:
            log.debug(text, *args)
            return
        self._state = state
        log.log(level, text, *args, exc_info=exc)

    async def _session(self) -> None:
        s = self.settings
        self._lost = lost = asyncio.Event()
        context = ssl.create_default_context() if s.imap_ssl else None
        self._client = client = aioimaplib.IMAP4(host=s.imap_host, port=s.imap_port, timeout=COMMAND_TIMEOUT,
                                                 conn_lost_cb=lambda exc: lost.set(), ssl_context=context)
        await self._io(client.wait_hello_from_server())
        password = s.imap_password.get_secret_value() if s.imap_password else ""
        await self._ok(client.login(_quoted(s.imap_user or ""), password), "LOGIN")
        await self._ok(client.select("INBOX"), "SELECT INBOX")
        self._selected = True
        self._enter("up", logging.INFO, "email: watching INBOX of %s", self.where)
        while not self._stop.is_set():
            await self._drain(client)
            if not self._stop.is_set():
                await self._wait(client)

    # ------------------------------------------------------------ unseen mail
    async def _drain(self, client: aioimaplib.IMAP4) -> None:
        """Handle unseen mail, searching again after each batch, until a search finds nothing to try now."""
        left: set[int] = set()  # handled but not done (SMTP down): tried again after ``retry_seconds``
        while not self._stop.is_set():
            self._new_mail = False
            found = await self._ok(client.uid_search("UNSEEN", charset=None), "UID SEARCH UNSEEN")
            uids = {int(u) for line in found.lines[:-1] for u in bytes(line).split() if u.isdigit()} - left
            if not uids and not self._new_mail:
                return
            for uid in sorted(uids):
                if self._stop.is_set():
                    return
                if not await self._one(client, uid):
                    left.add(uid)
                    self._retry_soon = True

    async def _one(self, client: aioimaplib.IMAP4, uid: int) -> bool:
        """Fetch and handle one mail; False when it stays unseen for later."""
        got = await self._ok(client.uid("fetch", str(uid), f"(BODY.PEEK[]<0.{MAX_FETCH}>)"), "UID FETCH")
        raw = next((bytes(x) for x in got.lines if isinstance(x, bytearray)), None)
        if raw is None:
            return True  # expunged meanwhile
        try:
            done = await self.handle(raw)
        except Exception:  # noqa: BLE001 - one mail must not stop the mailbox
            log.exception("email: handling mail UID %s failed; trying again later", uid)
            done = False
        if done:
            await self._ok(client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "UID STORE")
        return done

    # ------------------------------------------------------------ waiting for more
    async def _wait(self, client: aioimaplib.IMAP4) -> None:
        """Until new mail arrives, the IDLE period ends or ``stop()``."""
        wait = self.retry_seconds if self._retry_soon else self.idle_seconds
        self._retry_soon = False
        if not client.has_capability("IDLE"):
            await self._io(asyncio.sleep(min(wait, self.poll_seconds)), timeout=None, until_stop=True)
            return
        idle = await self._io(client.idle_start(timeout=self.idle_seconds + 60))  # the library's own stop: a backstop
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    push = await self._io(client.wait_server_push(timeout=left), timeout=left + 5, until_stop=True)
                except TimeoutError:
                    return
                if push is None or push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                lines = [bytes(x) for x in push if isinstance(x, (bytes, bytearray))]
                if any(x.startswith(b"BYE") for x in lines):
                    raise ConnectionLost("the server said BYE")
                if any(_announces_mail(x) for x in lines):
                    return
        finally:
            if self._lost.is_set():
                idle.cancel()
            else:
                if client.has_pending_idle():
                    client.idle_done()
                await self._io(idle)

    # ------------------------------------------------------------ plumbing
    async def _io(self, aw: Awaitable[Any], *, timeout: float | None = COMMAND_TIMEOUT + 5,
                  until_stop: bool = False) -> Any:
        """``await aw``, but give up when the connection is lost (raise) or, if asked, on stop (None)."""
        task = asyncio.ensure_future(aw)
        lost = asyncio.ensure_future(self._lost.wait())
        stop = asyncio.ensure_future(self._stop.wait()) if until_stop else None
        waiters = {task, lost} | ({stop} if stop else set())
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                if not w.done():
                    w.cancel()
        if task in done:
            return task.result()
        if lost in done:
            raise ConnectionLost("the connection was closed")
        if stop is not None and stop in done:
            return None
        raise TimeoutError()

    async def _ok(self, aw: Awaitable[Any], what: str) -> Any:
        response = await self._io(aw)
        if any(_announces_mail(x) for x in response.lines):  # said in passing: handled after this batch
            self._new_mail = True
        if response.result != "OK":
            said = b" ".join(bytes(x) for x in response.lines if isinstance(x, (bytes, bytearray)))[:200]
            raise Refused(f"{what} refused: {response.result} {said.decode(errors='replace')}")
        return response

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if not self._lost.is_set() and client.get_state() in (aioimaplib.AUTH, aioimaplib.SELECTED):
            with contextlib.suppress(Exception):  # leaving anyway
                await self._io(client.logout(), timeout=5)
        transport = client.protocol.transport
        if transport is not None:
            transport.close()
        for task in list(client.tasks) + list(client.protocol.tasks):
            task.cancel()


def _announces_mail(line: object) -> bool:
    """An untagged ``N EXISTS`` or ``N RECENT`` (aioimaplib drops the ``* ``); not a literal's bytes."""
    return isinstance(line, bytes) and line.rstrip().endswith(NEW_MAIL) and line[:1].isdigit()


def _quoted(text: str) -> str:
    """An IMAP quoted string (RFC 3501 section 4.3); aioimaplib quotes the password itself."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
