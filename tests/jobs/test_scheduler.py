"""The one scheduler: jobs kept in the project database by id and textual reference, restarts that
replace instead of duplicate, explicit misfire settings, and the running loop doing real work."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Awaitable, Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.app import App, build_app
from bot.core.messages import Inbound
from jobs import runtime
from jobs.escalation import tick
from jobs.scheduler import (
    ESCALATION_EVERY_SECONDS,
    ESCALATION_JOB_ID,
    MISFIRE_GRACE_SECONDS,
    OUTBOX_EVERY_SECONDS,
    OUTBOX_JOB_ID,
    TABLE,
    build_scheduler,
    start_jobs,
    stop,
)
from tests.bot.test_escalation import add_person, file, told
from tests.support import Clock, RecordingChannel


def stored_jobs(app: App) -> dict[str, dict]:
    with app.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, job_state FROM {TABLE}")).all()
    return {row.id: pickle.loads(row.job_state) for row in rows}


def with_scheduler(app: App, body: Callable[[], Awaitable[None]], *, paused: bool) -> None:
    async def main() -> None:
        scheduler = build_scheduler(app)
        start_jobs(scheduler)
        scheduler.start(paused=paused)
        try:
            await body()
        finally:
            stop(scheduler)
            await asyncio.sleep(0)

    asyncio.run(main())


async def nothing() -> None:
    return None


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for the running scheduler to do something (polls; no fixed sleep)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the scheduler did not get there in time")


def test_jobs_are_stored_by_id_and_textual_reference(app: App) -> None:
    with_scheduler(app, nothing, paused=True)
    jobs = stored_jobs(app)
    assert {ESCALATION_JOB_ID, OUTBOX_JOB_ID, "shifts-tick", "deadlines-tick"} <= set(jobs)
    assert jobs[ESCALATION_JOB_ID]["func"] == "jobs.escalation:tick"
    assert jobs[OUTBOX_JOB_ID]["func"] == "jobs.outbox:dispatch"
    assert jobs[ESCALATION_JOB_ID]["trigger"].interval == timedelta(seconds=ESCALATION_EVERY_SECONDS)
    assert jobs[OUTBOX_JOB_ID]["trigger"].interval == timedelta(seconds=OUTBOX_EVERY_SECONDS)
    assert jobs[ESCALATION_JOB_ID]["args"] == () and jobs[ESCALATION_JOB_ID]["kwargs"] == {}


def test_misfire_settings_are_explicit(app: App) -> None:
    with_scheduler(app, nothing, paused=True)
    for state in stored_jobs(app).values():
        assert state["misfire_grace_time"] == MISFIRE_GRACE_SECONDS
        assert state["coalesce"] is True
        assert state["max_instances"] == 1
        assert state["trigger"].timezone == ZoneInfo("Asia/Shanghai")
    assert MISFIRE_GRACE_SECONDS > 1  # not APScheduler's default of one second


def test_a_restart_replaces_the_jobs_instead_of_adding_copies(
    app: App, channel: RecordingChannel, clock: Clock
) -> None:
    with_scheduler(app, nothing, paused=True)
    first = stored_jobs(app)
    restarted = build_app(app.settings, searcher=app.services.searcher, senders={"test": channel},
                          clock=clock, migrate=False)
    try:
        with_scheduler(restarted, nothing, paused=True)
        with_scheduler(restarted, nothing, paused=True)
    finally:
        restarted.engine.dispose()
    again = stored_jobs(app)
    assert set(again) == set(first)
    assert {ESCALATION_JOB_ID, OUTBOX_JOB_ID} <= set(first)


def test_the_running_scheduler_escalates_and_delivers_at_once(
    app: App, channel: RecordingChannel, clock: Clock
) -> None:
    """Started after a pause: the escalation that came due meanwhile goes out right away, through the
    outbox job, without anyone draining the outbox by hand."""
    guard = add_person(app, "张保安", "guard")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "王科长", "manager", 2)
    file(app, guard)
    channel.clear()
    clock.advance(minutes=15)

    async def body() -> None:
        await until(lambda: told(channel) == ["王科长"])

    with_scheduler(app, body, paused=False)


def test_a_queued_reply_wakes_the_dispatcher(app: App, channel: RecordingChannel) -> None:
    add_person(app, "李班长", "manager", 1)

    async def body() -> None:
        await asyncio.sleep(0.05)  # let the start-up runs finish, so only the wake-up can deliver
        channel.clear()
        inbound = Inbound(channel="test", sender="u-李班长", chat="chat-李班长", text="/whoami")
        await asyncio.to_thread(app.core.handle, inbound)  # a channel hands messages to the core so
        await until(lambda: told(channel) == ["李班长"], seconds=OUTBOX_EVERY_SECONDS / 2)

    with_scheduler(app, body, paused=False)


def test_job_functions_need_the_running_app() -> None:
    runtime.uninstall()
    with pytest.raises(runtime.NotRunning):
        tick()


def test_skipped_outbox_wake_ups_are_not_logged_as_warnings_but_other_skips_are() -> None:
    import logging

    import jobs.outbox  # noqa: F401  (installs the filter)

    logger = logging.getLogger("apscheduler.scheduler")
    msg = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'

    def kept(job: str) -> bool:
        record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, msg, (job, 2), None)
        return all(f.filter(record) for f in logger.filters)

    assert not kept("立即发送 (trigger: date[2026-11-27 10:00:00 CST], next run at: …)")
    assert kept("逐级上报 (trigger: interval[0:00:30], next run at: …)")
