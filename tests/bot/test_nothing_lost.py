"""Nothing the bot acknowledged is lost: a record and its "received" reply are committed together,
survive a crash before sending, are handled once however often the channel redelivers, and reach
people once the channel is back (or the admins hear that they did not). Real database, both engines."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.core import texts
from bot.core.messages import Inbound
from bot.dispatch import Backoff, Dispatcher
from bot.storage.models import Counter, OutboxMessage, Record, SeenInbound
from tests.bot.test_escalation import add_person
from tests.support import Clock, RecordingChannel, deliver, say

GUARD = "u-张保安"


def number_in(text: str) -> str:
    m = re.search(r"SJ-\d{8}-\d{3}", text)
    assert m is not None, text
    return m.group(0)


@pytest.fixture()
def desk(app: App) -> App:
    """The app with a guard, two levels of managers and an admin, all on the test channel."""
    add_person(app, "张保安", "guard")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "王科长", "manager", 2)
    add_person(app, "孙管理", "admin")
    return app


def inbound(text: str, message_id: str = "", sender: str = GUARD) -> Inbound:
    return Inbound(channel="test", sender=sender, chat=f"chat-{sender.removeprefix('u-')}", text=text,
                   message_id=message_id)


def tell(app: App, text: str, message_id: str) -> list:
    """The guard says `text` in their private chat, and the outbox is delivered (tests.support.say)."""
    return say(app, GUARD, text, chat="chat-张保安", message_id=message_id)


def count(app: App, model: type, *where: object) -> int:
    with app.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def sent_to(channel: RecordingChannel, name: str) -> list[str]:
    return channel.texts_to(f"chat-{name}")


def restarted(app: App, channel: RecordingChannel, clock: Clock) -> App:
    """A new process on the same database (nothing carried over in memory)."""
    return build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                     migrate=False)


def test_record_and_its_reply_are_committed_before_anything_is_sent(
    desk: App, channel: RecordingChannel
) -> None:
    replies = desk.core.handle(inbound("上报 东门有人翻墙", "m1"))
    assert len(replies) == 1
    number = number_in(replies[0].text)
    # Not delivered yet, but all of it is in the database already.
    assert channel.sent == []
    assert count(desk, Record, Record.number == number) == 1
    pending = count(desk, OutboxMessage, OutboxMessage.status == "pending")
    reply = (OutboxMessage.chat == "chat-张保安", OutboxMessage.text == replies[0].text)
    assert count(desk, OutboxMessage, *reply) == 1
    assert count(desk, OutboxMessage, OutboxMessage.chat == "chat-李班长") == 1
    assert pending == 2


def test_a_failing_message_stores_nothing_and_a_redelivery_is_handled(
    desk: App, channel: RecordingChannel, clock: Clock
) -> None:
    # A number already taken (e.g. imported by hand without bumping the counter): the insert breaks
    # the unique constraint, after the counter, the dedupe key and the reply were written.
    with desk.services.sessions.begin() as session:
        author = session.scalar(select(Record.author_id)) or 1
        session.add(Record(number="SJ-20261127-001", kind="incident", status="closed", content="旧记录",
                           author_id=author, created_at=clock.now, updated_at=clock.now))
    replies = tell(desk, "上报 东门有人翻墙", "m1")
    assert [r.text for r in replies] == [texts.INTERNAL_ERROR]
    assert count(desk, Record) == 1  # only the old one
    assert count(desk, Counter) == 0
    assert count(desk, SeenInbound) == 0
    assert count(desk, OutboxMessage) == 1  # the apology only: no "已上报", no notification
    assert sent_to(channel, "张保安") == [texts.INTERNAL_ERROR] and sent_to(channel, "李班长") == []
    # The channel retries the same message after the fault is fixed: it is handled, not dropped as seen.
    with desk.services.sessions.begin() as session:
        session.add(Counter(key="SJ-20261127", value=1))
    replies = tell(desk, "上报 东门有人翻墙", "m1")
    assert number_in(replies[0].text) == "SJ-20261127-002"
    assert len(sent_to(channel, "李班长")) == 1


def test_a_crash_between_commit_and_send_loses_nothing(
    desk: App, channel: RecordingChannel, clock: Clock
) -> None:
    replies = desk.core.handle(inbound("上报 紧急 仓库冒烟", "m1"))
    number = number_in(replies[0].text)
    desk.engine.dispose()  # the process dies here: nothing was sent
    after = RecordingChannel()
    other = restarted(desk, after, clock)
    try:
        assert deliver(other) == 3
        assert deliver(other) == 0
    finally:
        other.engine.dispose()
    assert channel.sent == []
    assert sent_to(after, "张保安") == [replies[0].text]
    assert len(sent_to(after, "李班长")) == 1 and len(sent_to(after, "王科长")) == 1
    assert number in sent_to(after, "王科长")[0]


def test_the_same_message_twice_is_one_record_and_one_reply(desk: App, channel: RecordingChannel) -> None:
    first = tell(desk, "上报 东门有人翻墙", "m7")
    second = tell(desk, "上报 东门有人翻墙", "m7")
    assert len(first) == 1 and second == []
    assert count(desk, Record) == 1
    assert sent_to(channel, "张保安") == [first[0].text]
    assert len(sent_to(channel, "李班长")) == 1


def test_the_same_message_from_two_threads_at_once_is_one_record(
    desk: App, channel: RecordingChannel
) -> None:
    rounds = 5
    for n in range(rounds):
        barrier = threading.Barrier(2)
        answers: list[int] = []

        def handle(message_id: str, barrier: threading.Barrier, answers: list[int]) -> None:
            barrier.wait()
            answers.append(len(desk.core.handle(inbound("上报 东门有人翻墙", message_id))))

        threads = [threading.Thread(target=handle, args=(f"race-{n}", barrier, answers)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(answers) == [0, 1]
    assert count(desk, Record) == rounds
    deliver(desk)
    assert len(sent_to(channel, "张保安")) == rounds
    assert not any(text == texts.INTERNAL_ERROR for text in sent_to(channel, "张保安"))


def _fast_dispatcher(app: App, channel: RecordingChannel, clock: Clock, max_attempts: int = 4) -> Backoff:
    backoff = Backoff(base=1, factor=2, cap=60, max_attempts=max_attempts, lease=5)
    app.dispatcher = Dispatcher(app.services.sessions, {"test": channel}, clock, backoff,
                                active_channels=("test",))
    return backoff


def test_channel_down_then_up_delivers_everything_once(
    desk: App, channel: RecordingChannel, clock: Clock
) -> None:
    _fast_dispatcher(desk, channel, clock)
    channel.down = True
    desk.core.handle(inbound("上报 东门有人翻墙", "m1"))
    start = clock.now
    assert deliver(desk) == 0
    with desk.services.sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        retry_at = start + timedelta(seconds=1)
        assert {(r.status, r.attempts, r.next_attempt_at) for r in rows} == {("pending", 1, retry_at)}
    assert deliver(desk) == 0  # not due yet: no attempt made
    clock.advance(seconds=1)
    assert deliver(desk) == 0
    with desk.services.sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {(r.attempts, r.next_attempt_at) for r in rows} == {(2, clock.now + timedelta(seconds=2))}
        assert {r.last_error for r in rows} == {"channel down"}
    channel.down = False
    clock.advance(seconds=2)
    assert deliver(desk) == 2
    assert deliver(desk) == 0
    assert len(sent_to(channel, "张保安")) == 1 and len(sent_to(channel, "李班长")) == 1
    assert count(desk, OutboxMessage, OutboxMessage.status != "sent") == 0


def test_after_the_last_attempt_the_row_fails_and_the_admins_hear_of_it(
    desk: App, channel: RecordingChannel, clock: Clock
) -> None:
    backoff = _fast_dispatcher(desk, channel, clock, max_attempts=3)
    channel.down = True
    desk.core.handle(inbound("上报 东门有人翻墙", "m1"))
    for attempt in range(1, backoff.max_attempts + 1):
        deliver(desk)
        clock.advance(seconds=backoff.delay(attempt).total_seconds())
    assert count(desk, OutboxMessage, OutboxMessage.status == "failed") == 2
    assert count(desk, OutboxMessage, OutboxMessage.dedupe_key.like("alert:%")) == 2
    channel.down = False
    deliver(desk)
    alerts = sent_to(channel, "孙管理")
    assert len(alerts) == 2
    assert any("李班长" in text and "东门有人翻墙" in text for text in alerts)
    assert sent_to(channel, "李班长") == [] and sent_to(channel, "张保安") == []  # failed rows stay failed
