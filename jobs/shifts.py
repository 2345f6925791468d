"""The duty tick: shift reminders, check-in alerts, handover reminders and welfare checks (防睡岗).

Shift definitions and their settings: jobs.shift_config; the roster and who is told: jobs.roster.

The duty tick ("jobs.shifts:tick", every minute) does each due thing once, with the clock injected:

  what                         when (planned)                       to        marker
  pre-shift reminder           start − remind_before_minutes        guard     reminded_at
  迟到/缺岗 alert (no check-in)  start + checkin_grace_minutes        managers  absence_alerted_at
  handover reminder            end                                  guard     handover_reminded_at
  missing-handover alert       end + handover_grace_minutes         managers  handover_escalated_at
  welfare check (查岗)          start + k × welfare_every_minutes    guard     WelfareCheck row +
                               (k ≥ 1, before the end)                        Firing "welfare:<id>:<k>"
  unanswered welfare check     asked + welfare_answer_minutes       managers  WelfareCheck.escalated_at

A marker is the time the tick dealt with that thing: sent, or deliberately not sent (the handover was
already filed; the assignment was made after the thing's time; it came too late — see below). Every
decision not to send is logged, once.

"Managers" (`jobs.roster.managers_to_tell`): the people of the first staffed level of the escalation chain
(seeds/escalation.toml — the 班长 level, who handle 迟到/缺岗 on the spot); with nobody on the chain,
every active manager; with no manager, the admins. Console identities are never told.

A handover counts for a shift when the guard filed it after the middle of the shift (so a guard on
back-to-back shifts who files the day shift's handover at 20:05 does not thereby cover the night).

Missed work after downtime (the bot was down, the tick did not run):
- reminders to the guard (pre-shift, handover, welfare ask) are sent only within `REMIND_GRACE`
  (10 min) of their time — a "your shift starts in 15 minutes" hours late is wrong, so it is skipped
  and logged (a pre-shift reminder is also skipped once the shift has started);
- alerts to managers still go out late — the guard may really be missing — and say so ("系统延迟补发，
  本应 … 发出"), up to `ALERT_STALE` (12 h); older ones are skipped and logged;
- an assignment made after a thing's time (a roster entered late or imported for past days) never
  triggers it; an assignment made during its shift gives the guard the check-in grace from then.

Two processes: each assignment is worked on in its own transaction that first claims the row
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) and re-reads its markers; welfare
asks also insert their `Firing` key; every notification carries a dedupe key as the backstop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.core import texts
from bot.core.context import Ctx
from bot.core.messages import Button
from bot.storage.models import Firing, Handover, Person, ShiftAssignment, WelfareCheck
from jobs import runtime
from jobs.roster import managers_to_tell
from jobs.shift_config import PARAMS, Shift, ShiftConfig, load_config
from jobs.shift_days import clock_text, day_label, hours_of, local_time, minutes_between, shift_name

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# A reminder to the guard later than this after its time is skipped (and logged), not sent late.
REMIND_GRACE = timedelta(minutes=10)
# An alert to the managers goes out late (saying so) up to this long after its time; then skipped.
ALERT_STALE = timedelta(hours=12)
# The tick looks at assignments that started at most this long ago (a shift is at most 24 h, plus
# the handover grace and the alert window fit well inside).
LOOKBACK = timedelta(days=2)
BATCH = 2000

# The regulation every alert cites (the corpus text, 《值班人员管理规定》 of the seeds).
CITE_DUTY = "《值班人员管理规定》三、"
CITE_HANDOVER = "《值班人员管理规定》一、"


# ---------------------------------------------------------------------------------------------
# The duty tick


def tick(now: datetime | None = None) -> int:
    """Scheduler entry point ("jobs.shifts:tick"): do what is due in the running App."""
    return run_due(runtime.app(), now)


def run_due(app: App, now: datetime | None = None, limit: int = BATCH) -> int:
    """Everything due at `now`: returns how many things were done (messages sent or skips decided)."""
    now = now or app.services.clock()
    config = load_config(app.settings.seeds_dir)
    done = 0
    with app.services.sessions() as session:
        rows = session.scalars(
            select(ShiftAssignment)
            .join(Person, Person.id == ShiftAssignment.person_id)
            .where(Person.active.is_(True), Person.is_console.is_(False),
                   ShiftAssignment.starts_at >= now - LOOKBACK,
                   ShiftAssignment.starts_at <= now + timedelta(minutes=PARAMS["remind_before_minutes"][1]),
                   or_(ShiftAssignment.reminded_at.is_(None),
                       and_(ShiftAssignment.checked_in_at.is_(None),
                            ShiftAssignment.absence_alerted_at.is_(None)),
                       ShiftAssignment.handover_reminded_at.is_(None),
                       ShiftAssignment.handover_escalated_at.is_(None),
                       and_(ShiftAssignment.starts_at <= now, ShiftAssignment.ends_at > now)))
            .order_by(ShiftAssignment.starts_at, ShiftAssignment.id)
            .limit(limit)
        ).all()
        work = [(a.id, _plan(a, config.settings_for(a.shift), now)) for a in rows]
        welfare = [(a.id, slot) for a in rows
                   if (slot := _welfare_slot(a, config.settings_for(a.shift), now)) is not None]
        asked = set(session.scalars(select(Firing.key).where(
            Firing.key.in_([_welfare_key(aid, k) for aid, k in welfare])
        )).all()) if welfare else set()
        unanswered = session.scalars(
            select(WelfareCheck.id)
            .where(WelfareCheck.answered_at.is_(None), WelfareCheck.escalated_at.is_(None),
                   WelfareCheck.due_at <= now)
            .order_by(WelfareCheck.due_at, WelfareCheck.id).limit(limit)
        ).all()
    for assignment_id, plan in work:
        if plan:
            done += _guarded(_work_on, app, assignment_id, now, config)
    for assignment_id, k in welfare:
        if _welfare_key(assignment_id, k) not in asked:
            done += _guarded(_ask_welfare, app, assignment_id, now, config, k)
    for check_id in unanswered:
        done += _guarded(_escalate_welfare, app, check_id, now, config)
    if done:
        app.services.on_outbox()
    return done


def _guarded(step: Any, app: App, *args: Any) -> int:
    try:
        return int(step(app, *args))
    except Exception:  # one bad row must not stop the others; it is retried next tick
        log.exception("duty tick: %s%s failed", step.__name__, args[:1])
        return 0


def _plan(a: ShiftAssignment, shift: Shift, now: datetime) -> list[str]:
    """The things of this assignment whose time has come and that are not dealt with yet."""
    due = []
    if a.reminded_at is None and shift.remind_before_minutes and \
            now >= a.starts_at - timedelta(minutes=shift.remind_before_minutes):
        due.append("remind")
    if a.checked_in_at is None and a.absence_alerted_at is None and now >= _absence_due(a, shift):
        due.append("absence")
    if shift.handover and a.handover_reminded_at is None and now >= a.ends_at:
        due.append("handover_remind")
    if shift.handover and a.handover_escalated_at is None and \
            now >= a.ends_at + timedelta(minutes=shift.handover_grace_minutes):
        due.append("handover_alert")
    return due


def _absence_due(a: ShiftAssignment, shift: Shift) -> datetime:
    """Check-in grace from the start, or from when the assignment was made if that was later."""
    return max(a.starts_at, a.created_at) + timedelta(minutes=shift.checkin_grace_minutes)


def _claim(ctx: Ctx, model: Any, row_id: int) -> Any:
    """Lock one row for this transaction, or None when another process holds it."""
    claimed = ctx.session.scalar(select(model.id).where(model.id == row_id).with_for_update(skip_locked=True))
    return None if claimed is None else ctx.session.get(model, row_id)


def _work_on(app: App, assignment_id: int, now: datetime, config: ShiftConfig) -> int:
    with runtime.system_ctx(app, now) as ctx:
        a = _claim(ctx, ShiftAssignment, assignment_id)
        if a is None:
            return 0
        shift = config.settings_for(a.shift)
        done = 0
        for thing in _plan(a, shift, now):  # re-planned under the lock: another process may have done it
            done += _DO[thing](ctx, a, shift, config)
        return done


def _describe(a: ShiftAssignment) -> str:
    return f"assignment {a.id} ({a.person.name}, {a.shift} {a.day})"


def _late_note(ctx: Ctx, planned: datetime) -> str:
    if ctx.now - planned <= REMIND_GRACE:
        return ""
    return texts.DUTY_LATE_NOTE.format(when=local_time(planned, ctx.tz))


def _pre_reminder(ctx: Ctx, a: ShiftAssignment, shift: Shift, config: ShiftConfig) -> int:
    planned = a.starts_at - timedelta(minutes=shift.remind_before_minutes)
    a.reminded_at = ctx.now
    if ctx.now >= a.starts_at or ctx.now - max(planned, a.created_at) > REMIND_GRACE:
        if a.created_at > planned and a.created_at >= a.starts_at:
            log.info("%s: pre-shift reminder not sent: the assignment was made after the shift started",
                     _describe(a))
        else:
            log.warning("%s: pre-shift reminder skipped: it was due at %s, now %s is more than %s late "
                        "or past the start (the duty tick did not run: downtime?)", _describe(a),
                        planned.isoformat(), ctx.now.isoformat(), REMIND_GRACE)
        return 1
    tz = ctx.tz
    minutes = max(1, round((a.starts_at - ctx.now).total_seconds() / 60))
    text = texts.DUTY_REMIND.format(name=a.person.name, day=day_label(a.day, ctx.local_now.date()),
                                    shift=shift_name(config, a), hours=hours_of(a, tz), minutes=minutes,
                                    cite=texts.DUTY_CITE_LATE)
    ctx.notify(a.person, text, (Button(texts.DUTY_BTN_CHECKIN, "/checkin"),),
               dedupe_key=f"shift:{a.id}:remind")
    log.info("%s: pre-shift reminder sent", _describe(a))
    return 1


def _absence(ctx: Ctx, a: ShiftAssignment, shift: Shift, config: ShiftConfig) -> int:
    planned = _absence_due(a, shift)
    a.absence_alerted_at = ctx.now
    if a.created_at >= a.ends_at:
        log.info("%s: no check-in alert: the assignment was made after the shift ended", _describe(a))
        return 1
    if ctx.now - planned > ALERT_STALE:
        log.warning("%s: check-in alert skipped: it was due at %s, now %s is more than %s late",
                    _describe(a), planned.isoformat(), ctx.now.isoformat(), ALERT_STALE)
        return 1
    managers = managers_to_tell(ctx, exclude=[a.person_id])
    text = texts.DUTY_ABSENT.format(
        who=a.person.name, shift=shift_name(config, a), day=day_label(a.day, ctx.local_now.date()),
        hours=hours_of(a, ctx.tz), minutes=minutes_between(a.starts_at, ctx.now), cite=texts.DUTY_CITE_LATE,
    ) + _late_note(ctx, planned)
    for manager in managers:
        ctx.notify(manager, text, (Button(texts.DUTY_BTN_ROSTER, "/roster"),),
                   dedupe_key=f"shift:{a.id}:absent:{manager.id}")
    _log_told(a, "no check-in alert", managers)
    return 1


def _handover_filed(session: Session, a: ShiftAssignment, now: datetime) -> bool:
    """A handover by this person after the middle of the shift (see the module docstring)."""
    since = a.starts_at + (a.ends_at - a.starts_at) / 2
    return session.scalar(
        select(Handover.id).where(Handover.author_id == a.person_id, Handover.created_at >= since,
                                  Handover.created_at <= now).limit(1)
    ) is not None


def _handover_reminder(ctx: Ctx, a: ShiftAssignment, shift: Shift, config: ShiftConfig) -> int:
    planned = a.ends_at
    a.handover_reminded_at = ctx.now
    if a.created_at > planned:
        log.info("%s: no handover reminder: the assignment was made after the shift ended", _describe(a))
        return 1
    if _handover_filed(ctx.session, a, ctx.now):
        return 1
    if ctx.now - planned > REMIND_GRACE:
        log.warning("%s: handover reminder skipped: it was due at %s, now %s is more than %s late "
                    "(the duty tick did not run: downtime?)", _describe(a), planned.isoformat(),
                    ctx.now.isoformat(), REMIND_GRACE)
        return 1
    text = texts.DUTY_HANDOVER_REMIND.format(
        name=a.person.name, shift=shift_name(config, a), hours=hours_of(a, ctx.tz),
        minutes=shift.handover_grace_minutes, cite=texts.DUTY_CITE_HANDOVER)
    ctx.notify(a.person, text, (Button(texts.DUTY_BTN_HANDOVER, "/handover"),),
               dedupe_key=f"shift:{a.id}:handover")
    log.info("%s: handover reminder sent", _describe(a))
    return 1


def _handover_alert(ctx: Ctx, a: ShiftAssignment, shift: Shift, config: ShiftConfig) -> int:
    planned = a.ends_at + timedelta(minutes=shift.handover_grace_minutes)
    a.handover_escalated_at = ctx.now
    if a.created_at > planned:
        log.info("%s: no missing-handover alert: the assignment was made after the shift ended", _describe(a))
        return 1
    if _handover_filed(ctx.session, a, ctx.now):
        return 1
    if ctx.now - planned > ALERT_STALE:
        log.warning("%s: missing-handover alert skipped: it was due at %s, now %s is more than %s late",
                    _describe(a), planned.isoformat(), ctx.now.isoformat(), ALERT_STALE)
        return 1
    managers = managers_to_tell(ctx, exclude=[a.person_id])
    text = texts.DUTY_HANDOVER_MISSING.format(
        who=a.person.name, shift=shift_name(config, a), day=day_label(a.day, ctx.local_now.date()),
        hours=hours_of(a, ctx.tz), minutes=minutes_between(a.ends_at, ctx.now), cite=texts.DUTY_CITE_HANDOVER,
    ) + _late_note(ctx, planned)
    for manager in managers:
        ctx.notify(manager, text, dedupe_key=f"shift:{a.id}:no-handover:{manager.id}")
    # The guard hears it too: the handover can still be filed.
    ctx.notify(a.person, texts.DUTY_HANDOVER_STILL.format(shift=shift_name(config, a)),
               (Button(texts.DUTY_BTN_HANDOVER, "/handover"),), dedupe_key=f"shift:{a.id}:no-handover:self")
    _log_told(a, "missing-handover alert", managers)
    return 1


_DO = {
    "remind": _pre_reminder,
    "absence": _absence,
    "handover_remind": _handover_reminder,
    "handover_alert": _handover_alert,
}


def _log_told(a: ShiftAssignment, what: str, people: Sequence[Person]) -> None:
    if people:
        log.info("%s: %s sent to %s", _describe(a), what, ", ".join(str(p.id) for p in people))
    else:
        log.error("%s: %s: nobody to tell (no manager, no admin)", _describe(a), what)


# --- Welfare checks (防睡岗) -------------------------------------------------------------------


def _welfare_slot(a: ShiftAssignment, shift: Shift, now: datetime) -> int | None:
    """The number k of the latest welfare check due at `now` (start + k × interval), or None."""
    if not shift.welfare_every_minutes or not a.starts_at <= now < a.ends_at:
        return None
    every = timedelta(minutes=shift.welfare_every_minutes)
    k = int((now - a.starts_at) / every)
    if k < 1 or a.starts_at + k * every < a.created_at:
        return None
    return k


def _welfare_key(assignment_id: int, k: int) -> str:
    return f"welfare:{assignment_id}:{k}"


def _ask_welfare(app: App, assignment_id: int, now: datetime, config: ShiftConfig, k: int) -> int:
    with runtime.system_ctx(app, now) as ctx:
        a = _claim(ctx, ShiftAssignment, assignment_id)
        if a is None:
            return 0
        key = _welfare_key(a.id, k)
        if ctx.session.get(Firing, key) is not None:
            return 0
        ctx.session.add(Firing(key=key, at=now))
        ctx.session.flush()
        shift = config.settings_for(a.shift)
        slot = a.starts_at + k * timedelta(minutes=shift.welfare_every_minutes)
        if now - slot > REMIND_GRACE:
            log.warning("%s: welfare check %s skipped: it was due at %s, now %s is more than %s late "
                        "(the duty tick did not run: downtime?)", _describe(a), k, slot.isoformat(),
                        now.isoformat(), REMIND_GRACE)
            return 1
        due = now + timedelta(minutes=shift.welfare_answer_minutes)
        ctx.session.add(WelfareCheck(assignment_id=a.id, person_id=a.person_id, asked_at=now, due_at=due))
        text = texts.DUTY_WELFARE_ASK.format(name=a.person.name, minutes=shift.welfare_answer_minutes,
                                             until=clock_text(due, ctx.tz))
        ctx.notify(a.person, text, (Button(texts.DUTY_BTN_OK, "/ok"),), dedupe_key=key)
        log.info("%s: welfare check %s asked, answer due %s", _describe(a), k, due.isoformat())
        return 1


def _escalate_welfare(app: App, check_id: int, now: datetime, config: ShiftConfig) -> int:
    with runtime.system_ctx(app, now) as ctx:
        check = _claim(ctx, WelfareCheck, check_id)
        if check is None or check.answered_at is not None or check.escalated_at is not None:
            return 0
        check.escalated_at = now
        a = ctx.session.get(ShiftAssignment, check.assignment_id)
        assert a is not None
        if now - check.due_at > ALERT_STALE:
            log.warning("%s: unanswered welfare check %s not escalated: it was due at %s, now %s is "
                        "more than %s late", _describe(a), check.id, check.due_at.isoformat(),
                        now.isoformat(), ALERT_STALE)
            return 1
        managers = managers_to_tell(ctx, exclude=[a.person_id])
        text = texts.DUTY_WELFARE_MISSED.format(
            who=a.person.name, shift=shift_name(config, a), hours=hours_of(a, ctx.tz),
            asked=clock_text(check.asked_at, ctx.tz), minutes=minutes_between(check.asked_at, check.due_at),
            cite=texts.DUTY_CITE_LATE,
        ) + _late_note(ctx, check.due_at)
        for manager in managers:
            ctx.notify(manager, text, dedupe_key=f"welfare-missed:{check.id}:{manager.id}")
        _log_told(a, f"unanswered welfare check {check.id}", managers)
        return 1
