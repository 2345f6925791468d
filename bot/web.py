"""The one HTTP server (Starlette on uvicorn) for webhooks and callbacks, plus /healthz.

It runs inside dutybot's own event loop next to the scheduler and the channels, and only when a
channel needs it (a Telegram webhook or the WeCom callback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)


class WebServerError(Exception):
    """The server could not start (e.g. the port is taken); the message is for the admin, in Chinese."""


def build_asgi(routes: Sequence[BaseRoute], healthy: Callable[[], bool]) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        ok = await asyncio.to_thread(healthy)
        return JSONResponse({"status": "ok" if ok else "database unreachable"}, status_code=200 if ok else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # dutybot handles SIGINT/SIGTERM itself and stops the server with everything else


class WebServer:
    def __init__(self, asgi: Starlette, host: str, port: int):
        config = uvicorn.Config(asgi, host=host, port=port, lifespan="off", access_log=False,
                                log_level="warning", server_header=False)
        self.host = host
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises WebServerError
                raise WebServerError(f"HTTP 服务没有启动（{self.host}:{self._server.config.port}）。")
            await asyncio.sleep(0.01)
        log.info("HTTP server listening on %s:%s", self.host, self.port)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit as exit_:  # uvicorn exits when it cannot bind
            raise WebServerError(
                f"无法在 {self.host}:{self._server.config.port} 上启动 HTTP 服务（端口被占用或地址不对？），"
                "请检查 HTTP_HOST / HTTP_PORT。") from exit_

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(WebServerError):
            await self._task
