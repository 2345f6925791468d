"""The inbox: what a channel received, stored before the channel tells its server "got it".

A webhook answers 200 only after `accept` committed the message (Telegram and WeCom retry anything
else), so a crash after the 200 cannot lose it: the `InboxWorker` hands stored messages to the core
one by one, in the order received, and picks up whatever a crashed process left. The unique key per
message drops redeliveries before they cost anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import Attachment, Inbound
from bot.core.router import Core
from bot.storage.models import InboxMessage

log = logging.getLogger(__name__)

# A channel's last step before the core sees a message (e.g. download a WeCom image while its
# media id is valid, or turn "2" into the second button of the last question).
Prepare = Callable[[Inbound], Awaitable[Inbound]]


def to_payload(msg: Inbound) -> dict[str, Any]:
    return asdict(msg)


def from_payload(payload: dict[str, Any]) -> Inbound:
    data = dict(payload)
    data["attachments"] = tuple(Attachment(**a) for a in data.get("attachments", ()))
    return Inbound(**data)


def accept(sessions: sessionmaker[Session], msg: Inbound, key: str, now: datetime) -> bool:
    """Store one received message durably. False: this key was accepted before (a redelivery).

    Raises when the database is unreachable: the caller must then answer its server with an error
    so that the message is delivered again.
    """
    try:
        with sessions.begin() as session:
            if session.scalar(select(InboxMessage.id).where(InboxMessage.key == key)) is not None:
                return False
            session.add(InboxMessage(channel=msg.channel, key=key, payload=to_payload(msg), status="pending",
                                     next_attempt_at=now, received_at=now))
    except IntegrityError:
        return False  # a concurrent delivery of the same message stored it first
    return True


class InboxWorker:
    """Feeds stored messages to the core, oldest first, one at a time (so one chat's messages are
    handled in order). `wake()` after an accept; a slow poll also catches rows of crashed processes."""

    def __init__(
        self,
        core: Core,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        channels: Sequence[str],
        prepare: dict[str, Prepare] | None = None,
        on_handled: Callable[[], None] | None = None,
        lease: float = 120.0,
        poll_interval: float = 5.0,
        max_attempts: int = 5,
    ):
        self.core = core
        self.sessions = sessions
        self.clock = clock
        self.channels = tuple(channels)
        self.prepare = prepare or {}
        self.on_handled = on_handled
        self.lease = lease
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Handle new messages now. Call from the event loop's thread."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: keep the worker alive, try again later
                log.exception("inbox worker round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self, limit: int = 20) -> int:
        """Handle up to `limit` due messages; returns how many were handled."""
        handled = 0
        for row_id in self._claim(limit):
            await self._handle(row_id)
            handled += 1
        return handled

    async def drain(self, rounds: int = 50) -> int:
        total = 0
        for _ in range(rounds):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    def _claim(self, limit: int) -> list[int]:
        now = self.clock()
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(InboxMessage)
                .where(InboxMessage.status.in_(("pending", "handling")), InboxMessage.next_attempt_at <= now,
                       InboxMessage.channel.in_(self.channels))
                .order_by(InboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.status = "handling"
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=self.lease)
            return [row.id for row in rows]

    async def _handle(self, row_id: int) -> None:
        with self.sessions() as session:
            row = session.get(InboxMessage, row_id)
            if row is None:
                return
            msg, attempts = from_payload(row.payload), row.attempts
        if attempts > self.max_attempts:
            # Handling it crashed the process that many times: stop trying, keep the row for a look.
            log.error("inbox row %s given up after %s attempts", row_id, attempts - 1)
            self._mark(row_id, "failed")
            return
        try:
            prepare = self.prepare.get(msg.channel)
            if prepare is not None:
                msg = await prepare(msg)
        except Exception:  # e.g. an image that could not be fetched: the text still counts
            log.exception("preparing inbox row %s failed; handled as received", row_id)
        # The core never raises and dedupes on the message id itself, so a row handled twice
        # (crash between the core's commit and ours) is answered once.
        await asyncio.to_thread(self.core.handle, msg)
        self._mark(row_id, "done")
        if attempts > 1:
            log.info("inbox row %s handled after %s attempts", row_id, attempts)
        if self.on_handled is not None:
            self.on_handled()

    def _mark(self, row_id: int, status: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(InboxMessage, row_id)
            if row is not None:
                row.status, row.handled_at = status, self.clock()
