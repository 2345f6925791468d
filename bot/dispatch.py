"""Delivers the outbox: claim due rows, hand each to its channel's sender, record the outcome.

A row is claimed by moving its next attempt into the future (a lease) before sending, so a crashed
process's rows come due again and a second dispatcher skips rows another one holds. Delivery is
at-least-once: a crash between the send and the "sent" mark repeats that one message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import Outbound
from bot.outbox import UNREACHABLE, address, enqueue, outbound_of
from bot.pacing import ChannelLimits, Pacer
from bot.storage.models import Account, OutboxMessage, Person

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send that did not go through. `permanent` ones are not retried; `blocked` means the person
    blocked the bot (their account is marked until they write again); `retry_after` is the server
    asking the whole channel to slow down (flood control: not held against the message)."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 blocked: bool = False):
        super().__init__(message)
        self.permanent = permanent or blocked
        self.retry_after = retry_after
        self.blocked = blocked


class Sender(Protocol):
    async def send(self, out: Outbound, recipient: Person | None) -> None: ...


def limits_of(sender: Sender) -> ChannelLimits | None:
    """A sender may declare its channel's rate limits as a `limits` attribute."""
    return getattr(sender, "limits", None)


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
        pacer: Pacer | None = None,
        concurrency: int = 8,
        max_pace_wait: float = 5.0,
    ):
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.active_channels = tuple(active_channels)
        limits = {name: lim for name, sender in senders.items() if (lim := limits_of(sender)) is not None}
        self.pacer = pacer or Pacer(limits)
        # Chats are served side by side (a slow network does not hold everyone up); one chat's
        # messages go one after another, in order.
        self.concurrency = concurrency
        # A message that may not go out for longer than this is put back, not waited for.
        self.max_pace_wait = max_pace_wait

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
            rows = self._in_chat_order(session, rows, now)
            for row in rows:
                row.status = "sending"
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=self.backoff.lease)
            return [row.id for row in rows]

    @staticmethod
    def _in_chat_order(session: Session, rows: Sequence[OutboxMessage], now: datetime) -> list[OutboxMessage]:
        """Leave out rows queued behind an earlier row of the same chat that is not due yet (waiting
        for a retry, or being sent by another process): a chat's messages arrive in order."""
        if not rows:
            return []
        earlier = session.execute(
            select(OutboxMessage.channel, OutboxMessage.chat, OutboxMessage.id)
            .where(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.next_attempt_at > now,
                OutboxMessage.chat.in_({row.chat for row in rows}),
                OutboxMessage.id < max(row.id for row in rows),
            )
        ).all()
        first_waiting: dict[tuple[str, str], int] = {}
        for channel, chat, row_id in earlier:
            key = (channel, chat)
            first_waiting[key] = min(row_id, first_waiting.get(key, row_id))
        return [row for row in rows if row.id < first_waiting.get((row.channel, row.chat), row.id + 1)]

    async def run_once(self, limit: int = 50) -> int:
        """Deliver what is due now; returns how many rows were sent."""
        return (await self._round(limit))[1]

    async def drain(self, rounds: int = 20) -> int:
        """Deliver until nothing is due (bounded), e.g. after the console handled a line. A round
        that only failed may have queued alerts, so it goes on while rounds find work."""
        total = 0
        for _ in range(rounds):
            claimed, sent = await self._round(50)
            total += sent
            if claimed == 0:
                break
        return total

    async def _round(self, limit: int) -> tuple[int, int]:
        chats: dict[tuple[str, str], list[int]] = {}
        claimed = self.claim(limit)
        with self.sessions() as session:
            for row_id in claimed:
                row = session.get(OutboxMessage, row_id)
                if row is not None:
                    chats.setdefault((row.channel, row.chat), []).append(row_id)
        gate = asyncio.Semaphore(self.concurrency)

        async def one_chat(channel: str, chat: str, row_ids: list[int]) -> int:
            async with gate:
                return await self._deliver_chat(channel, chat, sorted(row_ids))

        results = await asyncio.gather(*(one_chat(ch, chat, ids) for (ch, chat), ids in chats.items()))
        return len(claimed), sum(results)

    async def _deliver_chat(self, channel: str, chat: str, row_ids: list[int]) -> int:
        """One chat's rows in order; after a failure or a long pacing wait the rest is put back."""
        sent = 0
        for i, row_id in enumerate(row_ids):
            wait = self.pacer.reserve(channel, chat, self.max_pace_wait)
            if wait > self.max_pace_wait:
                self._put_back(row_ids[i:], self.clock() + timedelta(seconds=wait))
                break
            if wait > 0:
                await asyncio.sleep(wait)
            ok = await self._deliver(row_id)
            sent += ok
            if not ok:
                self._put_back(row_ids[i + 1:], None)
                break
        return sent

    def _put_back(self, row_ids: list[int], at: datetime | None) -> None:
        """Return claimed rows unsent, attempt not counted: due at `at`, or right after the failed row
        before them (the claim keeps them behind it)."""
        if not row_ids:
            return
        now = self.clock()
        with self.sessions.begin() as session:
            for row_id in row_ids:
                row = session.get(OutboxMessage, row_id)
                if row is not None and row.status == "sending":
                    row.status = "pending"
                    row.attempts = max(0, row.attempts - 1)
                    row.next_attempt_at = at or now

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
            if err.blocked:
                self._mark_blocked(session, row)
            if err.permanent or row.attempts >= self.backoff.max_attempts:
                row.status = "failed"
                log.error("outbox row %s failed for good after %s attempts: %s", row.id, row.attempts, err)
                self._alert_admins(session, row, now)
                return
            row.status = "pending"
            delay = self.backoff.delay(row.attempts)
            if err.retry_after is not None:
                # Flood control: the channel waits, and the message keeps its attempts.
                self.pacer.pause(row.channel, err.retry_after)
                row.attempts = max(0, row.attempts - 1)
                delay = timedelta(seconds=err.retry_after)
            row.next_attempt_at = now + delay
            log.warning("outbox row %s attempt %s failed (%s); retry at %s", row.id, row.attempts, err,
                        row.next_attempt_at.isoformat())

    @staticmethod
    def _mark_blocked(session: Session, row: OutboxMessage) -> None:
        """Not reachable there until they write again (identity.resolve clears the mark)."""
        account = session.scalar(select(Account).where(Account.channel == row.channel, Account.chat_id == row.chat))
        if account is not None:
            account.blocked = True
            log.warning("%s account %s blocked the bot; marked", row.channel, account.id)

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
