"""Scheduled reminders: rule schedules from seeds/reminders.toml and ad-hoc ones set in chat.

The `Reminder` table is the source of truth; the scheduler's jobs follow it.

- Rule schedules (`kind="rule"`): `[[reminder]]` entries of seeds/reminders.toml, each with a stable
  `key`, a `when` written like a chat phrase ("每天 20:45", "每月20号 09:00", "工作日 17:30"; only
  repeating ones — bot.core.timephrase reads them), `who`, `text` and `rule` (the clause it enforces,
  e.g. 《更夫守则》十、, which must exist in the corpus). `load_rules` upserts them by `rule_key` and
  deactivates the ones no longer in the file; it runs when this process becomes the scheduler
  (`register`) and by `dutybot reminders reload`.
- Ad-hoc reminders (`kind="adhoc"`): `/remind …` (bot.core.handlers.reminders). A one-off reminder is
  deactivated when it fires (or when its time was missed); `/unremind N` deactivates one.

Jobs: one APScheduler job per active reminder, id "reminder:<id>", "jobs.reminders:fire" with args
(reminder_id,), in the database job store, with `misfire_grace_time` = the grace window (default
`GRACE_SECONDS`) and `coalesce=True`. So after downtime a reminder missed by less than the grace
window fires once; an older one is skipped, logged by APScheduler and here (`_on_missed`), and a
missed one-off reminder is deactivated.

How a running bot picks up changes: the job "reminders-sync" ("jobs.reminders:sync", every
`SYNC_EVERY_SECONDS`, first run at once; kept in the memory job store since it holds no state) makes
the jobs match the active rows — adds missing jobs, replaces jobs whose trigger changed, removes jobs
of inactive or deleted rows. `dutybot reminders reload` only writes the table; the running bot's
next sync applies it (within 30 s). A chat `/remind` or `/unremind` also adds/removes its job right
after its transaction commits (in any process — a follower's paused scheduler writes to the shared
job store), so an ad-hoc reminder does not wait for the sync.

Firing (`fire` → `fire_at`): one transaction per firing, in which the claim
`Firing(key="reminder:<id>@<scheduled time, UTC ISO>")` is inserted (ON CONFLICT DO NOTHING): if it
was there already, this run is a duplicate (a second scheduler, a re-added job) and sends nothing.
The scheduled time is the trigger's latest firing at or before now, so a late run claims the same
key as a punctual one. Notifications also carry per-person dedupe keys.

Working days: a `工作日` reminder fires daily and `fire_at` skips a day that is not a Chinese
working day (jobs.workdays: chinese-calendar + seeds/holidays.txt), so holidays are skipped and
make-up working Saturdays (调休) are not.

Elsewhere: jobs.reminder_seeds reads and checks seeds/reminders.toml (rule schedules, groups);
jobs.reminder_audience says who a reminder goes to; jobs.reminder_list computes next runs and runs
`dutybot reminders list|reload`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.core import texts, timephrase
from bot.core.context import Ctx
from bot.core.timephrase import Once, Repeating, Trigger
from bot.outbox import ROBOT_CHANNEL, robot_chat
from bot.storage.models import Firing, Person, Reminder
from jobs import runtime
from jobs.reminder_audience import describe_audience, recipients
from jobs.reminder_seeds import FILE_NAME, Group, groups_of, read_seeds
from retrieval.lexicon import SeedError

if TYPE_CHECKING:
    from apscheduler.events import JobExecutionEvent
    from apscheduler.schedulers.base import BaseScheduler

    from bot.app import App

log = logging.getLogger(__name__)

FIRE_REF = "jobs.reminders:fire"
SYNC_REF = "jobs.reminders:sync"
MISSED_REF = "jobs.reminders:missed"
JOB_PREFIX = "reminder:"
SYNC_JOB_ID = "reminders-sync"
SYNC_EVERY_SECONDS = 30
# A reminder missed while the bot was down for less than this fires once after the restart; an
# older one is skipped (a 20:45 "close the gate" reminder at midnight helps nobody).
GRACE_SECONDS = 30 * 60


def job_id(reminder_id: int) -> str:
    return f"{JOB_PREFIX}{reminder_id}"


def firing_key(reminder_id: int, scheduled: datetime) -> str:
    return f"{JOB_PREFIX}{reminder_id}@{scheduled.astimezone(UTC).replace(microsecond=0).isoformat()}"


# ---------------------------------------------------------------------------------------------
# Loading the rule schedules into the table


@dataclass(frozen=True)
class LoadResult:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deactivated: tuple[str, ...] = ()
    unchanged: int = 0


def load_rules(sessions: sessionmaker[Session], seeds_dir: Path, tz: ZoneInfo, now: datetime) -> LoadResult:
    """Upsert the rule schedules of the seeds file by `rule_key` and deactivate the rule reminders no
    longer in it. Raises SeedError (nothing changed) when the file has problems."""
    seeds, problems = read_seeds(seeds_dir, tz, now)
    if seeds is None:
        raise SeedError(problems)
    added: list[str] = []
    updated: list[str] = []
    deactivated: list[str] = []
    unchanged = 0
    with sessions.begin() as session:
        existing = {r.rule_key: r for r in session.scalars(select(Reminder).where(Reminder.kind == "rule"))}
        for spec in seeds.rules:
            values = {"audience": dict(spec.audience), "text": spec.text, "citation": spec.citation,
                      "schedule": spec.when, "trigger": timephrase.to_dict(spec.trigger), "active": spec.enabled}
            row = existing.pop(spec.key, None)
            if row is None:
                session.add(Reminder(kind="rule", rule_key=spec.key, created_at=now, **values))
                added.append(spec.key)
                continue
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(row, k, v)
                (deactivated if "active" in changed and not spec.enabled else updated).append(spec.key)
            else:
                unchanged += 1
        for key, row in existing.items():
            if row.active:
                row.active = False
                deactivated.append(str(key))
    return LoadResult(tuple(added), tuple(updated), tuple(deactivated), unchanged)


def workday_test(seeds_dir: Path) -> Any:
    from jobs.workdays import calendar_for

    return calendar_for(seeds_dir).is_workday


# ---------------------------------------------------------------------------------------------
# Firing


def fire(reminder_id: int) -> bool:
    """Scheduler entry point ("jobs.reminders:fire", args (reminder_id,)): fire it in the running App."""
    app = runtime.app()
    return fire_at(app, reminder_id, app.services.clock())


def claim(session: Session, key: str, now: datetime) -> bool:
    """Insert the firing claim `key` in the session's transaction; False if it was taken already.

    INSERT … ON CONFLICT DO NOTHING RETURNING: a row comes back only when this insert made it (the
    rowcount is no guide: psycopg reports -1 for it). On PostgreSQL a concurrent claimer waits for the
    first one's transaction and then inserts nothing; SQLite serialises writers."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Firing).values(key=key, at=now).on_conflict_do_nothing(index_elements=["key"])
    return session.execute(stmt.returning(Firing.key)).scalar() is not None


