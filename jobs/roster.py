"""The roster (排班): people on shifts (`ShiftAssignment`), who is on duty, who hears of problems,
the CSV roster import and the `dutybot roster` command line.

"Managers" (`managers_to_tell`): the people of the first staffed level of the escalation chain
(seeds/escalation.toml — the 班长 level, who handle 迟到/缺岗 on the spot); with nobody on the chain,
every active manager; with no manager, the admins. Console identities are never told.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import escalation, texts
from bot.core.context import Ctx
from bot.storage.models import Person, ShiftAssignment
from jobs.shift_config import FILE_NAME, Shift, ShiftConfig, read_config
from jobs.shift_days import _FULL_DATE, day_label, hours_of, minutes_between, parse_day

MAX_DAYS_AHEAD = 366


# ---------------------------------------------------------------------------------------------
# People and the roster


def assignable(session: Session) -> list[Person]:
    """Everyone who may be on a roster: active, never a console identity."""
    return list(session.scalars(
        select(Person).where(Person.active.is_(True), Person.is_console.is_(False)).order_by(Person.id)
    ).all())


def people_named(session: Session, ref: str) -> tuple[list[Person], bool]:
    """People `ref` names: an all-digit ref is a person number; else the exact name, else similar names
    (containing it, or contained in it). Returns (people, exact?). Console identities never."""
    ref = unicodedata.normalize("NFKC", ref).strip()
    everyone = assignable(session)
    if ref.isdigit():
        return [p for p in everyone if p.id == int(ref)], True
    exact = [p for p in everyone if p.name == ref]
    if exact:
        return exact, True
    return [p for p in everyone if ref and (ref in p.name or (len(p.name) >= 2 and p.name in ref))], False


def find_assignment(session: Session, person_id: int, shift: str, day: date) -> ShiftAssignment | None:
    return session.scalar(select(ShiftAssignment).where(
        ShiftAssignment.person_id == person_id, ShiftAssignment.shift == shift, ShiftAssignment.day == day))


def add_assignment(
    session: Session, person: Person, shift: Shift, day: date, tz: tzinfo, now: datetime,
    created_by: int | None = None,
) -> ShiftAssignment | None:
    """Put `person` on `shift` starting on local `day`; None when they already are (also when another
    writer added the same row at the same moment: the unique constraint decides)."""
    if find_assignment(session, person.id, shift.code, day) is not None:
        return None
    starts_at, ends_at = shift.window(day, tz)
    row = ShiftAssignment(person_id=person.id, shift=shift.code, day=day, starts_at=starts_at,
                          ends_at=ends_at, created_by=created_by, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def assignments_on(session: Session, days: Sequence[date]) -> list[ShiftAssignment]:
    """The assignments starting on these local days (console identities never), by start then id."""
    return list(session.scalars(
        select(ShiftAssignment).join(Person, Person.id == ShiftAssignment.person_id)
        .where(ShiftAssignment.day.in_(list(days)), Person.is_console.is_(False), Person.active.is_(True))
        .order_by(ShiftAssignment.starts_at, ShiftAssignment.id)
    ).all())


def roster_lines(
    session: Session, config: ShiftConfig, days: Sequence[date], tz: tzinfo, now: datetime
) -> list[str]:
    """The roster of these days, shift by shift in the file's order; check-in marks for started shifts."""
    rows = assignments_on(session, days)
    today = now.astimezone(tz).date()
    lines: list[str] = []
    for day in days:
        lines.append(day_label(day, today))
        on_day = [a for a in rows if a.day == day]
        known = [s.code for s in config.shifts]
        codes = known + sorted({a.shift for a in on_day} - set(known))
        for code in codes:
            mine = [a for a in on_day if a.shift == code]
            shift = config.get(code)
            hours = hours_of(mine[0], tz) if mine else (shift.hours if shift else "")
            names = "、".join(_roster_name(a, tz, now) for a in mine) or texts.DUTY_ROSTER_NOBODY
            name = shift.name if shift else code
            lines.append(texts.DUTY_ROSTER_LINE.format(shift=name, hours=hours, names=names))
    return lines


