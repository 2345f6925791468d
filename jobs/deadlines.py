"""Deadlines: complaints and incidents with a due time (`Record.due_at`) are chased.

The due time itself is computed when the record is filed, in Chinese working days
(jobs.workdays.complaint_due_at: holidays, 调休, years beyond the calendar package). This job
("jobs.deadlines:tick", every minute) only acts on it, with the clock injected:

- before: `REMIND_BEFORE` (2 hours) before the due time — 15:30 for a complaint due at 17:30 — the
  assignee is reminded, or, while nobody is assigned, the managers (`jobs.roster.managers_to_tell`:
  the first staffed level of the escalation chain). Not sent when the record was filed inside that
  window (the filer has just been told the due time), nor once the due time has passed (the overdue
  escalation takes over; a reminder sent after the fact would be wrong);
- overdue: at the due time, the managers and the assignee are told once; then again at most once a
  day (same time of day), on working days only, while the record is still open. After downtime only
  the current day's round is sent, never the missed ones.

"Open" is `records.OPEN_STATUSES` (登记、已确认、受理、处理中): a resolved record has met its deadline.
Each round is claimed once with a `Firing` row ("deadline:<id>:before", "deadline:<id>:overdue:<n>",
n = whole days past due) in the transaction that queues the notifications and writes the audit trail
(`due_reminded` / `overdue_reminded` events), under a row lock (`FOR UPDATE SKIP LOCKED`; SQLite
serialises writers): two processes never send a round twice. No extra columns are needed.

The lead time is a module constant rather than a seed setting: complaint due times are all at the
same `end_of_day` (seeds/complaints.toml), and 2 hours before it is inside the working day.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.core import texts
from bot.core.context import Ctx
from bot.core.lifecycle import kind_name, local_time, short, status_name
from bot.core.messages import Button
from bot.core.records import OPEN_STATUSES, log_event
from bot.storage.models import Firing, Person, Record
from jobs import runtime
from jobs.roster import managers_to_tell
from jobs.workdays import calendar_for

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

REMIND_BEFORE = timedelta(hours=2)
OVERDUE_EVERY = timedelta(days=1)
BATCH = 500
ACTION_DUE = "due_reminded"
ACTION_OVERDUE = "overdue_reminded"


def tick(now: datetime | None = None) -> int:
    """Scheduler entry point ("jobs.deadlines:tick")."""
    return run_due(runtime.app(), now)


def round_key(record: Record, now: datetime, app: App) -> str | None:
    """The round due for `record` at `now` (a Firing key), or None when nothing is due."""
    if record.due_at is None or record.status not in OPEN_STATUSES:
        return None
    if now < record.due_at:
        if now >= record.due_at - REMIND_BEFORE and record.created_at < record.due_at - REMIND_BEFORE:
            return f"deadline:{record.id}:before"
        return None
    n = int((now - record.due_at) / OVERDUE_EVERY)
    if n >= 1:
        today = now.astimezone(app.services.tz).date()
        if not calendar_for(app.settings.seeds_dir).is_workday(today):
            return None  # the daily repeat waits for the next working day
    return f"deadline:{record.id}:overdue:{n}"


def run_due(app: App, now: datetime | None = None, limit: int = BATCH) -> int:
    """Send every round due at `now`; returns how many were sent."""
    now = now or app.services.clock()
    with app.services.sessions() as session:
        records = session.scalars(
            select(Record)
            .where(Record.due_at.is_not(None), Record.due_at <= now + REMIND_BEFORE,
                   Record.status.in_(OPEN_STATUSES))
            .order_by(Record.due_at, Record.id)
            .limit(limit)
        ).all()
        due = [(r.id, key) for r in records if (key := round_key(r, now, app)) is not None]
        keys = [k for _, k in due]
        fired = set(session.scalars(select(Firing.key).where(Firing.key.in_(keys)))) if keys else set()
    done = 0
    for record_id, key in due:
        if key in fired:
            continue
        try:
            done += _fire(app, record_id, key, now)
        except Exception:  # one bad record must not stop the others; it is retried next tick
            log.exception("deadline round %s failed", key)
    if done:
        app.services.on_outbox()
    return done


def _fire(app: App, record_id: int, key: str, now: datetime) -> int:
    with runtime.system_ctx(app, now) as ctx:
        claimed = ctx.session.scalar(
            select(Record.id).where(Record.id == record_id).with_for_update(skip_locked=True))
        if claimed is None:  # another process holds the record: next tick
            return 0
        record = ctx.session.get(Record, record_id)
        assert record is not None
        if round_key(record, now, app) != key or ctx.session.get(Firing, key) is not None:
            return 0
        ctx.session.add(Firing(key=key, at=now))
        ctx.session.flush()
        if key.endswith(":before"):
            people = _before_targets(ctx, record)
            text = _text(ctx, record, texts.DL_BEFORE)
            action, note = ACTION_DUE, texts.DL_NOTE_BEFORE
        else:
            people = _overdue_targets(ctx, record)
            text = _text(ctx, record, texts.DL_OVERDUE)
            action, note = ACTION_OVERDUE, texts.DL_NOTE_OVERDUE
        for person in people:
            ctx.notify(person, text, (Button(texts.DL_BTN_SHOW, f"/show {record.number}"),),
                       dedupe_key=f"{key}:{person.id}")
        names = "、".join(p.name for p in people) or "-"
        log_event(ctx.session, record, None, action, note.format(names=names), now)
        if not people:
            log.error("deadline round %s for %s: nobody to tell", key, record.number)
        else:
            log.info("deadline round %s for %s sent to %s", key, record.number, names)
        return 1


def _assignee(record: Record) -> Person | None:
    person = record.assignee
    if person is None or not person.active or person.is_console:
        return None
    return person


def _before_targets(ctx: Ctx, record: Record) -> list[Person]:
    assignee = _assignee(record)
    return [assignee] if assignee is not None else managers_to_tell(ctx)


def _overdue_targets(ctx: Ctx, record: Record) -> list[Person]:
    people = managers_to_tell(ctx)
    assignee = _assignee(record)
    if assignee is not None and all(p.id != assignee.id for p in people):
        people.append(assignee)
    return people


def _left(until: timedelta) -> str:
    minutes = max(1, int(until.total_seconds() // 60))
    h, m = divmod(minutes, 60)
    if not h:
        return texts.DL_LEFT_MINUTES.format(m=m)
    return texts.DL_LEFT_HOURS.format(h=h) if not m else texts.DL_LEFT_HOURS_MINUTES.format(h=h, m=m)


def _text(ctx: Ctx, record: Record, template: str) -> str:
    assert record.due_at is not None
    late_days = int((ctx.now - record.due_at) / OVERDUE_EVERY) if ctx.now >= record.due_at else 0
    assignee = record.assignee.name if record.assignee is not None else texts.DL_UNASSIGNED
    return template.format(
        kind=kind_name(record), number=record.number, due=local_time(record.due_at, ctx.tz, ctx.now),
        left=_left(record.due_at - ctx.now),
        days=texts.DL_OVERDUE_DAYS.format(n=late_days) if late_days else "",
        status=status_name(record), assignee=assignee, what=short(record.content),
    )