def fire_at(app: App, reminder_id: int, now: datetime) -> bool:
    """Send the reminder's firing that `now` stands for, once. Returns whether it was sent."""
    tz = app.services.tz
    seeds_dir = app.settings.seeds_dir
    try:
        with runtime.system_ctx(app, now) as ctx:
            reminder = ctx.session.get(Reminder, reminder_id)
            if reminder is None or not reminder.active:
                log.info("reminder %s is gone or inactive; not fired", reminder_id)
                return False
            try:
                trigger = timephrase.from_dict(reminder.trigger)
            except (ValueError, KeyError, TypeError):
                log.error("reminder %s has an unreadable trigger %r; not fired", reminder_id, reminder.trigger)
                return False
            scheduled = timephrase.scheduled_time(trigger, now, tz)
            if scheduled is None:
                log.warning("reminder %s fired at %s with no firing due; nothing sent", reminder_id, now.isoformat())
                return False
            if isinstance(trigger, Once):
                reminder.active = False  # a one-off reminder is done, whoever sends it
            if isinstance(trigger, Repeating) and trigger.workdays \
                    and not workday_test(seeds_dir)(scheduled.astimezone(tz).date()):
                log.info("reminder %s: %s is not a working day; skipped", reminder_id,
                         scheduled.astimezone(tz).date().isoformat())
                return False
            key = firing_key(reminder_id, scheduled)
            if not claim(ctx.session, key, now):
                log.warning("reminder firing %s was claimed already (another scheduler or a re-run); "
                            "not sent again", key)
                return False
            groups = groups_of(seeds_dir)
            people = recipients(ctx.session, reminder.audience or {}, scheduled, groups)
            creator = ctx.session.get(Person, reminder.created_by) if reminder.created_by else None
            for person in people:
                ctx.notify(person, _message(reminder, creator, person), dedupe_key=f"{key}:{person.id}")
            robots = _post_to_robots(app, ctx, reminder, creator, key)
            if not people and not robots:
                _tell_admins_nobody(ctx, reminder, key, groups)
            log.info("reminder %s fired for %s to %s person(s) and %s group robot(s)", reminder_id,
                     scheduled.isoformat(), len(people), len(robots))
    except IntegrityError:  # the claim raced another process's on a database without ON CONFLICT
        log.warning("reminder %s: the firing was claimed by another process; not sent", reminder_id)
        return False
    app.services.on_outbox()
    return True


