"""The one scheduler: APScheduler 3.x on the asyncio loop, jobs kept in the project database.

Jobs are textual references ("jobs.escalation:tick") with simple arguments, explicit ids and
`replace_existing=True`, so a restart replaces them instead of adding copies. The job store is the
table `apscheduler_jobs` (outside Alembic). Misfires: an explicit grace time and `coalesce=True`, so
a backlog after a pause fires once.

Run exactly one scheduler per deployment (APScheduler does not support two schedulers on one job
store). The jobs are safe to run twice anyway: each claims its rows in the database.

Extending: add a `register_*` step to `start_jobs` (e.g. shift reminders); leader election, when
needed, goes in `build_scheduler`/`start_jobs` without changing the job functions.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.storage.db import make_engine
from jobs import outbox, runtime

if TYPE_CHECKING:
    from bot.app import App

TABLE = "apscheduler_jobs"
# A job may run this late (e.g. the loop was busy) and still run; a later one is skipped and logged.
# Interval jobs here come round again in seconds; reminders may set their own per job.
MISFIRE_GRACE_SECONDS = 600
ESCALATION_JOB_ID = "escalation-tick"
ESCALATION_REF = "jobs.escalation:tick"
ESCALATION_EVERY_SECONDS = 30
OUTBOX_JOB_ID = "outbox-dispatch"
OUTBOX_EVERY_SECONDS = 5


def build_scheduler(app: App) -> AsyncIOScheduler:
    """The scheduler for this App (not started): DB job store, the App's time zone, explicit misfires.

    Installs the App for the job functions and wires `on_outbox` to an immediate dispatch.
    """
    quiet = logging.getLogger("apscheduler")
    if quiet.level == logging.NOTSET:  # every run is logged at INFO: every 5 s and per message
        quiet.setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(
        jobstores={
            # Its own engine: the job store disposes its engine on shutdown.
            "default": SQLAlchemyJobStore(engine=make_engine(app.settings.db_url), tablename=TABLE),
            outbox.WAKE_JOBSTORE: MemoryJobStore(),
        },
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1},
        timezone=ZoneInfo(app.settings.timezone),
    )
    runtime.install(app, scheduler)
    app.services.on_outbox = outbox.wake
    return scheduler


def start_jobs(scheduler: AsyncIOScheduler) -> None:
    """Register the standing jobs (idempotent: same ids, replaced). The first runs are right away,
    to catch up on whatever came due while the process was down."""
    now = datetime.now(scheduler.timezone)
    scheduler.add_job(ESCALATION_REF, "interval", seconds=ESCALATION_EVERY_SECONDS, id=ESCALATION_JOB_ID,
                      name="逐级上报", replace_existing=True, next_run_time=now)
    scheduler.add_job(outbox.REF, "interval", seconds=OUTBOX_EVERY_SECONDS, id=OUTBOX_JOB_ID,
                      name="发送消息", replace_existing=True, next_run_time=now)


def stop(scheduler: AsyncIOScheduler) -> None:
    """Shut down (call inside the loop; the shutdown itself runs on the loop's next turn)."""
    app = runtime.app() if runtime.scheduler() is scheduler else None
    if scheduler.running:
        scheduler.shutdown(wait=False)
    if app is not None:
        app.services.on_outbox = lambda: None
        runtime.uninstall()
