"""The one scheduler: APScheduler 3.x on the asyncio loop, jobs kept in the project database.

Jobs are textual references ("jobs.escalation:tick") with simple arguments, explicit ids and
`replace_existing=True`, so a restart replaces them instead of adding copies. The job store is the
table `apscheduler_jobs` (outside Alembic). Misfires: an explicit grace time and `coalesce=True`, so
a backlog after a pause fires once.

One sender (`running`, used by `bot.app.scheduled`): every bot process runs the same code, but
APScheduler does not support two schedulers on one job store, so only the holder of the database
lease (jobs.leader) processes jobs. Every process starts its scheduler *paused* — so jobs a handler
adds or removes (an ad-hoc reminder) go straight to the shared job store — and the elected one
registers the standing jobs and resumes it; a leader that loses its lease pauses again. The leader
sees a job another process stored at its next wake-up (the outbox job wakes it every
OUTBOX_EVERY_SECONDS). The jobs are safe to run twice anyway: each claims its rows or its firing in
the database.

The outbox is dispatched in every process: by the leader's scheduler jobs, and in a follower by a
plain loop (every few seconds and on each wake-up). A process's replies go out through its own
channels at once, and the dispatcher's row claims keep the processes apart. So every process must
run the same channels (a dispatcher fails the rows of a channel it does not run).

Extending: add a `register_*` step to `start_jobs` (e.g. shift reminders); it runs whenever this
process becomes the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text

from bot.storage.db import make_engine
from jobs import housekeeping, leader, outbox, reminders, runtime

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

TABLE = "apscheduler_jobs"
# A job may run this late (e.g. the loop was busy) and still run; a later one is skipped and logged.
# Interval jobs here come round again in seconds; reminders may set their own per job.
MISFIRE_GRACE_SECONDS = 600
# Applied when a job is added, by the scheduler that adds it: anything adding jobs to the shared
# store (a follower's paused scheduler included) must be built with these.
JOB_DEFAULTS = {"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1}
ESCALATION_JOB_ID = "escalation-tick"
ESCALATION_REF = "jobs.escalation:tick"
ESCALATION_EVERY_SECONDS = 30
OUTBOX_JOB_ID = "outbox-dispatch"
OUTBOX_EVERY_SECONDS = 5
# Shift reminders, check-in alerts, handovers, welfare checks (jobs.shifts) and deadlines (jobs.deadlines).
SHIFTS_JOB_ID = "shifts-tick"
SHIFTS_REF = "jobs.shifts:tick"
DEADLINES_JOB_ID = "deadlines-tick"
DEADLINES_REF = "jobs.deadlines:tick"
DUTY_EVERY_SECONDS = 60
HOUSEKEEPING_JOB_ID = "housekeeping"
HOUSEKEEPING_EVERY_SECONDS = 3600
# On exit, how long the job runs under way may take to finish before the scheduler shuts down.
STOP_WAIT_SECONDS = 10
# PostgreSQL advisory lock (transaction-scoped) held while creating the job store's table.
_TABLE_LOCK = zlib.crc32(b"dutybot:apscheduler_jobs")


def build_scheduler(app: App) -> AsyncIOScheduler:
    """The scheduler for this App (not started): DB job store, the App's time zone, explicit misfires.

    Installs the App for the job functions and wires `on_outbox` to an immediate dispatch.
    """
    quiet = logging.getLogger("apscheduler")
    if quiet.level == logging.NOTSET:  # every run is logged at INFO: every 5 s and per message
        quiet.setLevel(logging.WARNING)
    # Its own engine: the job store disposes its engine on shutdown.
    store = SQLAlchemyJobStore(engine=make_engine(app.settings.db_url), tablename=TABLE)
    _create_table(store)
    scheduler = AsyncIOScheduler(
        jobstores={
            "default": store,
            outbox.WAKE_JOBSTORE: MemoryJobStore(),
        },
        executors={"default": AsyncIOExecutor()},
        job_defaults=JOB_DEFAULTS,
        timezone=ZoneInfo(app.settings.timezone),
    )
    runtime.install(app, scheduler)
    app.services.on_outbox = outbox.wake
    return scheduler


def _create_table(store: SQLAlchemyJobStore) -> None:
    """Create the job store's table now, one process at a time: the store's own create-if-missing at
    start races when two processes start together on PostgreSQL (a duplicate type error)."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TABLE_LOCK})
        store.jobs_t.create(conn, checkfirst=True)


