"""WeChat's HTTP API, the few calls orderbot makes, on asyncio (wechatpy's client blocks).

Every call goes to ``api_base_url`` + ``cgi-bin/...`` with a timeout, and comes back as a
``Delivery``: sent, or failed with a reason that says whether trying again may help and
whether WeChat cannot reach this person now (outside the 48-hour window, not a follower,
no consent), so that notifications fall back to another channel. A token WeChat refuses
is renewed once and the call tried once more. Access tokens never reach the logs.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from adapters.base import Delivery
from adapters.wechat.access_token import SharedToken, TokenUnavailable
from models import leases

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
TOKEN_REFUSED = {40001, 42001, 40014}  # invalid credential, expired, invalid access_token
RETRYABLE = {-1: "WeChat is busy", 45009: "the API's daily quota is used up", 45011: "API calls too frequent"}
UNREACHABLE = {
    45015: "outside the 48-hour window",
    45047: "too many customer-service messages since the user last wrote",
    43004: "the user does not follow the account",
    40003: "the openid does not belong to this account",
    43101: "the user has not agreed to receive this message",
    48001: "this account may not use this API",
}


class ApiError(Exception):
    """WeChat answered with an errcode (``token``: while fetching the access token)."""

    def __init__(self, errcode: int, errmsg: str, *, token: bool = False) -> None:
        super().__init__(f"{errmsg} ({errcode})")
        self.errcode, self.errmsg, self.token = errcode, errmsg, token

    def delivery(self) -> Delivery:
        if self.errcode in UNREACHABLE:
            why = UNREACHABLE[self.errcode]
            return Delivery.failed(f"this channel cannot reach the user now ({why})", retryable=False,
                                   unreachable=True)
        if self.errcode in RETRYABLE:
            return Delivery.failed(f"{RETRYABLE[self.errcode]}: {self.errmsg} ({self.errcode})", retryable=True)
        if self.token:  # a wrong secret or a server outside the IP allow-list: nobody is reachable
            return Delivery.failed(f"WeChat gave no access token: {self.errmsg} ({self.errcode})",
                                   retryable=False, unreachable=True)
        return Delivery.failed(f"WeChat refused the message: {self.errmsg} ({self.errcode})", retryable=False)


class HttpError(Exception):
    """WeChat's API answered with an HTTP error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class WeChatApi:
    """An Official Account's API: access token, customer-service, template and subscribe messages."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, *, timeout: float = TIMEOUT_SECONDS,
                 owner: str = leases.OWNER) -> None:
        self.base = base_url.rstrip("/") + "/cgi-bin/"
        self.app_id, self._secret, self.timeout = app_id, app_secret, timeout
        self.token = SharedToken(f"wechat:{app_id}", self._fetch_token, owner=owner)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_text(self, openid: str, text: str) -> Delivery:
        """A customer-service text message (within 48 h of the person's last message)."""
        return await self.deliver("message/custom/send",
                                  {"touser": openid, "msgtype": "text", "text": {"content": text}})

    async def send_template(self, openid: str, template_id: str, data: dict[str, Any], *,
                            url: str | None = None) -> Delivery:
        """A template message (verified service accounts); ``data`` maps each field to a value or a dict."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": _fields(data)}
        if url:
            payload["url"] = url
        return await self.deliver("message/template/send", payload)

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, Any], *,
                             page: str | None = None) -> Delivery:
        """A subscribe message: one send per consent the person gave for ``template_id``."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": _fields(data)}
        if page:
            payload["page"] = page
        return await self.deliver("message/subscribe/bizsend", payload)

    async def deliver(self, path: str, payload: dict[str, Any]) -> Delivery:
        """Call ``path`` and say what became of it (never raises for WeChat's or the network's failures)."""
        try:
            answer = await self.call(path, payload)
        except ApiError as e:
            return e.delivery()
        except TokenUnavailable as e:
            return Delivery.failed(str(e), retryable=True)
        except HttpError as e:
            return Delivery.failed(f"WeChat's API answered {e}", retryable=e.status >= 500 or e.status == 429)
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            # No str(e): an aiohttp error may quote the URL, and the URL holds the access token.
            return Delivery.failed(f"WeChat's API could not be reached ({type(e).__name__})", retryable=True)
        msgid = answer.get("msgid")
        return Delivery.sent(str(msgid) if msgid is not None else None)

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``cgi-bin/<path>`` with the shared token; a refused token is renewed once."""
        token = await self.token.get()
        try:
            return await self._post(path, payload, token)
        except ApiError as e:
            if e.errcode not in TOKEN_REFUSED:
                raise
            log.warning("wechat: %s refused the access token (%s); renewing it and trying once more", path,
                        e.errcode)
        return await self._post(path, payload, await self.token.get(refused=token))

    async def _fetch_token(self, force: bool) -> tuple[str, int]:
        body = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret,
                "force_refresh": force}
        try:
            answer = await self._post("stable_token", body, None)
        except ApiError as e:
            raise ApiError(e.errcode, e.errmsg, token=True) from None
        value, lifetime = answer.get("access_token"), answer.get("expires_in", 7200)
        if not isinstance(value, str) or not value or not isinstance(lifetime, int):
            raise ApiError(-2, "stable_token answered without an access_token", token=True)
        return value, lifetime

    async def _post(self, path: str, payload: dict[str, Any], token: str | None) -> dict[str, Any]:
        if self._session is None:
            raise aiohttp.ClientConnectionError("the WeChat channel has not been started")
        params = {"access_token": token} if token else None
        # WeChat wants the words themselves, not \\u escapes.
        data = json.dumps(payload, ensure_ascii=False).encode()
        async with self._session.post(self.base + path, params=params, data=data,
                                      headers={"Content-Type": "application/json; charset=utf-8"}) as r:
            if r.status >= 400:
                raise HttpError(r.status)
            answer = await r.json(content_type=None)
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")  # noqa: TRY004 - a bad value, from afar
        errcode = answer.get("errcode") or 0
        if errcode:
            raise ApiError(int(errcode), str(answer.get("errmsg", "")))
        return answer


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """Template data as WeChat wants it: ``{"field": {"value": ...}}``."""
    return {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}
