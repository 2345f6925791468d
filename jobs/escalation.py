"""The escalation job: find records whose next escalation step is due and take that step.

Who is told and what they read is bot.core.escalation; this module only finds due rows, claims each
one in its own transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), and
calls the core. Two processes ticking at once cannot both take the same step: the second one either
skips the locked row or finds it no longer due; the notifications' dedupe keys are the backstop.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.core import escalation
from bot.storage.models import Record
from jobs import runtime

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BATCH = 200


def tick(now: datetime | None = None) -> int:
    """Scheduler entry point ("jobs.escalation:tick"): escalate what is due in the running App."""
    return run_due(runtime.app(), now)


def run_due(app: App, now: datetime | None = None, limit: int = BATCH) -> int:
    """Take every due step (at most `limit`); returns how many records were escalated or reminded."""
    now = now or app.services.clock()
    with app.services.sessions() as session:
        due = session.scalars(
            select(Record.id)
            .where(Record.next_escalation_at.is_not(None), Record.next_escalation_at <= now)
            .order_by(Record.next_escalation_at, Record.id)
            .limit(limit)
        ).all()
    done = 0
    for record_id in due:
        try:
            done += _step(app, record_id, now)
        except Exception:  # one bad record must not stop the others; it is retried next tick
            log.exception("escalating record %s failed", record_id)
    if done:
        app.services.on_outbox()
    return done


def _step(app: App, record_id: int, now: datetime) -> int:
    with runtime.system_ctx(app, now) as ctx:
        claimed = ctx.session.scalar(
            select(Record.id)
            .where(Record.id == record_id, Record.next_escalation_at <= now)
            .with_for_update(skip_locked=True)
        )
        if claimed is None:  # another process holds it, or already took this step
            return 0
        record = ctx.session.get(Record, record_id)
        assert record is not None
        if not escalation.is_pending(record):
            record.next_escalation_at = None
            return 0
        escalation.advance(ctx, record)
        log.info("record %s escalation step: level %s, next at %s", record.number, record.escalated_level,
                 record.next_escalation_at)
        return 1
