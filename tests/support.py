"""Test helpers: a clock the test sets, a channel that records what it was asked to send, and a way
to talk to a real App (real core, real database, real outbox and dispatcher)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.app import App, Serving
from bot.core.messages import Attachment, Inbound, Outbound
from bot.dispatch import DeliveryError
from bot.storage.models import Person


class Clock:
    """Timezone-aware 'now' that only moves when the test moves it."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class RecordingChannel:
    """A channel sender for tests: keeps what was sent; can be switched down to refuse sends."""

    name: str = "test"
    sent: list[tuple[Outbound, Person | None]] = field(default_factory=list)
    down: bool = False

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        if self.down:
            raise DeliveryError("channel down")
        self.sent.append((out, recipient))

    def texts_to(self, chat: str) -> list[str]:
        return [out.text for out, _ in self.sent if out.to == chat]

    def clear(self) -> None:
        self.sent.clear()


def say(
    app: App,
    sender: str,
    text: str,
    *,
    channel: str = "test",
    chat: str | None = None,
    message_id: str = "",
    attachments: tuple[Attachment, ...] = (),
) -> list[Outbound]:
    """Send one message through the real core, then deliver the outbox. Returns the replies queued."""
    inbound = Inbound(channel=channel, sender=sender, chat=chat or sender, text=text,
                      message_id=message_id, attachments=attachments)
    replies = app.core.handle(inbound)
    deliver(app)
    return replies


def deliver(app: App) -> int:
    return asyncio.run(app.dispatcher.drain())


async def settle(serving: Serving, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Handle the inbox and deliver the outbox of a running channel process until `done()` (or fail
    after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        await serving.worker.drain()
        await serving.app.dispatcher.drain()
        if done():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)
