"""On duty: 签到 (/checkin), 平安 (/ok) and the roster (/roster 排班).

- 签到: checks the sender into their current shift, or the next one when it starts within the
  shift's `checkin_early_minutes`. A check-in after the start is late; the minutes late are kept
  (checked_in_at − starts_at) and shown. When the managers were already told of 未签到, they hear of
  the check-in too.
- 平安: answers the sender's latest open welfare check (查岗); a late answer is recorded as such,
  and the managers who were told of the missed check hear of it.
- 排班: everyone registered sees who is on duty today and tomorrow (排班 12-01: that day); managers
  assign (排班 明天 夜班 张三 [李四 …]) and remove (排班 删除 明天 夜班 张三). A name is an active
  person's exact name or, when names clash, their number (编号). Console identities never appear.
  Adding several people is all-or-nothing: any unknown name and nothing is stored.

Dates: 今天/明天/后天, 周六/下周一, 2026-12-01, 12-01 or 12月1日 (jobs.shift_days.parse_day).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from bot.core import texts
from bot.core.context import Ctx
from bot.core.identity import ROLE_NAMES
from bot.core.lifecycle import is_manager
from bot.core.messages import Button
from bot.core.router import Route
from bot.storage.models import Person, ShiftAssignment, WelfareCheck
from jobs import shift_config, shift_days, shifts
from jobs.roster import MAX_DAYS_AHEAD, add_assignment, managers_to_tell, people_named, roster_lines
from jobs.shift_config import Shift, ShiftConfig
from jobs.shift_days import clock_text, day_label, hours_of, minutes_between, shift_name

_NAME_SPLIT = re.compile(r"[\s、，,;；]+")
SIMILAR_SHOWN = 5


# ---------------------------------------------------------------------------------------------
# 签到


def checkin(ctx: Ctx, _args: str) -> None:
    assert ctx.person is not None
    config = shift_config.config_of(ctx)
    now = ctx.now
    today = ctx.local_now.date()
    rows = list(ctx.session.scalars(
        select(ShiftAssignment)
        .where(ShiftAssignment.person_id == ctx.person.id, ShiftAssignment.ends_at > now,
               ShiftAssignment.starts_at <= now + timedelta(days=2))
        .order_by(ShiftAssignment.starts_at, ShiftAssignment.id)
        .with_for_update(of=ShiftAssignment)
    ).unique().all())
    for a in rows:
        early = timedelta(minutes=config.settings_for(a.shift).checkin_early_minutes)
        if a.checked_in_at is None and a.starts_at - early <= now:
            _check_in(ctx, a, config)
            return
    done = [a for a in rows if a.checked_in_at is not None
            and a.starts_at - timedelta(minutes=config.settings_for(a.shift).checkin_early_minutes) <= now]
    if done:
        a = done[-1]
        assert a.checked_in_at is not None
        ctx.reply(texts.DUTY_ALREADY_IN.format(shift=shift_name(config, a), hours=hours_of(a, ctx.tz),
                                               time=clock_text(a.checked_in_at, ctx.tz)))
        return
    upcoming = [a for a in rows if a.starts_at > now and a.checked_in_at is None]
    if upcoming:
        a = upcoming[0]
        early = config.settings_for(a.shift).checkin_early_minutes
        ctx.reply(texts.DUTY_NO_SHIFT_NOW + "\n" + texts.DUTY_NEXT_SHIFT.format(
            day=day_label(a.day, today), shift=shift_name(config, a), hours=hours_of(a, ctx.tz), early=early))
        return
    ctx.reply(texts.DUTY_NO_SHIFT_NOW + texts.DUTY_NO_NEXT)


def _check_in(ctx: Ctx, a: ShiftAssignment, config: ShiftConfig) -> None:
    assert ctx.person is not None
    a.checked_in_at = ctx.now
    late = minutes_between(a.starts_at, ctx.now)
    lines = [texts.DUTY_CHECKED_IN.format(day=day_label(a.day, ctx.local_now.date()),
                                          shift=shift_name(config, a), hours=hours_of(a, ctx.tz),
                                          time=clock_text(ctx.now, ctx.tz))]
    if late:
        lines.append(texts.DUTY_CHECKED_IN_LATE.format(minutes=late))
    if a.absence_alerted_at is not None and a.absence_alerted_at > a.starts_at:
        # The managers heard "未签到" (not a skip decided for an assignment made too late): tell them.
        note = texts.DUTY_LATE_CHECKIN_NOTE.format(who=ctx.person.name, shift=shift_name(config, a),
                                                   hours=hours_of(a, ctx.tz), minutes=late)
        for manager in managers_to_tell(ctx, exclude=[ctx.person.id]):
            ctx.notify(manager, note, dedupe_key=f"shift:{a.id}:checked-in:{manager.id}")
        lines.append(texts.DUTY_CHECKED_IN_TOLD)
    ctx.reply("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# 平安


def ok(ctx: Ctx, _args: str) -> None:
    assert ctx.person is not None
    check = ctx.session.scalar(
        select(WelfareCheck)
        .where(WelfareCheck.person_id == ctx.person.id, WelfareCheck.answered_at.is_(None),
               WelfareCheck.asked_at >= ctx.now - shifts.ALERT_STALE)
        .order_by(WelfareCheck.asked_at.desc(), WelfareCheck.id.desc())
        .limit(1)
        .with_for_update()
    )
    if check is None:
        ctx.reply(texts.DUTY_OK_NONE)
        return
    check.answered_at = ctx.now
    now_text, asked = clock_text(ctx.now, ctx.tz), clock_text(check.asked_at, ctx.tz)
    if ctx.now <= check.due_at:
        ctx.reply(texts.DUTY_OK.format(time=now_text))
        return
    ctx.reply(texts.DUTY_OK_LATE.format(time=now_text, asked=asked))
    if check.escalated_at is not None:
        note = texts.DUTY_OK_LATE_NOTE.format(who=ctx.person.name, time=now_text, asked=asked)
        for manager in managers_to_tell(ctx, exclude=[ctx.person.id]):
            ctx.notify(manager, note, dedupe_key=f"welfare-answered:{check.id}:{manager.id}")


# ---------------------------------------------------------------------------------------------
# 排班


def roster(ctx: Ctx, args: str) -> None:
    assert ctx.person is not None
    config = shift_config.config_of(ctx)
    today = ctx.local_now.date()
    words = [w for w in args.split() if w]
    if not words:
        _show(ctx, config, [today, today + timedelta(days=1)])
        return
    if len(words) == 1 and (day := shift_days.parse_day(words[0], today)) is not None:
        _show(ctx, config, [day])
        return
    if not is_manager(ctx.person):
        ctx.reply(texts.DUTY_ROSTER_ONLY_MANAGERS)
        return
    remove = words[0] in shift_days.REMOVE_WORDS
    if remove:
        words = words[1:]
    parsed = _day_shift(ctx, config, words, today)
    if parsed is None:
        return
    day, shift, names = parsed
    people = _people(ctx, names, day, shift, today)
    if people is None:
        return
    if remove:
        _remove(ctx, config, day, shift, people, today)
    else:
        _add(ctx, day, shift, people, today)


def _show(ctx: Ctx, config: ShiftConfig, days: list[date]) -> None:
    lines = [texts.DUTY_ROSTER_HEAD, *roster_lines(ctx.session, config, days, ctx.tz, ctx.now)]
    if is_manager(ctx.person):
        lines.append(texts.DUTY_ROSTER_FOOT)
    ctx.reply("\n".join(lines))


def _day_shift(ctx: Ctx, config: ShiftConfig, words: list[str], today: date
               ) -> tuple[date, Shift, list[str]] | None:
    """The day and the shift (in either order) and the names after them; replies when unclear."""
    usage = texts.DUTY_ROSTER_USAGE.format(shifts=config.names())
    if len(words) < 2:
        ctx.reply(usage)
        return None
    first, second = words[0], words[1]
    day, shift = shift_days.parse_day(first, today), config.find(second)
    if day is None or shift is None:
        swapped_day, swapped_shift = shift_days.parse_day(second, today), config.find(first)
        if swapped_day is not None and swapped_shift is not None:  # 夜班 明天 张三
            day, shift = swapped_day, swapped_shift
        elif day is not None:
            ctx.reply(texts.DUTY_ROSTER_BAD_SHIFT.format(text=second[:20], shifts=config.names()))
            return None
        elif swapped_shift is not None:
            ctx.reply(texts.DUTY_ROSTER_BAD_DAY.format(text=second[:20]))
            return None
        elif shift is not None or any(ch.isdigit() for ch in first):
            ctx.reply(texts.DUTY_ROSTER_BAD_DAY.format(text=first[:20]))
            return None
        elif swapped_day is not None:
            ctx.reply(texts.DUTY_ROSTER_BAD_SHIFT.format(text=first[:20], shifts=config.names()))
            return None
        else:
            ctx.reply(usage)
            return None
    names = [n for n in _NAME_SPLIT.split(" ".join(words[2:])) if n]
    if not names:
        ctx.reply(texts.DUTY_ROSTER_NEED_NAME.format(shift=shift.name))
        return None
    return day, shift, names


def _label(person: Person) -> str:
    return texts.DUTY_PERSON_CHOICE.format(name=person.name, id=person.id,
                                           role=ROLE_NAMES.get(person.role, person.role))


def _people(ctx: Ctx, names: list[str], day: date, shift: Shift, today: date) -> list[Person] | None:
    """One person per name, or a reply explaining every name that is unknown or ambiguous."""
    found: list[Person] = []
    problems: list[str] = []
    for name in dict.fromkeys(names):
        people, exact = people_named(ctx.session, name)
        if exact and len(people) == 1:
            if all(p.id != people[0].id for p in found):
                found.append(people[0])
        elif exact and people:
            problems.append(texts.DUTY_ROSTER_AMBIGUOUS.format(
                count=len(people), name=name, choices="；".join(_label(p) for p in people),
                day=_day_word(day, today), shift=shift.name, id=people[0].id))
        elif people:
            problems.append(texts.DUTY_ROSTER_SIMILAR.format(
                name=name[:20], choices="；".join(_label(p) for p in people[:SIMILAR_SHOWN])))
        else:
            problems.append(texts.DUTY_ROSTER_UNKNOWN.format(name=name[:20]))
    if problems:
        ctx.reply("\n".join(problems))
        return None
    return found


def _day_word(day: date, today: date) -> str:
    words = {0: "今天", 1: "明天", 2: "后天"}
    return words.get((day - today).days, day.isoformat())


def _add(ctx: Ctx, day: date, shift: Shift, people: list[Person], today: date) -> None:
    assert ctx.person is not None
    _starts_at, ends_at = shift.window(day, ctx.tz)
    label = day_label(day, today)
    if ends_at <= ctx.now:
        ctx.reply(texts.DUTY_ROSTER_ENDED.format(day=label, shift=shift.name))
        return
    if (day - today).days > MAX_DAYS_AHEAD:
        ctx.reply(texts.DUTY_ROSTER_TOO_FAR)
        return
    added, already = [], []
    for person in people:
        row = add_assignment(ctx.session, person, shift, day, ctx.tz, ctx.now,
                                    created_by=ctx.person.id)
        if row is None:
            already.append(person)
            continue
        added.append(person)
        if person.id != ctx.person.id:
            notice = texts.DUTY_ROSTER_NOTIFY.format(day=label, shift=shift.name, hours=shift.hours)
            ctx.notify(person, notice, (Button(texts.DUTY_BTN_ROSTER, "/roster"),),
                       dedupe_key=f"roster:{row.id}")
    lines = []
    if added:
        lines.append(texts.DUTY_ROSTER_ADDED.format(day=label, shift=shift.name, hours=shift.hours,
                                                    names="、".join(p.name for p in added)))
    if already:
        lines.append(texts.DUTY_ROSTER_ALREADY.format(names="、".join(p.name for p in already), day=label,
                                                      shift=shift.name))
    ctx.reply("\n".join(lines))


def _remove(
    ctx: Ctx, config: ShiftConfig, day: date, shift: Shift, people: list[Person], today: date
) -> None:
    label = day_label(day, today)
    rows = []
    missing = []
    for person in people:
        row = ctx.session.scalar(
            select(ShiftAssignment)
            .where(ShiftAssignment.person_id == person.id, ShiftAssignment.shift == shift.code,
                   ShiftAssignment.day == day)
            .with_for_update(of=ShiftAssignment))
        if row is None:
            missing.append(person)
        else:
            rows.append(row)
    if missing:
        ctx.reply(texts.DUTY_ROSTER_NOT_ON.format(day=label, shift=shift.name,
                                                  names="、".join(p.name for p in missing)))
        return
    started = [r for r in rows if r.starts_at <= ctx.now]
    if started:
        ctx.reply(texts.DUTY_ROSTER_STARTED.format(day=label, shift=shift.name,
                                                   names="、".join(r.person.name for r in started)))
        return
    for row in rows:
        person = row.person
        hours = hours_of(row, ctx.tz)
        ctx.session.delete(row)
        if ctx.person is None or person.id != ctx.person.id:
            notice = texts.DUTY_ROSTER_REMOVED_NOTIFY.format(day=label, shift=shift_name(config, row),
                                                             hours=hours)
            ctx.notify(person, notice, dedupe_key=f"roster-removed:{row.id}:{ctx.now.isoformat()}")
    ctx.session.flush()
    names = "、".join(p.name for p in people)
    ctx.reply(texts.DUTY_ROSTER_REMOVED.format(day=label, shift=shift.name, names=names))


ROUTES: dict[str, Route] = {
    "checkin": Route(checkin),
    "ok": Route(ok),
    "roster": Route(roster),
}
