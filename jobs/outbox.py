"""The outbox job: deliver what is due. One path for every delivery of a running process.

`dispatch` runs every few seconds as a safety net (retries, rows left by a crash or another process),
and right away when a transaction queued messages: `wake` (wired to `Services.on_outbox`, callable
from any thread) schedules a one-off run of the same function.
"""

from __future__ import annotations

import logging

from jobs import runtime

log = logging.getLogger(__name__)

REF = "jobs.outbox:dispatch"
WAKE_JOB_ID = "outbox-wake"
WAKE_JOB_NAME = "立即发送"
WAKE_JOBSTORE = "memory"


class _SkippedWakeUps(logging.Filter):
    """A wake-up skipped because two are already running is expected under load (the waiting one
    sends whatever was queued meanwhile), so APScheduler's warning about it is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        skipped = "maximum number of running" in str(record.msg)
        return not (skipped and record.args and str(record.args[0]).startswith(WAKE_JOB_NAME))


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedWakeUps())


async def dispatch() -> int:
    """Deliver every due outbox row ("jobs.outbox:dispatch"); returns how many were sent."""
    app = runtime.app()
    async with runtime.outbox_lock():
        return await app.dispatcher.drain()


def wake() -> None:
    """Dispatch now, not at the next interval. Safe from any thread; a no-op without a scheduler."""
    scheduler = runtime.scheduler()
    if scheduler is None or not scheduler.running:
        return
    # A date job with no run date runs at once. One pending wake-up is enough (replace_existing);
    # a second instance may wait behind a running one, so a message queued mid-run is not left behind.
    scheduler.add_job(REF, "date", id=WAKE_JOB_ID, name=WAKE_JOB_NAME, jobstore=WAKE_JOBSTORE,
                      replace_existing=True, max_instances=2)