def _post_to_robots(app: App, ctx: Ctx, reminder: Reminder, creator: Person | None, key: str) -> list[str]:
    """One message per WeCom group robot in the audience; none when WeCom is not running here."""
    value = (reminder.audience or {}).get("robot")
    names = [n for n in (value if isinstance(value, list) else [value]) if isinstance(n, str) and n]
    if names and ROBOT_CHANNEL not in app.services.active_channels:
        log.warning("reminder %s names group robot(s) but WeCom is not running; not posted", reminder.id)
        return []
    for name in names:
        ctx.post(ROBOT_CHANNEL, robot_chat(name), _message(reminder, creator, None),
                 dedupe_key=f"{key}:robot:{name}")
    return names


def _message(reminder: Reminder, creator: Person | None, person: Person | None) -> str:
    lines = [texts.RM_FIRE.format(text=reminder.text)]
    if reminder.citation:
        lines.append(texts.RM_FIRE_RULE.format(citation=reminder.citation))
    if creator is not None and (person is None or creator.id != person.id):
        lines.append(texts.RM_FIRE_BY.format(who=creator.name))
    return "\n".join(lines)


def _tell_admins_nobody(ctx: Ctx, reminder: Reminder, key: str, groups: Mapping[str, Group]) -> None:
    from bot.core.escalation import admins

    to = describe_audience(ctx.session, reminder.audience or {}, groups)
    people = admins(ctx.session)
    log.warning("reminder %s (%s) has nobody to tell; %s admin(s) told", reminder.id, to, len(people))
    for admin in people:
        ctx.notify(admin, texts.RM_FIRE_NOBODY.format(to=to, text=reminder.text),
                   dedupe_key=f"{key}:nobody:{admin.id}")


# ---------------------------------------------------------------------------------------------
# Jobs: register, sync, after-commit scheduling, misses


_listening: weakref.WeakSet[Any] = weakref.WeakSet()


def register(scheduler: BaseScheduler, *, grace_seconds: int = GRACE_SECONDS) -> None:
    """Load the rule schedules and add the sync job (first run at once) and the miss listener.
    Called by jobs.scheduler.start_jobs whenever this process becomes the scheduler; idempotent."""
    from apscheduler.events import EVENT_JOB_MISSED

    from jobs import outbox

    app = runtime.app()
    try:
        result = load_rules(app.services.sessions, app.settings.seeds_dir, app.services.tz, app.services.clock())
        log.info("rule reminders loaded: %s added, %s updated, %s deactivated, %s unchanged",
                 len(result.added), len(result.updated), len(result.deactivated), result.unchanged)
    except SeedError as err:
        log.error("seeds/%s has problems; rule reminders left as they were: %s", FILE_NAME,
                  "; ".join(f"{p.line}: {p.message}" for p in err.problems))
    except IntegrityError:  # another process loaded them at the same moment
        log.info("rule reminders were being loaded by another process")
    except Exception:  # never keep the bot from starting over reminders
        log.exception("loading the rule reminders failed")
    scheduler.add_job(SYNC_REF, "interval", seconds=SYNC_EVERY_SECONDS, id=SYNC_JOB_ID, name="同步定时提醒",
                      kwargs={"grace_seconds": grace_seconds}, jobstore=outbox.WAKE_JOBSTORE,
                      replace_existing=True, next_run_time=datetime.now(scheduler.timezone))
    if scheduler not in _listening:
        _listening.add(scheduler)
        scheduler.add_listener(lambda ev: _on_missed(scheduler, ev), EVENT_JOB_MISSED)


def sync(grace_seconds: int = GRACE_SECONDS) -> int:
    """Scheduler entry point ("jobs.reminders:sync"): make the jobs match the active reminders."""
    scheduler = runtime.scheduler()
    if scheduler is None:
        raise runtime.NotRunning("no scheduler installed")
    return sync_jobs(runtime.app(), scheduler, grace_seconds=grace_seconds)


def sync_jobs(app: App, scheduler: BaseScheduler, *, grace_seconds: int = GRACE_SECONDS,
              now: datetime | None = None) -> int:
    """Add, replace and remove "reminder:<id>" jobs so they match the active rows; returns how many
    jobs changed. A job whose trigger is unchanged is left alone (its pending run time, perhaps a
    missed one to be run late, is kept). A one-off reminder without a job whose time is more than the
    grace window ago is deactivated (it was missed)."""
    now = now or app.services.clock()
    tz = app.services.tz
    with app.services.sessions() as session:
        rows = session.execute(select(Reminder.id, Reminder.trigger).where(Reminder.active.is_(True))).all()
    jobs = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    changed = 0
    missed: list[int] = []
    for reminder_id, trigger_data in rows:
        try:
            trigger = timephrase.from_dict(trigger_data)
        except (ValueError, KeyError, TypeError):
            log.error("reminder %s has an unreadable trigger %r; no job", reminder_id, trigger_data)
            continue
        wanted = timephrase.aps_trigger(trigger, tz)
        job = jobs.pop(job_id(reminder_id), None)
        if job is not None and repr(job.trigger) == repr(wanted):
            if job.misfire_grace_time != grace_seconds:
                scheduler.modify_job(job.id, misfire_grace_time=grace_seconds)
            continue
        if job is None and isinstance(trigger, Once) and trigger.at < now - timedelta(seconds=grace_seconds):
            missed.append(reminder_id)
            continue
        _add_job(scheduler, reminder_id, wanted, grace_seconds)
        changed += 1
    for stale in jobs:
        _remove_job(scheduler, stale)
        changed += 1
    if missed:
        _deactivate_missed(app, missed, now)
    if changed:
        log.info("reminder jobs synced: %s changed", changed)
    return changed


