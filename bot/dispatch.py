"""Delivers the outbox: claim due rows, hand each to its channel's sender, record the outcome.

A row is claimed by moving its next attempt into the future (a lease) before sending, so a crashed
process's rows come due again and a second dispatcher skips rows another one holds. Delivery is
at-least-once: a crash between the send and the "sent" mark repeats that one message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import Outbound
from bot.outbox import UNREACHABLE, address, enqueue, outbound_of
from bot.storage.models import OutboxMessage, Person

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send that did not go through. `permanent` ones are not retried (e.g. the user blocked us)."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    async def send(self, out: Outbound, recipient: Person | None) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1: base · factor^(n-1), capped. Injectable so tests stay fast."""

    base: float = 5.0
    factor: float = 3.0
    cap: float = 3600.0
    max_attempts: int = 8
    lease: float = 120.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap, self.base * self.factor ** max(0, attempts - 1)))


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: dict[str, Sender],
        clock: Callable[[], datetime],
        backoff: Backoff | None = None,
        active_channels: Sequence[str] = ("console",),
    ):
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.active_channels = tuple(active_channels)

    def claim(self, limit: int = 50) -> list[int]:
        """Take up to `limit` due rows for this dispatcher; others skip them until the lease ends."""
        now = self.clock()
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    or_(OutboxMessage.status == "pending", OutboxMessage.status == "sending"),
                    OutboxMessage.next_attempt_at <= now,
                    # Only our own channels: another process may run others. "none" marks a
                    # notification nobody could be reached for; any dispatcher fails it (and alerts).
                    OutboxMessage.channel.in_([*self.senders, UNREACHABLE]),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.status = "sending"
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=self.backoff.lease)
            return [row.id for row in rows]

    async def run_once(self, limit: int = 50) -> int:
        """Deliver what is due now; returns how many rows were sent."""
        sent = 0
        for row_id in self.claim(limit):
            sent += await self._deliver(row_id)
        return sent

    async def drain(self, rounds: int = 20) -> int:
        """Deliver until nothing is due (bounded), e.g. after the console handled a line."""
        total = 0
        for _ in range(rounds):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    async def _deliver(self, row_id: int) -> int:
        with self.sessions() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return 0
            out = outbound_of(row)
            recipient = session.get(Person, row.person_id) if row.person_id else None
            session.expunge_all()
        sender = self.senders.get(out.channel)
        try:
            if sender is None:
                raise DeliveryError(f"channel {out.channel!r} is not running", permanent=True)
            await sender.send(out, recipient)
        except DeliveryError as err:
            self._failed(row_id, err)
            return 0
        except Exception as err:  # a channel bug or network fault: retried like any temporary error
            log.exception("sending outbox row %s failed", row_id)
            self._failed(row_id, DeliveryError(type(err).__name__))
            return 0
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            if row is not None:
                row.status, row.sent_at, row.last_error = "sent", self.clock(), None
        return 1

    def _failed(self, row_id: int, err: DeliveryError) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.last_error = str(err)[:500]
            if err.permanent or row.attempts >= self.backoff.max_attempts:
                row.status = "failed"
                log.error("outbox row %s failed for good after %s attempts: %s", row.id, row.attempts, err)
                self._alert_admins(session, row, now)
                return
            row.status = "pending"
            delay = self.backoff.delay(row.attempts)
            if err.retry_after is not None:
                delay = max(delay, timedelta(seconds=err.retry_after))
            row.next_attempt_at = now + delay
            log.warning("outbox row %s attempt %s failed (%s); retry at %s", row.id, row.attempts, err,
                        row.next_attempt_at.isoformat())

    def _alert_admins(self, session: Session, row: OutboxMessage, now: datetime) -> None:
        """A message that could not be delivered is never dropped silently: the admins hear of it."""
        from bot.core import texts

        if row.dedupe_key and row.dedupe_key.startswith("alert:"):
            return  # never alert about a failed alert (no loops)
        recipient = session.get(Person, row.person_id) if row.person_id else None
        who = recipient.name if recipient else row.chat
        admins = session.scalars(
            select(Person).where(Person.role == "admin", Person.active.is_(True))
        ).all()
        for admin in admins:
            if admin.id == row.person_id:
                continue
            where = address(admin, self.active_channels)
            if where is None:
                continue
            text = texts.DELIVERY_FAILED.format(who=who, text=row.text[:200], error=row.last_error or "")
            enqueue(session, Outbound(where[0], where[1], text), now=now, person_id=admin.id,
                    dedupe_key=f"alert:{row.id}:{admin.id}")
