"""Wiring only: build the services, the core and the channels from settings, and run them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.core.router import Core
from bot.core.services import Services, system_clock
from bot.dispatch import Dispatcher, Sender
from bot.settings import Settings
from bot.storage.db import make_engine, session_factory, upgrade

if TYPE_CHECKING:
    from bot.core.handlers.ask import QuestionAnswerer
    from retrieval.search import Searcher


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
    """Start dutybot. No channel is configured yet, so this is the console chat."""
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
