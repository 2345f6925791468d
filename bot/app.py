"""Wiring only: build the services, the core and the channels from settings, and run them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from bot.core.router import Core
from bot.core.services import Services, system_clock
from bot.dispatch import Dispatcher, Sender
from bot.settings import Settings
from bot.storage.db import make_engine, session_factory, upgrade

if TYPE_CHECKING:
    from bot.channels.base import Channel, Intake
    from bot.core.handlers.ask import QuestionAnswerer
    from bot.inbox import InboxWorker
    from bot.web import WebServer
    from retrieval.search import Searcher

log = logging.getLogger(__name__)


def build_searcher(settings: Settings) -> Searcher:
    from retrieval.search import Searcher

    return Searcher.from_seeds(settings.seeds_dir, settings.cache_dir)


@dataclass
class App:
    settings: Settings
    engine: Engine
    services: Services
    core: Core
    dispatcher: Dispatcher


def build_app(
    settings: Settings,
    *,
    searcher: QuestionAnswerer | None = None,
    senders: dict[str, Sender] | None = None,
    migrate: bool = True,
    clock: Callable[[], datetime] = system_clock,
) -> App:
    engine = make_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    sessions = session_factory(engine)
    senders = senders or {}
    active = tuple(senders) or ("console",)
    services = Services(settings=settings, searcher=searcher or build_searcher(settings), sessions=sessions,
                        clock=clock, active_channels=active)
    dispatcher = Dispatcher(sessions, senders, services.clock, active_channels=active)
    return App(settings, engine, services, Core(services), dispatcher)


def run(settings: Settings, as_: str | None = None) -> None:
    """Start dutybot: the configured channels (Telegram, WeCom, both in one process), or the console
    chat when none is configured or `--as` asks for it."""
    if as_ is None and (settings.telegram_enabled or settings.wecom_enabled):
        asyncio.run(serve_until_signal(settings, build_channels(settings)))
        return
    run_console_chat(settings, as_)


def build_channels(settings: Settings) -> list[Channel]:
    """The channels the settings turn on. Raises ChannelConfigError for incomplete settings."""
    channels: list[Channel] = []
    if settings.telegram_enabled:
        from bot.channels.telegram import build_channel as telegram

        channels.append(telegram(settings))
    if settings.wecom_enabled:
        from bot.channels.wecom import build_channel as wecom

        channels.append(wecom(settings))
    return channels


@dataclass
class Serving:
    """A running dutybot: what tests and the benchmarks need to reach."""

    app: App
    intake: Intake
    worker: InboxWorker
    web: WebServer | None


@contextlib.asynccontextmanager
async def serving(app: App, channels: Sequence[Channel], *, scheduler: bool = True) -> AsyncIterator[Serving]:
    """Everything of a channel process, started in order and stopped in reverse: the scheduler, the
    inbox worker, the web server (if a channel has routes), then the channels."""
    from bot.channels.base import Intake
    from bot.inbox import InboxWorker
    from bot.web import WebServer, build_asgi

    settings, services = app.settings, app.services
    prepare = {c.name: c.prepare for c in channels if c.prepare is not None}
    worker = InboxWorker(app.core, services.sessions, services.clock, channels=[c.name for c in channels],
                         prepare=prepare)
    intake = Intake(services.sessions, services.clock, worker)
    routes = [route for channel in channels for route in channel.routes(intake)]
    web = WebServer(build_asgi(routes, lambda: _database_ok(app)), settings.http_host, settings.http_port) \
        if routes else None
    started: list[Channel] = []
    async with contextlib.AsyncExitStack() as stack:
        if scheduler:
            await stack.enter_async_context(scheduled(app))
        worker_task = asyncio.create_task(worker.run_forever(), name="inbox-worker")
        try:
            if web is not None:
                await web.start()
            for channel in channels:
                await channel.start(intake)
                started.append(channel)
            yield Serving(app, intake, worker, web)
        finally:
            for channel in reversed(started):
                try:
                    await channel.stop()
                except Exception:
                    log.exception("stopping the %s channel failed", channel.name)
            if web is not None:
                await web.stop()
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task


def _database_ok(app: App) -> bool:
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def serve_until_signal(settings: Settings, channels: Sequence[Channel]) -> None:
    app = build_app(settings, senders={channel.name: channel.sender for channel in channels})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(app, channels):
        names = "、".join(channel.name for channel in channels)
        print(f"dutybot 已启动：{names}（Ctrl+C 停止）", file=sys.stderr, flush=True)
        await stop.wait()
    print("dutybot 已停止。", file=sys.stderr, flush=True)


def run_console_chat(settings: Settings, as_: str | None = None) -> None:
    from bot.channels.console import ConsoleSender, run_console
    from bot.core.identity import console_identity

    app = build_app(settings, senders={"console": ConsoleSender(sys.stdout, settings.data_dir / "exports")})
    with app.services.sessions.begin() as session:
        account = console_identity(session, as_)
        sender = account.external_id

    async def serve() -> None:
        async with scheduled(app):
            await run_console(app.core, app.dispatcher, sys.stdin, sys.stdout, sender=sender,
                              interactive=sys.stdin.isatty())

    asyncio.run(serve())


@contextlib.asynccontextmanager
async def scheduled(app: App) -> AsyncIterator[None]:
    """The scheduler (escalation, outbox, reminders) running around the channels: in every process,
    processing jobs only in the one holding the database lease (jobs.scheduler.running)."""
    from jobs.scheduler import running

    async with running(app):
        yield
