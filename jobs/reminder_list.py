"""Next runs of the reminders, the list of them, and `dutybot reminders list|reload`."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import texts, timephrase
from bot.core.timephrase import Once
from bot.storage.models import Person, Reminder
from jobs.reminder_audience import describe_audience
from jobs.reminder_seeds import FILE_NAME, groups_of
from jobs.reminders import SYNC_EVERY_SECONDS, LoadResult, load_rules, workday_test

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)


def upcoming(reminder: Reminder, now: datetime, tz: ZoneInfo, is_workday: Any = None) -> datetime | None:
    """The reminder's next run (a one-off one still pending: its own time, even if just past)."""
    try:
        trigger = timephrase.from_dict(reminder.trigger)
    except (ValueError, KeyError, TypeError):
        log.error("reminder %s has an unreadable trigger %r", reminder.id, reminder.trigger)
        return None
    if isinstance(trigger, Once):
        return trigger.at
    return timephrase.next_fire(trigger, now, tz, is_workday)


# ---------------------------------------------------------------------------------------------
# `dutybot reminders list|reload`


def cli(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None,
        now: datetime | None = None) -> int:
    """Run `dutybot reminders list|reload`. A broken seeds file raises SeedError (printed by main)."""
    from bot.storage.db import make_engine, session_factory, upgrade

    out = out or sys.stdout
    logging.getLogger("alembic").setLevel(logging.WARNING)
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        if args.reminders_command == "reload":
            result = load_rules(sessions, settings.seeds_dir, tz, now)
            print("\n".join(reload_lines(result)), file=out)
        else:
            if not _rules_loaded(sessions):  # the bot never ran here: show the seeds' schedules too
                load_rules(sessions, settings.seeds_dir, tz, now)
            print("\n".join(list_lines(sessions, settings.seeds_dir, tz, now)), file=out)
        return 0
    finally:
        engine.dispose()


def _rules_loaded(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(Reminder.id).where(Reminder.kind == "rule").limit(1)) is not None


def reload_lines(result: LoadResult) -> list[str]:
    summary = (f"已重新读取 {FILE_NAME}：新增 {len(result.added)} 条，更新 {len(result.updated)} 条，"
               f"停用 {len(result.deactivated)} 条，未变 {result.unchanged} 条。")
    lines = [summary]
    for label, keys in (("新增", result.added), ("更新", result.updated), ("停用", result.deactivated)):
        if keys:
            lines.append(f"  {label}：{'、'.join(keys)}")
    lines.append(f"运行中的机器人会在 {SYNC_EVERY_SECONDS} 秒内按新的设置提醒。")
    return lines


def list_lines(sessions: sessionmaker[Session], seeds_dir: Path, tz: ZoneInfo, now: datetime) -> list[str]:
    """Every active reminder with its next run time (computed from the trigger), soonest first."""
    from bot.core.lifecycle import local_time

    is_workday = workday_test(seeds_dir)
    groups = groups_of(seeds_dir)
    with sessions() as session:
        rows = session.scalars(select(Reminder).where(Reminder.active.is_(True)).order_by(Reminder.id)).all()
        if not rows:
            return ["没有生效的提醒。规章定时提醒在 seeds/reminders.toml，改完运行 dutybot reminders reload。"]
        far = datetime.max.replace(tzinfo=UTC)
        timed = sorted(((upcoming(r, now, tz, is_workday), r) for r in rows),
                       key=lambda item: (item[0] or far, item[1].id))
        creators = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
        lines = [f"生效的提醒 {len(rows)} 条（时间为 {tz.key} 本地时间）："]
        for when, r in timed:
            trigger_text = _schedule_text(r, tz, now)
            next_text = local_time(when, tz, now) if when is not None else texts.RM_NO_NEXT
            if when is not None and when < now:
                next_text += "（已过，等待补发或作废）"
            origin = (f"规章 {r.rule_key}" if r.kind == "rule"
                      else f"临时，{creators.get(r.created_by or 0, '?')} 设")
            to = describe_audience(session, r.audience or {}, groups)
            lines.append(f"#{r.id}  下次 {next_text}  [{trigger_text}]  {origin}  → {to}")
            lines.append(f"      {r.text}" + (f"  （依据 {r.citation}）" if r.citation else ""))
        return lines


def _schedule_text(reminder: Reminder, tz: ZoneInfo, now: datetime) -> str:
    try:
        return timephrase.describe(timephrase.from_dict(reminder.trigger), tz, now)
    except (ValueError, KeyError, TypeError):
        return reminder.schedule