def _roster_name(a: ShiftAssignment, tz: tzinfo, now: datetime) -> str:
    if a.starts_at > now:
        return a.person.name
    if a.checked_in_at is not None:
        late = minutes_between(a.starts_at, a.checked_in_at)
        mark = texts.DUTY_ROSTER_IN_LATE.format(minutes=late) if late else texts.DUTY_ROSTER_IN
        return f"{a.person.name}（{mark}）"
    return f"{a.person.name}（{texts.DUTY_ROSTER_NOT_IN}）"


def on_duty(session: Session, now: datetime) -> list[Person]:
    """The people on a shift at `now` (active, never console identities), in order of shift start."""
    people = session.scalars(
        select(Person).join(ShiftAssignment, ShiftAssignment.person_id == Person.id)
        .where(ShiftAssignment.starts_at <= now, ShiftAssignment.ends_at > now,
               Person.active.is_(True), Person.is_console.is_(False))
        .order_by(ShiftAssignment.starts_at, Person.id)
    ).all()
    seen: set[int] = set()
    result = []
    for person in people:
        if person.id not in seen:
            seen.add(person.id)
            result.append(person)
    return result


def managers_to_tell(ctx: Ctx, exclude: Iterable[int] = ()) -> list[Person]:
    """Who hears of 迟到/缺岗, a missing handover, an unanswered 查岗 or an overdue record: the first
    staffed level of the escalation chain, else every active manager, else the admins."""
    skip = set(exclude)
    chain = escalation.chain_of(ctx)
    numbers = [level.number for level in chain.levels]
    people = [p for p in ctx.session.scalars(
        select(Person)
        .where(Person.level.in_(numbers), Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.level, Person.id)
    ).all() if p.id not in skip]
    if people:
        first = people[0].level
        return [p for p in people if p.level == first]
    managers = [p for p in ctx.session.scalars(
        select(Person)
        .where(Person.role == "manager", Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id)
    ).all() if p.id not in skip]
    return managers or [p for p in escalation.admins(ctx.session) if p.id not in skip]


# ---------------------------------------------------------------------------------------------
# Roster import (dutybot roster import FILE)

_HEADERS = {"日期": "day", "date": "day", "班次": "shift", "shift": "shift", "姓名": "name", "name": "name"}


@dataclass
class ImportResult:
    added: list[ShiftAssignment] = field(default_factory=list)
    duplicates: int = 0
    # (line number, Chinese message); non-empty means nothing was imported.
    problems: list[tuple[int, str]] = field(default_factory=list)


