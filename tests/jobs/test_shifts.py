"""Shifts and the duty tick against a real database (SQLite and PostgreSQL), with the test clock:
pre-shift reminders, 迟到/缺岗 alerts, handover reminders and alerts, welfare checks, downtime, and
two processes ticking at once."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.seedcheck import check_seeds
from bot.storage.models import Firing, OutboxMessage, ShiftAssignment, WelfareCheck
from jobs import shifts
from jobs.roster import add_assignment, on_duty
from jobs.shift_config import DEFAULT_CONFIG, Shift, check_shifts, load_config, parse_shifts, read_config
from jobs.shift_days import parse_day
from jobs.shifts import run_due
from tests.bot.test_escalation import add_person, told
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, deliver, say

SH = ZoneInfo("Asia/Shanghai")
GUARD = "张保安"


def at(clock: Clock, local: str) -> datetime:
    """Set the clock to a Shanghai wall-clock time ("2026-11-28 07:45")."""
    clock.now = datetime.fromisoformat(local).replace(tzinfo=SH).astimezone(UTC)
    return clock.now


def assign(app: App, person_id: int, code: str, day: date) -> int:
    """Put a person on a shift the way /roster does (created at the clock's now)."""
    config = load_config(SEEDS)
    shift = config.get(code)
    assert shift is not None
    with app.services.sessions.begin() as session:
        person = session.get(shifts.Person, person_id)
        assert person is not None
        row = add_assignment(session, person, shift, day, SH, app.services.clock())
        assert row is not None
        return row.id


def tick(app: App) -> int:
    n = run_due(app)
    deliver(app)
    return n


def sent_to(channel: RecordingChannel, name: str) -> list[str]:
    return channel.texts_to(f"chat-{name}")


def assignment(app: App, assignment_id: int) -> ShiftAssignment:
    with app.services.sessions() as session:
        row = session.get(ShiftAssignment, assignment_id)
        assert row is not None
        return row


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, GUARD, "guard"),
        "night": add_person(app, "刘更夫", "guard"),
        "l1": add_person(app, "李班长", "manager", 1),
        "l1b": add_person(app, "钱班长", "manager", 1),
        "l2": add_person(app, "王科长", "manager", 2),
        "console": add_person(app, "控制台经理", "manager", 1, console=True),
    }


DAY = date(2026, 11, 28)


# --- Shift definitions -------------------------------------------------------------------------


def test_the_shipped_shifts_are_valid_and_cross_midnight() -> None:
    assert check_shifts(SEEDS) == []
    config = read_config(SEEDS / "shifts.toml")
    day, night = config.shifts
    assert (day.code, day.name, day.start, day.end) == ("day", "白班", time(8), time(20))
    assert (night.code, night.name, night.crosses_midnight) == ("night", "夜班", True)
    assert night.welfare_every_minutes == 120 and day.welfare_every_minutes == 0
    assert day.remind_before_minutes == 15 and day.checkin_grace_minutes == 10 and day.handover
    assert night.hours == "20:00–次日08:00" and night.duration == timedelta(hours=12)
    start, end = night.window(date(2026, 12, 31), SH)
    assert start == datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    assert end == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert config.find("夜班") is night and config.find("NIGHT") is night and config.find("晚班") is None


BAD = """\
[defaults]
remind_before_minutes = -5
snooze = 3

[[shift]]
code = "day"
name = "白班"
start = "8点"
end = "20:00"

[[shift]]
code = "Night!"
name = "白班"
start = "20:00"
end = "08:00"
welfare_every_minutes = 5

[[shift]]
code = "late"
name = "晚班"
start = "14:00"
end = "22:00"
welfare_every_minutes = 600
"""


def test_every_problem_of_a_broken_file_is_reported_with_its_line() -> None:
    config, problems = parse_shifts(BAD, "shifts.toml")
    assert config is None
    where = {p.line: p.message for p in problems}
    assert "remind_before_minutes" in where[2] and "0 到 240" in where[2]
    assert "不认识的设置“snooze”" in where[3]
    assert "start（上班时间）" in where[8] and "“8点”" in where[8]
    assert "code" in where[12]
    assert "至少 15 分钟" in where[16]
    assert "只有 480 分钟" in where[23]
    assert all(p.file == "shifts.toml" for p in problems)


