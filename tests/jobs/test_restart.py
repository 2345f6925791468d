"""Restart, scheduler side: a reminder's job stored by a process that stopped before it fired is run by
the next process on the same database — exactly once when it was missed by less than the grace window
(jobs.reminders.GRACE_SECONDS), skipped and logged ("was missed by") when by more, and once
(coalesced) for a daily reminder missed on several days.

APScheduler reads the wall clock, so the reminders' times are set in the past of the wall clock (the
test clock is set to the wall clock too, since the firing decides with the App's clock). The restart
is in-process: a new App and scheduler on the same database, through the elected `running` path. No
sleeps beyond polling for the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.core import timephrase
from bot.core.timephrase import Once, Repeating, Trigger
from bot.storage.models import Firing, OutboxMessage, Reminder
from jobs import reminders
from jobs.scheduler import build_scheduler, running, stop
from tests.bot.test_escalation import add_person, told
from tests.jobs.test_scheduler import stored_jobs, until
from tests.support import Clock, RecordingChannel

GRACE = timedelta(seconds=reminders.GRACE_SECONDS)


def set_reminder(
    app: App, person_id: int, trigger: Trigger, *, stored_next_run: datetime | None = None
) -> int:
    """The process before the restart: a reminder set (row + its job, as jobs.reminders adds it) by a
    process whose scheduler stopped before the job ran. `stored_next_run`: the run time the stopped
    scheduler left in the store (default: the trigger's own)."""

    async def main() -> int:
        scheduler = build_scheduler(app)
        scheduler.start(paused=True)
        try:
            with app.services.sessions.begin() as session:
                reminder = Reminder(kind="adhoc", audience={"person_ids": [person_id]}, text="21:00 前关闭大门",
                                    schedule="test", trigger=timephrase.to_dict(trigger))
                session.add(reminder)
                session.flush()
                reminders.schedule_after_commit(session, reminder.id, trigger, app.services.tz)
                reminder_id = reminder.id
            if stored_next_run is not None:
                scheduler.modify_job(reminders.job_id(reminder_id), next_run_time=stored_next_run)
        finally:
            stop(scheduler)
            await asyncio.sleep(0)
        return reminder_id

    reminder_id = asyncio.run(main())
    assert reminders.job_id(reminder_id) in stored_jobs(app)
    return reminder_id


def restart_until(app: App, channel: RecordingChannel, clock: Clock, condition: Callable[[], object]) -> None:
    """A new process on the same database: new App, elected scheduler; runs until `condition()`."""
    again = build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                      migrate=False)

    async def main() -> None:
        async with running(again) as elector:
            assert elector.leading
            await until(lambda: bool(condition()))

    try:
        asyncio.run(main())
    finally:
        again.engine.dispose()


def firings(app: App, reminder_id: int) -> list[str]:
    with app.services.sessions() as session:
        keys = select(Firing.key).where(Firing.key.startswith(f"reminder:{reminder_id}@"))
        return list(session.scalars(keys))


def outbox_rows(app: App, person_id: int) -> int:
    with app.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.person_id == person_id)) or 0


def active(app: App, reminder_id: int) -> bool:
    with app.services.sessions() as session:
        reminder = session.get(Reminder, reminder_id)
        return reminder is not None and reminder.active


def wall(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


@pytest.fixture()
def guard(app: App, clock: Clock) -> int:
    clock.now = datetime.now(UTC)  # the firing reads the App's clock; APScheduler the wall clock
    return add_person(app, "张保安", "guard")


def test_missed_within_the_grace_it_fires_once_after_restart(
    app: App, channel: RecordingChannel, clock: Clock, guard: int, caplog: pytest.LogCaptureFixture
) -> None:
    at = wall(minutes=-1).replace(microsecond=0)  # due a minute ago, while the bot was down
    rid = set_reminder(app, guard, Once(at))
    job = reminders.job_id(rid)
    restart_until(app, channel, clock, lambda: told(channel) and job not in stored_jobs(app))
    assert firings(app, rid) == [reminders.firing_key(rid, at)]
    assert outbox_rows(app, guard) == 1 and told(channel) == ["张保安"]
    assert "21:00 前关闭大门" in channel.sent[0][0].text
    assert not active(app, rid)  # a one-off reminder is done
    # A further restart has nothing left to fire.
    restart_until(app, channel, clock, lambda: True)
    assert len(firings(app, rid)) == 1 and outbox_rows(app, guard) == 1 and len(channel.sent) == 1
    assert "was missed by" not in caplog.text and "claimed already" not in caplog.text


def test_missed_beyond_the_grace_it_is_skipped_and_logged(
    app: App, channel: RecordingChannel, clock: Clock, guard: int, caplog: pytest.LogCaptureFixture
) -> None:
    at = wall(seconds=-(GRACE.total_seconds() + 60)).replace(microsecond=0)  # down longer than the grace
    rid = set_reminder(app, guard, Once(at))
    job = reminders.job_id(rid)
    with caplog.at_level(logging.WARNING, logger="apscheduler.executors.default"):
        restart_until(app, channel, clock, lambda: "was missed by" in caplog.text and not active(app, rid))
    missed = next(r for r in caplog.records if "was missed by" in r.getMessage())
    assert missed.name == "apscheduler.executors.default" and missed.levelno == logging.WARNING
    assert f"提醒 #{rid}" in missed.getMessage()  # the job's name
    assert firings(app, rid) == [] and outbox_rows(app, guard) == 0 and channel.sent == []
    assert job not in stored_jobs(app)  # a skipped one-off job is done, and its reminder deactivated


def test_a_daily_reminder_down_for_three_days_fires_once(
    app: App, channel: RecordingChannel, clock: Clock, guard: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Down over three 20:45-style runs and restarted shortly after today's: today's fires once
    (coalesced); the older runs are neither sent nor each logged as missed."""
    tz = app.services.tz
    today = wall(minutes=-2).astimezone(tz).replace(second=0, microsecond=0)
    rid = set_reminder(app, guard, Repeating(today.hour, today.minute),
                       stored_next_run=today - timedelta(days=3))
    name = f"提醒 #{rid} "
    with caplog.at_level(logging.INFO, logger="apscheduler.executors.default"):
        restart_until(app, channel, clock, lambda: any(
            r.getMessage().startswith(f'Job "{name}') and r.getMessage().endswith("executed successfully")
            for r in caplog.records))
    runs = [r for r in caplog.records if r.getMessage().startswith(f'Running job "{name}')]
    assert len(runs) == 1, [r.getMessage() for r in runs]
    assert firings(app, rid) == [reminders.firing_key(rid, today)]
    assert outbox_rows(app, guard) == 1 and told(channel) == ["张保安"]
    assert "was missed by" not in caplog.text and "claimed already" not in caplog.text
    next_run = stored_jobs(app)[reminders.job_id(rid)]["next_run_time"]
    assert next_run == today + timedelta(days=1)  # back on its daily beat