def _add_job(scheduler: BaseScheduler, reminder_id: int, trigger: Any, grace_seconds: int) -> None:
    scheduler.add_job(FIRE_REF, trigger=trigger, args=(reminder_id,), id=job_id(reminder_id),
                      name=f"提醒 #{reminder_id}", replace_existing=True, misfire_grace_time=grace_seconds,
                      coalesce=True, max_instances=1)


def _remove_job(scheduler: BaseScheduler, jid: str) -> None:
    from apscheduler.jobstores.base import JobLookupError

    try:
        scheduler.remove_job(jid)
    except JobLookupError:
        pass


def _deactivate_missed(app: App, reminder_ids: Sequence[int], now: datetime) -> None:
    with app.services.sessions.begin() as session:
        for reminder in session.scalars(select(Reminder).where(Reminder.id.in_(reminder_ids),
                                                               Reminder.active.is_(True))):
            log.warning("reminder %s (%r) was due at %s and missed by more than the grace window; "
                        "skipped, not sent", reminder.id, reminder.text[:40],
                        reminder.trigger.get("run_at"))
            reminder.active = False


def schedule_after_commit(session: Session, reminder_id: int, trigger: Trigger, tz: ZoneInfo) -> None:
    """Add the reminder's job once the session's transaction commits (no-op without a scheduler: the
    leader's sync adds it)."""
    scheduler = runtime.scheduler()
    if scheduler is None:
        return

    def added(_session: Session) -> None:
        try:
            _add_job(scheduler, reminder_id, timephrase.aps_trigger(trigger, tz), GRACE_SECONDS)
        except Exception:
            log.exception("adding the job of reminder %s failed; the sync will add it", reminder_id)

    event.listen(session, "after_commit", added, once=True)


def unschedule_after_commit(session: Session, reminder_id: int) -> None:
    scheduler = runtime.scheduler()
    if scheduler is None:
        return

    def removed(_session: Session) -> None:
        try:
            _remove_job(scheduler, job_id(reminder_id))
        except Exception:
            log.exception("removing the job of reminder %s failed; the sync will remove it", reminder_id)

    event.listen(session, "after_commit", removed, once=True)


def _on_missed(scheduler: BaseScheduler, ev: JobExecutionEvent) -> None:
    """A reminder job ran later than its grace window: APScheduler skipped it; say so and deactivate
    a missed one-off reminder (in a job, off the event loop)."""
    if not ev.job_id.startswith(JOB_PREFIX):
        return
    from jobs import outbox

    late = datetime.now(UTC) - ev.scheduled_run_time
    log.warning("reminder job %s: run time %s missed by %s, more than its grace window; skipped, not sent",
                ev.job_id, ev.scheduled_run_time.isoformat(), late)
    try:
        scheduler.add_job(MISSED_REF, "date", args=(int(ev.job_id.removeprefix(JOB_PREFIX)),
                                                    ev.scheduled_run_time.astimezone(UTC).isoformat()),
                          id=f"reminder-missed:{ev.job_id}", jobstore=outbox.WAKE_JOBSTORE, replace_existing=True)
    except Exception:
        log.exception("could not schedule the clean-up of missed %s; the sync will do it", ev.job_id)


def missed(reminder_id: int, run_time: str) -> None:
    """Scheduler entry point ("jobs.reminders:missed"): a one-off reminder whose time was missed is
    deactivated (a repeating one simply waits for its next time)."""
    app = runtime.app()
    at = datetime.fromisoformat(run_time)
    with app.services.sessions.begin() as session:
        reminder = session.get(Reminder, reminder_id)
        if reminder is None or not reminder.active:
            return
        try:
            trigger = timephrase.from_dict(reminder.trigger)
        except (ValueError, KeyError, TypeError):
            return
        if isinstance(trigger, Once) and abs((trigger.at - at).total_seconds()) < 1:
            reminder.active = False
            log.warning("one-off reminder %s (%r) due at %s was missed; deactivated", reminder_id,
                        reminder.text[:40], run_time)