def import_roster(
    session: Session, data: bytes, config: ShiftConfig, tz: tzinfo, now: datetime
) -> ImportResult:
    """Import a CSV roster (header 日期,班次,姓名 or date,shift,name; UTF-8 with or without BOM).

    Every bad line is reported with its line number and then nothing is stored (the caller's
    transaction is left untouched); rows already on the roster, or twice in the file, are skipped.
    """
    result = ImportResult()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        result.problems.append((data[: err.start].count(b"\n") + 1, texts.ROSTER_CSV_NOT_UTF8))
        return result
    today = now.astimezone(tz).date()
    rows = list(csv.reader(io.StringIO(raw.replace("\r\n", "\n").replace("\r", "\n"))))
    numbered = [(i, row) for i, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        result.problems.append((1, texts.ROSTER_CSV_EMPTY))
        return result
    header_line, header = numbered[0]
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _HEADERS.get(unicodedata.normalize("NFKC", cell).strip().lower())
        if key is not None and key not in columns:
            columns[key] = index
    if len(columns) < 3:
        result.problems.append((header_line, texts.ROSTER_CSV_HEADER.format(text=",".join(header)[:60])))
        return result
    if len(numbered) == 1:
        result.problems.append((header_line, texts.ROSTER_CSV_EMPTY))
        return result
    everyone = assignable(session)
    by_name: dict[str, list[Person]] = {}
    for person in everyone:
        by_name.setdefault(person.name, []).append(person)
    by_id = {p.id: p for p in everyone}
    wanted: list[tuple[Person, Shift, date]] = []
    seen: set[tuple[int, str, date]] = set()
    width = max(columns.values()) + 1
    for line, row in numbered[1:]:
        if len(row) < width:
            result.problems.append((line, texts.ROSTER_CSV_COLUMNS.format(n=len(row))))
            continue
        day_text, shift_text, name = (unicodedata.normalize("NFKC", row[columns[k]]).strip()
                                      for k in ("day", "shift", "name"))
        messages = []
        day = _csv_day(day_text)
        if day is None:
            messages.append(texts.ROSTER_CSV_BAD_DAY.format(text=day_text[:20]))
        shift = config.find(shift_text)
        if shift is None:
            messages.append(texts.ROSTER_CSV_BAD_SHIFT.format(text=shift_text[:20], shifts=config.names()))
        person: Person | None = None
        if name.isdigit() and int(name) in by_id:
            person = by_id[int(name)]
        elif not name:
            messages.append(texts.ROSTER_CSV_NO_NAME)
        else:
            named = by_name.get(name, [])
            if len(named) == 1:
                person = named[0]
            elif named:
                messages.append(texts.ROSTER_CSV_AMBIGUOUS.format(
                    count=len(named), name=name, ids="、".join(str(p.id) for p in named)))
            else:
                messages.append(texts.ROSTER_CSV_UNKNOWN.format(name=name[:20]))
        if day is not None and not abs((day - today).days) <= MAX_DAYS_AHEAD:
            messages.append(texts.ROSTER_CSV_FAR.format(text=day_text))
        if messages:
            result.problems.append((line, "；".join(messages)))
            continue
        assert person is not None and shift is not None and day is not None
        key = (person.id, shift.code, day)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        wanted.append((person, shift, day))
    if result.problems:
        return result
    for person, shift, day in wanted:
        row_added = add_assignment(session, person, shift, day, tz, now)
        if row_added is None:
            result.duplicates += 1
        else:
            result.added.append(row_added)
    return result


def _csv_day(text: str) -> date | None:
    m = _FULL_DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None

# ---------------------------------------------------------------------------------------------
# dutybot roster import FILE / dutybot roster show [DATE]


def cli(args: Any, settings: Any, *, out: TextIO | None = None, err: TextIO | None = None,
        now: datetime | None = None) -> int:
    """Run one `dutybot roster …` subcommand: 0 done, 1 a user error (explained in Chinese)."""
    from zoneinfo import ZoneInfo

    from bot.storage.db import make_engine, session_factory, upgrade

    out = out or sys.stdout
    err = err or sys.stderr
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = read_config(settings.seeds_dir / FILE_NAME)  # SeedError: the CLI lists the problems
    tz = ZoneInfo(settings.timezone)
    now = now or datetime.now(UTC)
    today = now.astimezone(tz).date()
    if args.roster_command == "import":
        path = Path(args.file)
        if not path.is_file():
            print(texts.ROSTER_CLI_NO_FILE.format(file=args.file), file=err)
            return 1
        data = path.read_bytes()
    else:
        days = [today, today + timedelta(days=1)]
        if args.day:
            day = parse_day(args.day, today)
            if day is None:
                print(texts.ROSTER_CLI_BAD_DAY.format(text=args.day), file=err)
                return 1
            days = [day]
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            if args.roster_command != "import":
                print("\n".join(roster_lines(session, config, days, tz, now)), file=out)
                return 0
            result = import_roster(session, data, config, tz, now)
            if result.problems:
                print(texts.ROSTER_CSV_FAILED.format(file=path.name, count=len(result.problems)), file=err)
                for line, message in result.problems:
                    print("  " + texts.ROSTER_CSV_LINE.format(line=line, message=message), file=err)
                return 1
            span = ""
            if result.added:
                first = min(a.day for a in result.added)
                last = max(a.day for a in result.added)
                span = texts.ROSTER_CSV_SPAN.format(first=first.isoformat(), last=last.isoformat())
            print(texts.ROSTER_CSV_DONE.format(added=len(result.added), span=span, dup=result.duplicates),
                  file=out)
            return 0
    finally:
        engine.dispose()
