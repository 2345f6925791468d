"""The dispatcher keeps each chat's messages in order, serves chats side by side, honours a server's
"retry after", and marks people who blocked the bot. Real database (both engines), real outbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.core.messages import Outbound
from bot.dispatch import Backoff, DeliveryError, Dispatcher
from bot.outbox import enqueue
from bot.pacing import ChannelLimits, Pacer, Window
from bot.storage.models import Account, OutboxMessage, Person
from tests.bot.test_escalation import add_person
from tests.support import Clock


@dataclass
class Scripted:
    """A sender whose next outcomes per text are scripted: an exception to raise, or None to send."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    script: dict[str, list[DeliveryError | None]] = field(default_factory=dict)
    limits: ChannelLimits | None = None

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        outcomes = self.script.get(out.text)
        if outcomes:
            err = outcomes.pop(0)
            if err is not None:
                raise err
        self.sent.append((out.to, out.text))


def queue(app: App, chat: str, *texts: str, person_id: int | None = None) -> None:
    with app.services.sessions.begin() as session:
        for text in texts:
            enqueue(session, Outbound("test", chat, text), now=app.services.clock(), person_id=person_id)


def dispatcher(app: App, sender: Scripted, clock: Clock) -> Dispatcher:
    backoff = Backoff(base=1, factor=2, cap=60, max_attempts=4, lease=5)
    d = Dispatcher(app.services.sessions, {"test": sender}, clock, backoff, active_channels=("test",))
    app.dispatcher = d
    return d


def statuses(app: App) -> dict[str, str]:
    with app.services.sessions() as session:
        return {row.text: row.status for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def test_a_failed_message_holds_back_the_rest_of_its_chat_only(app: App, clock: Clock) -> None:
    sender = Scripted(script={"a1": [DeliveryError("network")]})
    d = dispatcher(app, sender, clock)
    queue(app, "A", "a1", "a2", "a3")
    queue(app, "B", "b1", "b2")
    assert asyncio.run(d.drain()) == 2
    assert sender.sent == [("B", "b1"), ("B", "b2")]
    # a2/a3 are due but queued behind a1, which waits for its retry: still nothing for A.
    assert asyncio.run(d.drain()) == 0
    clock.advance(seconds=1)
    assert asyncio.run(d.drain()) == 3
    assert [text for chat, text in sender.sent if chat == "A"] == ["a1", "a2", "a3"]
    assert set(statuses(app).values()) == {"sent"}


def test_retry_after_pauses_the_channel_and_does_not_use_up_attempts(app: App, clock: Clock) -> None:
    flood = [DeliveryError("429", retry_after=3) for _ in range(6)]
    sender = Scripted(script={"x": flood})
    d = dispatcher(app, sender, clock)
    queue(app, "A", "x")
    for _ in range(6):  # more floods than max_attempts: still not failed
        asyncio.run(d.drain())
        with app.services.sessions() as session:
            row = session.scalars(select(OutboxMessage)).one()
            assert (row.status, row.attempts) == ("pending", 0)
            assert row.next_attempt_at == clock.now + timedelta(seconds=3)
        clock.advance(seconds=3)
    asyncio.run(d.drain())
    assert sender.sent == [("A", "x")]


def test_a_person_who_blocked_the_bot_is_marked_and_the_admins_are_told(app: App, clock: Clock) -> None:
    guard = add_person(app, "张保安", "guard")
    add_person(app, "孙管理", "admin")
    sender = Scripted(script={"提醒": [DeliveryError("Forbidden: bot was blocked by the user", blocked=True)]})
    d = dispatcher(app, sender, clock)
    queue(app, "chat-张保安", "提醒", person_id=guard)
    asyncio.run(d.drain())
    assert statuses(app)["提醒"] == "failed"
    with app.services.sessions() as session:
        account = session.scalars(select(Account).where(Account.person_id == guard)).one()
        assert account.blocked
    alerts = [text for chat, text in sender.sent if chat == "chat-孙管理"]
    assert len(alerts) == 1 and "张保安" in alerts[0]


def test_slow_chats_are_served_side_by_side(app: App, clock: Clock) -> None:
    """Ten chats whose sends each take 0.2 s finish in about one send time, not ten."""

    class Slow(Scripted):
        async def send(self, out: Outbound, recipient: Person | None) -> None:
            self.in_flight = getattr(self, "in_flight", 0) + 1
            self.peak = max(getattr(self, "peak", 0), self.in_flight)
            await asyncio.sleep(0.05)
            self.in_flight -= 1
            await super().send(out, recipient)

    sender = Slow()
    d = dispatcher(app, sender, clock)
    for chat in range(10):
        queue(app, f"c{chat}", f"m{chat}")
    assert asyncio.run(d.drain()) == 10
    assert sender.peak > 1  # an ordering fact, not a timing one


def test_pacing_puts_back_what_would_wait_too_long(app: App, clock: Clock) -> None:
    sender = Scripted()
    d = dispatcher(app, sender, clock)
    d.pacer = Pacer({"test": ChannelLimits(chat=(Window(1, 60.0),))})
    queue(app, "A", "a1", "a2")
    assert asyncio.run(d.run_once()) == 1
    with app.services.sessions() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.text == "a2")).one()
        # Back in the queue untouched: no attempt counted, due when the window frees up.
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.next_attempt_at > clock.now


@pytest.mark.parametrize("concurrency", [1, 8])
def test_one_chat_keeps_its_order_whatever_the_concurrency(app: App, clock: Clock, concurrency: int) -> None:
    sender = Scripted()
    d = dispatcher(app, sender, clock)
    d.concurrency = concurrency
    queue(app, "A", *(f"a{i}" for i in range(20)))
    asyncio.run(d.drain())
    assert [text for _, text in sender.sent] == [f"a{i}" for i in range(20)]