def start_jobs(scheduler: AsyncIOScheduler) -> None:
    """Register the standing jobs (idempotent: same ids, replaced). The first runs are right away,
    to catch up on whatever came due while the process was down."""
    now = datetime.now(scheduler.timezone)
    scheduler.add_job(ESCALATION_REF, "interval", seconds=ESCALATION_EVERY_SECONDS, id=ESCALATION_JOB_ID,
                      name="逐级上报", replace_existing=True, next_run_time=now)
    scheduler.add_job(outbox.REF, "interval", seconds=OUTBOX_EVERY_SECONDS, id=OUTBOX_JOB_ID,
                      name="发送消息", replace_existing=True, next_run_time=now)
    scheduler.add_job(SHIFTS_REF, "interval", seconds=DUTY_EVERY_SECONDS, id=SHIFTS_JOB_ID,
                      name="值班提醒", replace_existing=True, next_run_time=now)
    scheduler.add_job(DEADLINES_REF, "interval", seconds=DUTY_EVERY_SECONDS, id=DEADLINES_JOB_ID,
                      name="到期督办", replace_existing=True, next_run_time=now)
    scheduler.add_job(housekeeping.REF, "interval", seconds=HOUSEKEEPING_EVERY_SECONDS, id=HOUSEKEEPING_JOB_ID,
                      name="清理过期去重记录", replace_existing=True, next_run_time=now)
    reminders.register(scheduler)  # rule schedules from seeds/ + the job syncing "reminder:<id>" jobs


def stop(scheduler: AsyncIOScheduler) -> None:
    """Shut down (call inside the loop; the shutdown itself runs on the loop's next turn)."""
    app = runtime.app() if runtime.scheduler() is scheduler else None
    if scheduler.running:
        scheduler.shutdown(wait=False)
    if app is not None:
        app.services.on_outbox = lambda: None
        runtime.uninstall()


@contextlib.asynccontextmanager
async def running(
    app: App, *, ttl: timedelta = leader.TTL, every: timedelta = leader.RENEW_EVERY, holder: str | None = None
) -> AsyncIterator[leader.Elector]:
    """The scheduler of this process, elected (see the module text). On entry the first lease check
    has run, so the leader's scheduler is already resumed; on exit the lease is released, so another
    process takes over at its next check."""
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)

    def elected() -> None:
        start_jobs(scheduler)
        scheduler.resume()

    elector = leader.Elector(app.services.sessions, app.services.clock, on_elected=elected,
                             on_deposed=scheduler.pause, holder=holder, ttl=ttl, every=every)
    in_flight = _InFlight(scheduler)
    follower = _FollowerDispatch(asyncio.get_running_loop(), lambda: not elector.leading)
    app.services.on_outbox = lambda: outbox.wake() if elector.leading else follower.wake()
    tasks: list[asyncio.Task[None]] = []
    try:
        await elector.round()
        tasks = [asyncio.create_task(elector.run(), name="lease"),
                 asyncio.create_task(follower.run(), name="follower-outbox")]
        yield elector
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Let the runs under way finish (a shutdown would cancel them mid-transaction, with a
        # traceback in the log), then hand over.
        scheduler.pause()
        await in_flight.settle(STOP_WAIT_SECONDS)
        elector.release()
        stop(scheduler)
        await asyncio.sleep(0)  # let the shutdown run on the loop


class _InFlight:
    """Job runs submitted and not finished yet (every run ends in one executed/error/missed event;
    all are dispatched on the loop)."""

    def __init__(self, scheduler: AsyncIOScheduler):
        self.count = 0
        scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        self.count += len(event.scheduled_run_times)

    def _finished(self, _event: JobExecutionEvent) -> None:
        self.count = max(0, self.count - 1)

    async def settle(self, seconds: float) -> None:
        for _ in range(int(seconds / 0.02)):
            if self.count == 0:
                return
            await asyncio.sleep(0.02)
        log.warning("stopping with %s job run(s) still under way", self.count)


class _FollowerDispatch:
    """Outbox dispatch while this process does not lead: every OUTBOX_EVERY_SECONDS and on wake-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, active: Callable[[], bool]):
        self.loop = loop
        self.active = active
        self.event = asyncio.Event()

    def wake(self) -> None:
        """Safe from any thread (the core calls it from the thread that handled a message)."""
        self.loop.call_soon_threadsafe(self.event.set)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), OUTBOX_EVERY_SECONDS)
            self.event.clear()
            if not self.active():
                continue
            try:
                await outbox.dispatch()
            except Exception:  # a failing round must not end the loop; the rows are retried
                log.exception("outbox dispatch failed")
