"""A channel process: web server with /healthz, inbox, worker, scheduler and outbox, started and stopped
together (bot.app.serving), with a minimal channel that has one webhook route."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import build_app, serving
from bot.channels.base import Intake
from bot.core.messages import Inbound, Outbound
from bot.settings import Settings
from bot.storage.models import Person
from bot.web import WebServer, WebServerError, build_asgi
from tests.conftest import SEEDS


@dataclass
class HookSender:
    sent: list[Outbound] = field(default_factory=list)

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        self.sent.append(out)


@dataclass
class HookChannel:
    """Receives "text" posted to /hook/<id>; stores it before answering 200, like a real webhook."""

    name: str = "hook"
    sender: HookSender = field(default_factory=HookSender)
    prepare: None = None
    started: bool = False

    def routes(self, intake: Intake) -> list[BaseRoute]:
        async def hook(request: Request) -> Response:
            update = request.path_params["update"]
            text = (await request.body()).decode()
            stored = await intake.accept(Inbound(self.name, "u1", "u1", text, message_id=update), f"hook:{update}")
            return PlainTextResponse("stored" if stored else "duplicate")

        return [Route("/hook/{update}", hook, methods=["POST"])]

    async def start(self, intake: Intake) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False


def test_a_webhook_message_is_stored_answered_and_replied_once(tmp_path: Path, searcher) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path, http_port=0)
    channel = HookChannel()
    app = build_app(settings, searcher=searcher, senders={"hook": channel.sender})

    async def scenario() -> None:
        async with serving(app, [channel]) as running:
            assert channel.started and running.web is not None
            base = f"http://127.0.0.1:{running.web.port}"
            async with httpx.AsyncClient(base_url=base) as client:
                health = await client.get("/healthz")
                assert (health.status_code, health.json()) == (200, {"status": "ok"})
                first = await client.post("/hook/1", content="/help")
                again = await client.post("/hook/1", content="/help")
                assert (first.text, again.text) == ("stored", "duplicate")
                assert (await client.get("/nowhere")).status_code == 404
            for _ in range(100):  # the scheduler's outbox job delivers the reply
                if channel.sender.sent:
                    break
                await asyncio.sleep(0.05)
        assert not channel.started

    asyncio.run(scenario())
    assert len(channel.sender.sent) == 1
    assert "邀请码" in channel.sender.sent[0].text  # a stranger is told how to register
    app.engine.dispose()


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def start() -> None:
            server = WebServer(build_asgi([], lambda: True), "127.0.0.1", port)
            await server.start()

        with pytest.raises(WebServerError, match="HTTP_PORT"):
            asyncio.run(start())


def test_healthz_reports_an_unreachable_database() -> None:
    async def scenario() -> int:
        server = WebServer(build_asgi([], lambda: False), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{server.port}/healthz")).status_code
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == 503
