"""An HTTP reverse proxy on loopback that counts every request of the bot, as nginx in
front of a homeserver would pass them on: while the homeserver is down it answers
502 Bad Gateway (no `Retry-After`), which the bot must treat like a refused connection.

Used by tests/fault/test_outage.py and bench/outage.py to measure the bot's request rate
while the homeserver is away. The proxy can also hold the bot's room messages at the gate
and go down in an instant (`hold_messages`, `pass_one_message`, `cut`): stopping Synapse
takes a second or more, during which a bot sends whatever it has, so "answers waiting in
the outbox when the homeserver goes" has to be set up here, not by racing the shutdown.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.support.homeserver import until

# Hop-by-hop headers (RFC 9110 7.6.1) and those aiohttp computes itself.
SKIP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
)

# A room message (not a to-device message, a receipt or typing).
ROOM_MESSAGE = re.compile(r"/rooms/[^/]+/send/")


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() when the request arrived
    path: str
    status: int


class CountingProxy:
    def __init__(self, upstream_url: str) -> None:
        self.upstream = upstream_url.rstrip("/")
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.down = False  # answering 502 to everything, as if the homeserver were gone
        self._holding = False
        self._gates: list[asyncio.Future[None]] = []

    async def start(self) -> CountingProxy:
        # Long-polls last as long as the bot asks; nothing here may cut them shorter.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5), auto_decompress=False
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def between(self, start: float, end: float) -> list[Seen]:
        return [seen for seen in self.requests if start <= seen.at < end]

    def hold_messages(self) -> None:
        """From now, room messages wait at the gate until `pass_one_message` or `cut`."""
        self._holding = True

    @property
    def held(self) -> int:
        return sum(not gate.done() for gate in self._gates)

    async def pass_one_message(self) -> None:
        """Let the longest-held room message through (waiting for one to arrive) and
        return once the homeserver has answered it."""
        await until(lambda: self.held > 0, 30, "a room message at the gate", interval=0.01)
        gate = next(gate for gate in self._gates if not gate.done())
        self._gates.remove(gate)
        passed = len(self.requests)
        gate.set_result(None)
        await until(
            lambda: any(ROOM_MESSAGE.search(s.path) for s in self.requests[passed:]),
            30,
            "the homeserver's answer to it",
            interval=0.01,
        )

    def cut(self) -> None:
        """Go down now: every request, held ones included, is answered 502 until
        `restore`."""
        self.down = True
        self._holding = False
        for gate in self._gates:
            if not gate.done():
                gate.set_result(None)
        self._gates.clear()

    def restore(self) -> None:
        self.down = False

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        assert self._session is not None
        if self._holding and ROOM_MESSAGE.search(request.path):
            gate = asyncio.get_running_loop().create_future()
            self._gates.append(gate)
            await gate
        if self.down:
            self.requests.append(Seen(arrived, request.path, 502))
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP_HEADERS}
        try:
            async with self._session.request(
                request.method,
                self.upstream + request.rel_url.raw_path_qs,
                headers=headers,
                data=await request.read(),
                allow_redirects=False,
            ) as upstream:
                body = await upstream.read()
                status = upstream.status
                answer_headers = {
                    k: v for k, v in upstream.headers.items() if k.lower() not in SKIP_HEADERS
                }
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.requests.append(Seen(arrived, request.path, 502))
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        self.requests.append(Seen(arrived, request.path, status))
        return web.Response(status=status, body=body, headers=answer_headers)
