"""The running App, for job functions the scheduler calls by textual reference ("jobs.x:function").

Stored jobs hold only a reference and simple arguments (never the App), so a job function finds the
App here. `jobs.scheduler.build_scheduler` installs it; nothing else should.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.context import Ctx
from bot.core.messages import Inbound

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.app import App

# The sender of what the system does on its own (escalations, reminders); never a real account.
SYSTEM = "system"


@dataclass
class _Runtime:
    app: App
    scheduler: AsyncIOScheduler | None
    # Keeps deliveries of one process in order (the dispatcher's claims keep processes apart).
    outbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_current: _Runtime | None = None


class NotRunning(RuntimeError):
    """A job ran with no App installed (the scheduler was not built through jobs.scheduler)."""


def install(app: App, scheduler: AsyncIOScheduler | None = None) -> None:
    global _current
    _current = _Runtime(app, scheduler)


def uninstall() -> None:
    global _current
    _current = None


def _get() -> _Runtime:
    if _current is None:
        raise NotRunning("no App installed: build the scheduler with jobs.scheduler.build_scheduler")
    return _current


def app() -> App:
    return _get().app


def scheduler() -> AsyncIOScheduler | None:
    return _current.scheduler if _current is not None else None


def outbox_lock() -> asyncio.Lock:
    return _get().outbox_lock


@contextmanager
def system_ctx(app: App, now: datetime) -> Iterator[Ctx]:
    """One transaction of work the system does on its own (no inbound message): whatever the block
    stores and every notification it makes are committed together, like a handled message."""
    services = app.services
    with services.sessions.begin() as session:
        msg = Inbound(channel=SYSTEM, sender=SYSTEM, chat="", text="")
        ctx = Ctx(msg=msg, session=session, person=None, now=now, services=services)
        yield ctx
        # The router's own enqueue, so system notifications are addressed exactly like a handler's.
        app.core.queue_outgoing(session, ctx)