def test_toml_syntax_errors_and_missing_shifts_are_reported() -> None:
    config, problems = parse_shifts('[[shift]]\ncode = "day\n', "x")
    assert config is None and problems[0].line == 2 and "双引号" in problems[0].message
    config, problems = parse_shifts("[defaults]\nhandover = 1\n", "x")
    assert config is None
    messages = " ".join(p.message for p in problems)
    assert "true 或 false" in messages and "至少要有一个班次" in messages


def test_seeds_check_includes_the_shifts_file(tmp_path: Path) -> None:
    import shutil

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("*.cache", "__pycache__"))
    assert check_seeds(seeds) == []
    broken = '[[shift]]\ncode = "day"\nname = "白班"\nstart = "08:00"\nend = "08:00"\n'
    (seeds / "shifts.toml").write_text(broken, encoding="utf-8")
    problems = check_seeds(seeds)
    assert [(Path(p.file).name, p.line) for p in problems] == [("shifts.toml", 5)]


def test_a_broken_file_keeps_the_last_good_shifts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "shifts.toml").write_text((SEEDS / "shifts.toml").read_text(encoding="utf-8").replace(
        'name = "白班"', 'name = "早班"'), encoding="utf-8")
    assert load_config(tmp_path).shifts[0].name == "早班"
    (tmp_path / "shifts.toml").write_text("[[shift]]\nbroken", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="jobs.shifts"):
        assert load_config(tmp_path).shifts[0].name == "早班"
    assert "unusable" in caplog.text
    assert load_config(tmp_path / "nowhere").shifts == DEFAULT_CONFIG.shifts


def test_day_phrases() -> None:
    today = date(2026, 12, 28)
    assert parse_day("今天", today) == today and parse_day("明天", today) == date(2026, 12, 29)
    assert parse_day("后天", today) == date(2026, 12, 30)
    assert parse_day("2026-12-01", today) == date(2026, 12, 1)
    assert parse_day("２０２７/１/５", today) == date(2027, 1, 5)  # full-width digits
    assert parse_day("01-05", today) == date(2027, 1, 5)  # late December: next January
    assert parse_day("1月5日", today) == date(2027, 1, 5)
    assert parse_day("12-01", today) == date(2026, 12, 1)
    assert parse_day("02-30", today) is None and parse_day("张三", today) is None
    assert parse_day("2026-13-01", today) is None


# --- The duty tick -----------------------------------------------------------------------------


