"""Deadlines of complaints and incidents against a real database (SQLite and PostgreSQL): reminded
before, escalated when overdue (once, then daily on working days), across the year end, once only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.core import records
from bot.storage.models import Firing, Record, RecordEvent
from jobs.deadlines import run_due
from jobs.workdays import complaint_due_at
from tests.bot.test_escalation import add_person, file, told
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, deliver

SH = ZoneInfo("Asia/Shanghai")


def at(clock: Clock, local: str) -> None:
    clock.now = datetime.fromisoformat(local).replace(tzinfo=SH).astimezone(UTC)


def tick(app: App) -> int:
    n = run_due(app)
    deliver(app)
    return n


def events(app: App, number: str) -> list[tuple[str, str | None]]:
    with app.services.sessions() as session:
        record = records.find(session, number)
        assert record is not None
        return [(e.action, e.note) for e in session.scalars(
            select(RecordEvent).where(RecordEvent.record_id == record.id).order_by(RecordEvent.id))]


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "clerk": add_person(app, "周客服", "clerk"),
        "l1": add_person(app, "李班长", "manager", 1),
        "l1b": add_person(app, "钱班长", "manager", 1),
        "l2": add_person(app, "王科长", "manager", 2),
        "console": add_person(app, "控制台经理", "manager", 1, console=True),
        "worker": add_person(app, "吴维修", "clerk"),
    }


def complaint_at_year_end(app: App, staff: dict[str, int], clock: Clock) -> str:
    """A complaint filed on Monday 2026-12-28 10:00, category 其他 (5 working days)."""
    at(clock, "2026-12-28 10:00")
    due = complaint_due_at("其他", clock.now, SH, SEEDS)
    return file(app, staff["clerk"], "客户说楼道灯坏了一个星期", kind="complaint", category="其他", due_at=due)


def test_a_complaint_filed_before_new_year_is_due_in_january_and_reminded_at_the_right_local_time(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = complaint_at_year_end(app, staff, clock)
    with app.services.sessions() as session:
        record = records.find(session, number)
        assert record is not None and record.due_at is not None
        # 12-29, 12-30, 12-31, (元旦 off; seeds/holidays.txt), 01-04, 01-05 — at 17:30 local.
        assert record.due_at == datetime(2027, 1, 5, 17, 30, tzinfo=SH).astimezone(UTC)
    channel.clear()  # the escalation's first notification
    at(clock, "2027-01-05 15:29")
    assert tick(app) == 0 and channel.sent == []
    at(clock, "2027-01-05 15:30")
    assert tick(app) == 1
    assert sorted(told(channel)) == ["李班长", "钱班长"]  # unassigned: the first level; never the console
    text = channel.sent[0][0].text
    assert text.startswith(f"【到期提醒】投诉 {number} 将于 1月5日 17:30 到期（还有 2小时）")
    assert "处理人：未指派" in text and "楼道灯" in text
    assert channel.sent[0][0].buttons[0].reply == f"/show {number}"
    channel.clear()
    at(clock, "2027-01-05 16:00")
    assert tick(app) == 0 and channel.sent == []
    assert events(app, number)[-1] == ("due_reminded", "到期提醒：李班长、钱班长")


def test_the_assignee_is_reminded_and_overdue_escalates_once_then_daily_on_working_days(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = complaint_at_year_end(app, staff, clock)
    with app.services.sessions.begin() as session:
        session.execute(update(Record).where(Record.number == number)
                        .values(assignee_id=staff["worker"], status="in_progress", next_escalation_at=None))
    channel.clear()
    at(clock, "2027-01-05 15:30")
    tick(app)
    assert told(channel) == ["吴维修"]
    assert "处理人：吴维修" in channel.sent[0][0].text
    channel.clear()
    at(clock, "2027-01-05 17:29")
    assert tick(app) == 0
    at(clock, "2027-01-05 17:30")
    assert tick(app) == 1
    assert sorted(told(channel)) == ["吴维修", "李班长", "钱班长"]
    assert f"【已超期】投诉 {number} 已超过办理时限（1月5日 17:30 到期）" in channel.sent[0][0].text
    channel.clear()
    at(clock, "2027-01-06 09:00")
    assert tick(app) == 0  # once, then at most daily
    at(clock, "2027-01-06 17:30")
    assert tick(app) == 1
    assert "已超期 1 天" in channel.sent[0][0].text
    channel.clear()
    at(clock, "2027-01-09 17:30")  # Saturday: the daily repeat waits for a working day
    assert tick(app) == 0
    at(clock, "2027-01-10 18:00")  # Sunday
    assert tick(app) == 0
    at(clock, "2027-01-11 17:30")  # Monday
    assert tick(app) == 1
    assert "已超期 6 天" in channel.sent[0][0].text
    actions = [a for a, _ in events(app, number)]
    assert actions.count("due_reminded") == 1 and actions.count("overdue_reminded") == 3


def test_resolved_records_are_not_chased(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = complaint_at_year_end(app, staff, clock)
    with app.services.sessions.begin() as session:
        session.execute(update(Record).where(Record.number == number).values(status="resolved",
                                                                               next_escalation_at=None))
    channel.clear()
    for local in ("2027-01-05 15:30", "2027-01-05 17:30", "2027-01-06 17:30"):
        at(clock, local)
        assert tick(app) == 0
    assert channel.sent == []


def test_an_incident_due_soon_after_filing_gets_no_before_reminder_but_is_chased_when_overdue(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["clerk"], "配电房门锁坏了", due_at=clock.now + timedelta(hours=1))
    channel.clear()
    clock.advance(minutes=30)
    assert tick(app) == 0
    clock.advance(minutes=30)
    assert tick(app) == 1
    assert f"【已超期】事件 {number}" in channel.sent[0][0].text


def test_after_downtime_only_the_current_round_is_sent(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = complaint_at_year_end(app, staff, clock)
    channel.clear()
    at(clock, "2027-01-08 17:45")  # down from before the reminder until three days past due
    assert tick(app) == 1
    assert len(channel.sent) == 2 and "已超期 3 天" in channel.sent[0][0].text
    assert tick(app) == 0
    with app.services.sessions() as session:
        keys = session.scalars(select(Firing.key).where(Firing.key.like("deadline:%"))).all()
        record = records.find(session, number)
        assert record is not None
    assert keys == [f"deadline:{record.id}:overdue:3"]
    assert [a for a, _ in events(app, number)].count("overdue_reminded") == 1


def test_two_processes_at_once_send_each_round_once(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    numbers = [file(app, staff["clerk"], f"第{i}件投诉", kind="complaint", due_at=clock.now + timedelta(hours=5))
               for i in range(4)]
    channel.clear()
    clock.advance(hours=5)
    other = build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                      migrate=False)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(which: App) -> None:
        barrier.wait()
        results.append(run_due(which))

    try:
        threads = [threading.Thread(target=run, args=(a,)) for a in (app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        other.engine.dispose()
    assert sum(results) == len(numbers)
    deliver(app)
    assert sorted(told(channel)) == sorted(["李班长", "钱班长"] * len(numbers))
