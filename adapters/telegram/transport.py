"""python-telegram-bot's network layer on aiohttp, the HTTP stack the service already runs on.

PTB lets an application bring its own transport (``telegram.request.BaseRequest``); its
default, httpx, was a large share of the CPU an update costs (bench/README.md). This one
sends the same JSON over one aiohttp session.
"""
from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """Posts Bot API calls with aiohttp; files go as multipart, everything else as JSON."""

    def __init__(self, *, connections: int = 64, timeout: float = 15.0) -> None:
        self._connections = connections
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._connections))

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        await self.initialize()
        total = read_timeout if isinstance(read_timeout, (int, float)) else self._timeout
        timeout = aiohttp.ClientTimeout(total=total + 5)
        kwargs: dict = {}
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.multipart_data.items():
                    form.add_field(name, value[1] if isinstance(value, tuple) else value,
                                   filename=value[0] if isinstance(value, tuple) else None)
                kwargs["data"] = form
            else:
                kwargs["data"], kwargs["headers"] = request_data.json_payload, JSON
        try:
            async with self._session.request(method, url, timeout=timeout, **kwargs) as response:
                return response.status, await response.read()
        except TimeoutError as e:
            raise TimedOut(f"Telegram did not answer in {total:.0f} s") from e
        except aiohttp.ClientError as e:
            raise NetworkError(f"aiohttp: {e}") from e
