"""A TCP proxy on loopback that makes a homeserver slow: every chunk a client sends reaches
the server `delay_s` later, in order; answers come back at once.

Delaying the client-to-server direction delays each HTTP request by `delay_s` (also the
second and later requests on a kept-alive HTTP/1.1 connection, and a request that arrives
in several chunks is delayed once, not once per chunk, because chunks keep their spacing).
The proxy never parses HTTP, so it is correct for any pipelining or keep-alive a client
does. Used by tests/fault/test_slow_homeserver.py and bench/slow_homeserver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.support.bot_process import BotProcess
from tests.support.config import deep_merge

CHUNK = 65536


class LatencyProxy:
    def __init__(self, upstream_url: str, delay_s: float = 0.3) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname is not None and parts.port is not None, upstream_url
        self.upstream = (parts.hostname, parts.port)
        self.delay_s = delay_s
        self.connections = 0  # client connections accepted
        self.chunks = 0  # client-to-server chunks delivered late
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ends: set[asyncio.StreamWriter] = set()

    async def start(self) -> LatencyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        # Closing both ends of every connection lets its pumps finish by themselves
        # (cancelling a connection's handler makes asyncio log the cancellation).
        for end in list(self._ends):
            end.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()  # the homeserver is down: the client sees a dropped connection
            self._tasks.discard(task)
            return
        self._ends |= {writer, up_writer}
        answers = asyncio.create_task(self._pump(up_reader, writer))
        requests = asyncio.create_task(self._delayed(reader, up_writer))
        try:
            await asyncio.wait({answers, requests}, return_when=asyncio.FIRST_COMPLETED)
            if requests.done() and not requests.cancelled() and requests.exception() is None:
                # The client half-closed: its last request may still be answered.
                with contextlib.suppress(Exception):
                    await answers
        finally:
            # The server closed, a side failed, or the proxy closes: the connection ends.
            for pump in (answers, requests):
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
            for end in (writer, up_writer):
                end.close()
                self._ends.discard(end)
            self._tasks.discard(task)

    async def _delayed(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client to server: each chunk is written `delay_s` after it was read."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
                self.chunks += 1

        delivery = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((loop.time() + self.delay_s, data))
                if not data:
                    break
            await delivery  # the half-close arrives late as well
        finally:
            delivery.cancel()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Server to client, as it comes."""
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


def behind(proxy: LatencyProxy, make_bot: Callable[..., BotProcess]) -> Callable[..., BotProcess]:
    """`make_bot`, with the bot talking to the homeserver through the proxy."""

    def make(**kwargs: Any) -> BotProcess:
        slow = {"homeserver": {"url": proxy.url}}
        kwargs["config"] = deep_merge(kwargs.get("config") or {}, slow)
        return make_bot(**kwargs)

    return make
