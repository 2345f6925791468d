"""The inbox: a received message is stored before the channel's server hears "got it", handled once
in order by the worker, and survives a crash between the two. Real database, both engines."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import select

from bot.app import App, build_app
from bot.core.messages import Attachment, Inbound
from bot.inbox import InboxWorker, accept, from_payload, to_payload
from bot.storage.models import InboxMessage, SeenInbound
from tests.support import Clock, RecordingChannel


def msg(text: str, message_id: str, chat: str = "c1") -> Inbound:
    return Inbound(channel="test", sender="stranger", chat=chat, text=text, message_id=message_id)


def worker(app: App, **kwargs: object) -> InboxWorker:
    return InboxWorker(app.core, app.services.sessions, app.services.clock, channels=["test"], **kwargs)  # type: ignore[arg-type]


def test_payload_round_trip_keeps_every_field() -> None:
    original = Inbound(channel="wecom", sender="zhangsan", chat="zhangsan", text="东门", message_id="9",
                       attachments=(Attachment("photo", "media/ab.jpg"), Attachment("location", "31.2,121.5")),
                       is_group=True, sender_name="张三")
    assert from_payload(to_payload(original)) == original


def test_a_redelivery_is_not_stored_twice(app: App, clock: Clock) -> None:
    assert accept(app.services.sessions, msg("你好", "1"), "test:1", clock())
    assert not accept(app.services.sessions, msg("你好", "1"), "test:1", clock())
    with app.services.sessions() as session:
        assert len(session.scalars(select(InboxMessage)).all()) == 1


def test_the_worker_handles_in_order_and_marks_done(app: App, clock: Clock, channel: RecordingChannel) -> None:
    for i in range(5):
        accept(app.services.sessions, msg(f"第{i}条", str(i)), f"test:{i}", clock())
    seen: list[str] = []

    async def note(m: Inbound) -> Inbound:
        seen.append(m.text)
        return m

    w = worker(app, prepare={"test": note})
    assert asyncio.run(w.drain()) == 5
    assert seen == [f"第{i}条" for i in range(5)]
    with app.services.sessions() as session:
        assert {row.status for row in session.scalars(select(InboxMessage))} == {"done"}
        assert len(session.scalars(select(SeenInbound)).all()) == 5
    asyncio.run(app.dispatcher.drain())
    assert len(channel.texts_to("c1")) == 5  # strangers are told how to register, once per message


def test_a_crash_after_accepting_loses_nothing(app: App, clock: Clock, channel: RecordingChannel) -> None:
    """Stored, then the process died before handling: a new process handles it once the lease ends."""
    accept(app.services.sessions, msg("还在吗", "7"), "test:7", clock())
    first = worker(app, lease=30)
    first._claim(10)  # claimed by a process that then crashed
    later = build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                      migrate=False)
    second = worker(later, lease=30)
    assert asyncio.run(second.drain()) == 0  # still leased
    clock.advance(seconds=31)
    assert asyncio.run(second.drain()) == 1
    asyncio.run(later.dispatcher.drain())
    assert len(channel.texts_to("c1")) == 1
    later.engine.dispose()


def test_a_failing_prepare_still_hands_the_message_on(app: App, clock: Clock, channel: RecordingChannel) -> None:
    async def broken(m: Inbound) -> Inbound:
        raise RuntimeError("media server down")

    accept(app.services.sessions, msg("看图", "8"), "test:8", clock())
    assert asyncio.run(worker(app, prepare={"test": broken}).drain()) == 1
    asyncio.run(app.dispatcher.drain())
    assert len(channel.texts_to("c1")) == 1


def test_a_message_that_keeps_crashing_is_given_up(app: App, clock: Clock) -> None:
    accept(app.services.sessions, msg("毒消息", "9"), "test:9", clock())
    w = worker(app, lease=1, max_attempts=2)
    for _ in range(2):  # two claims that never finished (the process died each time)
        w._claim(10)
        clock.advance(seconds=2)
    asyncio.run(w.drain())
    with app.services.sessions() as session:
        assert session.scalars(select(InboxMessage.status)).one() == "failed"


def test_accept_from_two_threads_at_once_stores_one(app: App, clock: Clock) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(accept(app.services.sessions, msg("并发", "10"), "test:10", clock()))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_housekeeping_forgets_old_dedupe_keys_and_handled_rows_only(app: App, clock: Clock) -> None:
    from datetime import timedelta

    from jobs.housekeeping import purge

    accept(app.services.sessions, msg("旧的", "old"), "test:old", clock())
    asyncio.run(worker(app).drain())
    clock.advance(days=8)
    accept(app.services.sessions, msg("新的", "new"), "test:new", clock())  # pending: kept
    with app.services.sessions.begin() as session:
        assert purge(session, clock(), keep=timedelta(days=7)) == 2  # the old key and the old row
    with app.services.sessions() as session:
        assert session.scalars(select(InboxMessage.key)).all() == ["test:new"]
        assert session.scalars(select(SeenInbound.key)).all() == []