def test_pre_shift_reminder_is_sent_once_at_the_right_time(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:44")
    tick(app)
    assert sent_to(channel, GUARD) == []
    at(clock, "2026-11-28 07:45")
    tick(app)
    [text] = sent_to(channel, GUARD)
    assert "白班（08:00–20:00）15分钟后开始" in text and "签到" in text and "《值班人员管理规定》三、" in text
    assert channel.sent[0][0].buttons[0].reply == "/checkin"
    assert assignment(app, a).reminded_at == clock.now
    clock.advance(minutes=1)
    tick(app)
    assert len(sent_to(channel, GUARD)) == 1
    assert told(channel) == [GUARD]  # nobody else


def test_no_check_in_alerts_the_first_level_once_and_a_late_check_in_follows(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 08:09")
    tick(app)
    channel.clear()  # the pre-shift reminder
    at(clock, "2026-11-28 08:09:59")
    tick(app)
    assert channel.sent == []
    at(clock, "2026-11-28 08:10")
    tick(app)
    assert sorted(told(channel)) == ["李班长", "钱班长"]  # level 1 only; never the console identity
    text = channel.sent[0][0].text
    assert f"{GUARD} 11月28日（周六）白班（08:00–20:00）已开班 10 分钟，还没有签到（迟到或缺岗）" in text
    assert "《值班人员管理规定》三、不准迟到、早退" in text and "补发" not in text
    assert assignment(app, a).absence_alerted_at == clock.now
    channel.clear()
    clock.advance(minutes=5)
    tick(app)
    assert channel.sent == []
    at(clock, "2026-11-28 08:20")
    replies = say(app, f"u-{GUARD}", "签到", chat=f"chat-{GUARD}")
    assert "迟到 20 分钟" in replies[0].text and "已告诉他您到岗了" in replies[0].text
    assert sorted(told(channel)) == sorted(["李班长", "钱班长", GUARD])
    assert "已签到：白班（08:00–20:00），迟到 20 分钟" in sent_to(channel, "李班长")[0]
    assert assignment(app, a).checked_in_at == clock.now


def test_without_a_level_one_all_managers_are_told(
    app: App, channel: RecordingChannel, clock: Clock
) -> None:
    guard = add_person(app, GUARD, "guard")
    add_person(app, "孙经理", "manager")
    add_person(app, "周经理", "manager")
    add_person(app, "控制台", "manager", console=True)
    assign(app, guard, "day", DAY)
    at(clock, "2026-11-28 08:10")
    tick(app)
    assert sorted(n for n in told(channel) if n != GUARD) == ["周经理", "孙经理"]


def test_checked_in_on_time_no_alert(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:58")
    replies = say(app, f"u-{GUARD}", "签到", chat=f"chat-{GUARD}")
    assert "已签到" in replies[0].text and "迟到" not in replies[0].text
    at(clock, "2026-11-28 08:30")
    tick(app)
    assert [n for n in told(channel) if n != GUARD] == []
    assert assignment(app, a).absence_alerted_at is None


def test_handover_reminder_then_missing_handover_alert(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:59")
    say(app, f"u-{GUARD}", "签到", chat=f"chat-{GUARD}")
    at(clock, "2026-11-28 19:59")
    tick(app)
    channel.clear()
    at(clock, "2026-11-28 20:00")
    tick(app)
    [text] = sent_to(channel, GUARD)
    assert "白班（08:00–20:00）已结束" in text and "30 分钟内填写交接班记录" in text
    assert "《值班人员管理规定》一、" in text and channel.sent[0][0].buttons[0].reply == "/handover"
    assert told(channel) == [GUARD]
    channel.clear()
    at(clock, "2026-11-28 20:29")
    tick(app)
    assert channel.sent == []
    at(clock, "2026-11-28 20:30")
    tick(app)
    assert sorted(told(channel)) == sorted(["李班长", "钱班长", GUARD])
    assert "【未交接班】张保安 11月28日（周六）白班（08:00–20:00）已下班 30 分钟" in sent_to(channel, "李班长")[0]
    assert "已通知班长" in sent_to(channel, GUARD)[0]
    row = assignment(app, a)
    assert row.handover_reminded_at is not None and row.handover_escalated_at == clock.now
    channel.clear()
    clock.advance(hours=1)
    tick(app)
    assert channel.sent == []


def test_a_filed_handover_means_no_reminder_and_no_alert(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:59")
    say(app, f"u-{GUARD}", "签到", chat=f"chat-{GUARD}")
    # A handover this morning (after another shift) does not count for this one …
    at(clock, "2026-11-28 08:05")
    say(app, f"u-{GUARD}", "交接班 夜里一切正常", chat=f"chat-{GUARD}")
    # … the one at the end of this shift does.
    at(clock, "2026-11-28 19:50")
    say(app, f"u-{GUARD}", "交接班 白天一切正常，东门锁已修", chat=f"chat-{GUARD}")
    channel.clear()
    for local in ("2026-11-28 20:00", "2026-11-28 20:30", "2026-11-28 21:00"):
        at(clock, local)
        tick(app)
    assert channel.sent == []
    row = assignment(app, a)
    assert row.handover_reminded_at is not None and row.handover_escalated_at is not None


def test_an_early_handover_does_not_cover_the_shift(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 08:05")
    say(app, f"u-{GUARD}", "交接班 夜里一切正常", chat=f"chat-{GUARD}")
    channel.clear()
    at(clock, "2026-11-28 20:00")
    tick(app)
    assert any("交接班记录" in t for t in sent_to(channel, GUARD))


def test_night_welfare_checks_asked_answered_and_escalated(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    night = "刘更夫"
    a = assign(app, staff["night"], "night", DAY)
    at(clock, "2026-11-28 19:55")
    say(app, f"u-{night}", "签到", chat=f"chat-{night}")
    at(clock, "2026-11-28 21:59")
    tick(app)
    channel.clear()
    at(clock, "2026-11-28 22:00")
    tick(app)
    [text] = sent_to(channel, night)
    assert "请回复“平安”确认在岗（10分钟内，22:10前）" in text
    assert channel.sent[0][0].buttons[0].reply == "/ok"
    tick(app)
    assert len(sent_to(channel, night)) == 1  # asked once
    at(clock, "2026-11-28 22:04")
    replies = say(app, f"u-{night}", "平安", chat=f"chat-{night}")
    assert replies[0].text == "收到，平安。（22:04）"
    channel.clear()
    # The next one at 00:00 goes unanswered.
    at(clock, "2026-11-29 00:00")
    tick(app)
    assert len(sent_to(channel, night)) == 1
    at(clock, "2026-11-29 00:09")
    tick(app)
    assert [n for n in told(channel) if n != night] == []
    at(clock, "2026-11-29 00:10")
    tick(app)
    assert sorted(n for n in told(channel) if n != night) == ["李班长", "钱班长"]
    alert = sent_to(channel, "李班长")[0]
    assert "【查岗未回复】刘更夫（夜班 20:00–次日08:00）00:00 的查岗，10分钟内没有回复“平安”" in alert
    assert "睡岗" in alert
    with app.services.sessions() as session:
        checks = session.scalars(select(WelfareCheck).where(WelfareCheck.assignment_id == a)
                                 .order_by(WelfareCheck.id)).all()
    assert len(checks) == 2
    assert checks[0].answered_at is not None and checks[0].escalated_at is None
    assert checks[1].answered_at is None and checks[1].escalated_at == clock.now
    channel.clear()
    tick(app)
    assert channel.sent == []  # escalated once
    at(clock, "2026-11-29 00:15")
    replies = say(app, f"u-{night}", "平安", chat=f"chat-{night}")
    assert "超过了回复时限" in replies[0].text
    assert "回复了平安" in sent_to(channel, "李班长")[0]
    # No welfare check on the day shift, and none after the night ends.
    at(clock, "2026-11-29 08:30")
    channel.clear()
    tick(app)
    assert all("查岗" not in out.text for out, _ in channel.sent)


def test_two_processes_ticking_at_once_send_everything_once(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    ids = [assign(app, staff["guard"], "day", DAY),
           assign(app, staff["night"], "night", DAY - timedelta(days=1))]
    at(clock, "2026-11-27 22:00")  # the night guard: welfare check due, and no check-in (alert)
    other = build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                      migrate=False)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(which: App) -> None:
        barrier.wait()
        results.append(run_due(which))

    try:
        for local in ("2026-11-27 22:00", "2026-11-28 07:45", "2026-11-28 08:10"):
            at(clock, local)
            threads = [threading.Thread(target=run, args=(x,)) for x in (app, other)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
    finally:
        other.engine.dispose()
    deliver(app)
    night, day = "刘更夫", GUARD
    assert len([t for t in sent_to(channel, night) if "请回复“平安”" in t]) == 1
    assert len([t for t in sent_to(channel, day) if "分钟后开始" in t]) == 1
    lateness = [t for t in sent_to(channel, "李班长") if "还没有签到" in t]
    assert len(lateness) == 2 and any(night in t for t in lateness) and any(day in t for t in lateness)
    with app.services.sessions() as session:
        assert session.scalar(select(Firing.key).where(Firing.key == f"welfare:{ids[1]}:1")) is not None
        assert len(session.scalars(select(WelfareCheck)).all()) == 1


def test_downtime_longer_than_the_grace_skips_reminders_and_logs_it(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:00")
    tick(app)
    # The bot was down from 07:00 to 08:30: the 07:45 reminder is not sent 45 minutes late …
    at(clock, "2026-11-28 08:30")
    with caplog.at_level(logging.INFO, logger="jobs.shifts"):
        tick(app)
    assert sent_to(channel, GUARD) == []
    assert "pre-shift reminder skipped" in caplog.text and "downtime" in caplog.text
    assert assignment(app, a).reminded_at == clock.now
    # … but the managers still hear that nobody checked in, marked as late.
    text = sent_to(channel, "李班长")[0]
    assert "还没有签到" in text and "系统延迟补发：本应 11月28日 08:10 发出" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jobs.shifts"):
        tick(app)
    assert "skipped" not in caplog.text  # decided and logged once
    # Down again from 08:31 until the next morning: too late for the handover reminder (skipped) and
    # for alerts more than 12 hours old; the 20:30 missing-handover alert is 11.5 h late: still sent.
    channel.clear()
    at(clock, "2026-11-29 08:00")
    with caplog.at_level(logging.INFO, logger="jobs.shifts"):
        tick(app)
    assert "handover reminder skipped" in caplog.text
    assert sent_to(channel, GUARD) == ["您的白班交接班记录还没有填写，已通知班长。请尽快发“交接班 本班情况…”补填。"]
    assert "系统延迟补发：本应 11月28日 20:30 发出" in sent_to(channel, "李班长")[0]


def test_stale_alerts_are_skipped_and_logged(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-29 09:00")  # down from before the shift until the next morning
    with caplog.at_level(logging.WARNING, logger="jobs.shifts"):
        tick(app)
    assert channel.sent == []
    assert "check-in alert skipped" in caplog.text and "missing-handover alert skipped" in caplog.text


def test_an_assignment_made_during_the_shift_gets_the_grace_from_then(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    at(clock, "2026-11-28 09:00")
    assign(app, staff["guard"], "day", DAY)
    with caplog.at_level(logging.INFO, logger="jobs.shifts"):
        tick(app)
    assert channel.sent == [] and "made after the shift started" in caplog.text
    at(clock, "2026-11-28 09:09")
    tick(app)
    assert channel.sent == []
    at(clock, "2026-11-28 09:10")
    tick(app)
    assert sorted(told(channel)) == ["李班长", "钱班长"]


def test_a_roster_entered_for_past_days_alerts_nobody(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    at(clock, "2026-11-29 12:00")
    assign(app, staff["guard"], "day", DAY)
    assign(app, staff["night"], "night", DAY)
    for minutes in (0, 30, 60):
        clock.advance(minutes=minutes)
        tick(app)
    assert channel.sent == []


def test_on_duty_lists_the_people_on_a_shift_now(app: App, staff: dict[str, int], clock: Clock) -> None:
    assign(app, staff["guard"], "day", DAY)
    assign(app, staff["night"], "night", DAY)
    console_guard = add_person(app, "控制台保安", "guard", console=True)
    with app.services.sessions.begin() as session:
        # Written straight to the table, as no command would do it: still never on duty.
        start, end = load_config(SEEDS).get("day").window(DAY, SH)  # type: ignore[union-attr]
        session.add(ShiftAssignment(person_id=console_guard, shift="day", day=DAY, starts_at=start,
                                    ends_at=end, created_at=clock.now))
    with app.services.sessions() as session:
        assert [p.name for p in on_duty(session, at(clock, "2026-11-28 12:00"))] == [GUARD]
        assert [p.name for p in on_duty(session, at(clock, "2026-11-28 20:00"))] == ["刘更夫"]
        assert [p.name for p in on_duty(session, at(clock, "2026-11-29 07:59"))] == ["刘更夫"]
        assert on_duty(session, at(clock, "2026-11-29 08:00")) == []


def test_notifications_carry_dedupe_keys(app: App, staff: dict[str, int], clock: Clock) -> None:
    a = assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:45")
    tick(app)
    # Pretend the marker was lost (a crash after queueing): the same reminder is not queued twice.
    with app.services.sessions.begin() as session:
        session.execute(update(ShiftAssignment).where(ShiftAssignment.id == a).values(reminded_at=None))
    tick(app)
    with app.services.sessions() as session:
        shift_keys = OutboxMessage.dedupe_key.like("shift:%")
        keys = session.scalars(select(OutboxMessage.dedupe_key).where(shift_keys))
        assert list(keys) == [f"shift:{a}:remind"]


def test_a_shift_code_gone_from_the_file_runs_on_the_defaults(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    with app.services.sessions.begin() as session:
        person = session.get(shifts.Person, staff["guard"])
        assert person is not None
        gone = Shift("middle", "中班", time(12), time(18))
        add_assignment(session, person, gone, DAY, SH, clock.now)
    at(clock, "2026-11-28 11:45")
    tick(app)
    assert "middle（12:00–18:00）15分钟后开始" in sent_to(channel, GUARD)[0]


def test_the_running_scheduler_runs_the_duty_ticks(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    """Registered in start_jobs by textual reference, every minute, first run right away: a reminder
    that is due when the scheduler starts goes out without anyone ticking by hand."""
    from jobs.scheduler import DEADLINES_JOB_ID, DUTY_EVERY_SECONDS, SHIFTS_JOB_ID
    from tests.jobs.test_scheduler import stored_jobs, until, with_scheduler

    assign(app, staff["guard"], "day", DAY)
    at(clock, "2026-11-28 07:45")

    async def body() -> None:
        await until(lambda: any("分钟后开始" in t for t in sent_to(channel, GUARD)))

    with_scheduler(app, body, paused=False)
    jobs = stored_jobs(app)
    assert jobs[SHIFTS_JOB_ID]["func"] == "jobs.shifts:tick"
    assert jobs[DEADLINES_JOB_ID]["func"] == "jobs.deadlines:tick"
    for job in (SHIFTS_JOB_ID, DEADLINES_JOB_ID):
        assert jobs[job]["trigger"].interval == timedelta(seconds=DUTY_EVERY_SECONDS)
        assert jobs[job]["args"] == () and jobs[job]["kwargs"] == {}
