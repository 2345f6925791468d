"""Shifts (班次), the roster (排班) and the duty tick: shift reminders, check-in alerts, handover
reminders and welfare checks (防睡岗).

Shift definitions live in `seeds/shifts.toml` (admin-editable, checked by `dutybot seeds check`,
re-read when the file changes; a broken file keeps the last good version or the built-in default).
An assignment (`ShiftAssignment`) stores its own start and end (aware UTC), computed from the shift
when it was made: editing a shift's hours changes later assignments only. Its reminder settings
(minutes before, grace, welfare interval) are read from the file in force at tick time.

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

"Managers" (`managers_to_tell`): the people of the first staffed level of the escalation chain
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

import csv
import io
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import escalation, texts
from bot.core.context import Ctx
from bot.core.messages import Button
from bot.seedfile import LiveSeed, TomlSyntaxError, parse_toml
from bot.storage.models import Firing, Handover, Person, ShiftAssignment, WelfareCheck
from jobs import runtime
from retrieval.lexicon import SeedError, SeedProblem

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

FILE_NAME = "shifts.toml"
DEFAULT_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

# A reminder to the guard later than this after its time is skipped (and logged), not sent late.
REMIND_GRACE = timedelta(minutes=10)
# An alert to the managers goes out late (saying so) up to this long after its time; then skipped.
ALERT_STALE = timedelta(hours=12)
# The tick looks at assignments that started at most this long ago (a shift is at most 24 h, plus
# the handover grace and the alert window fit well inside).
LOOKBACK = timedelta(days=2)
BATCH = 2000

MAX_MINUTES = 720
# The regulation every alert cites (the corpus text, 《值班人员管理规定》 of the seeds).
CITE_DUTY = "《值班人员管理规定》三、"
CITE_HANDOVER = "《值班人员管理规定》一、"

# What a person may type to mean "remove" as the first word after 排班.
REMOVE_WORDS = frozenset({"删除", "删", "取消", "去掉", "移除", "撤销"})
MAX_DAYS_AHEAD = 366


# ---------------------------------------------------------------------------------------------
# Shift definitions (seeds/shifts.toml)


@dataclass(frozen=True)
class Shift:
    code: str
    name: str
    start: time
    end: time
    remind_before_minutes: int = 15
    checkin_early_minutes: int = 30
    checkin_grace_minutes: int = 10
    handover: bool = True
    handover_grace_minutes: int = 30
    welfare_every_minutes: int = 0
    welfare_answer_minutes: int = 10

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def duration(self) -> timedelta:
        minutes = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        return timedelta(minutes=minutes + (24 * 60 if minutes <= 0 else 0))

    def window(self, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
        """(start, end) as aware UTC of this shift starting on the local date `day`."""
        start = datetime.combine(day, self.start, tzinfo=tz)
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        end = datetime.combine(end_day, self.end, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def hours(self) -> str:
        later = "次日" if self.crosses_midnight else ""
        return f"{self.start:%H:%M}–{later}{self.end:%H:%M}"


# The numeric settings: (smallest, largest, what it is — for the checker's messages).
PARAMS: dict[str, tuple[int, int, str]] = {
    "remind_before_minutes": (0, 240, "上班前多少分钟提醒（0 = 不提醒）"),
    "checkin_early_minutes": (0, 240, "最早提前多少分钟可以签到"),
    "checkin_grace_minutes": (1, 240, "上班后多少分钟内要签到"),
    "handover_grace_minutes": (1, 480, "下班后多少分钟内要填交接班记录"),
    "welfare_every_minutes": (0, MAX_MINUTES, "每隔多少分钟查岗（0 = 不查岗）"),
    "welfare_answer_minutes": (1, 120, "查岗后多少分钟内要回复"),
}
BOOL_PARAMS: dict[str, str] = {"handover": "下班时是否提醒填交接班记录（true 或 false）"}
WELFARE_MIN_EVERY = 15
SHIFT_KEYS = ("code", "name", "start", "end")


@dataclass(frozen=True)
class ShiftConfig:
    shifts: tuple[Shift, ...]
    # The [defaults] settings, for an assignment whose shift code is no longer in the file.
    defaults: Shift = field(default_factory=lambda: Shift("", "", time(0), time(0)))

    def get(self, code: str) -> Shift | None:
        return next((s for s in self.shifts if s.code == code), None)

    def find(self, word: str) -> Shift | None:
        """The shift named (白班) or coded (day) by `word`."""
        text = unicodedata.normalize("NFKC", word).strip()
        for shift in self.shifts:
            if text == shift.name or text.lower() == shift.code:
                return shift
        return None

    def settings_for(self, code: str) -> Shift:
        """The shift for an assignment; a code no longer in the file runs on the defaults."""
        return self.get(code) or replace(self.defaults, code=code, name=code)

    def names(self) -> str:
        return "、".join(s.name for s in self.shifts)


DEFAULT_CONFIG = ShiftConfig(
    shifts=(
        Shift("day", "白班", time(8, 0), time(20, 0)),
        Shift("night", "夜班", time(20, 0), time(8, 0), welfare_every_minutes=120),
    ),
    defaults=Shift("", "", time(0), time(0)),
)

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")



def parse_shifts(raw: str, file: str) -> tuple[ShiftConfig | None, list[SeedProblem]]:
    """The shifts in `raw`, or None with every problem found (Chinese messages; `line` says where)."""
    problems: list[SeedProblem] = []

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    try:
        seed = parse_toml(raw)
    except TomlSyntaxError as err:
        near = f"（第 {err.column} 列附近）" if err.column else ""
        problem(err.line,
                f"写法不对{near}：时间和名称要用英文双引号括起来（start = \"08:00\"、name = \"白班\"），"
                "分钟数只写数字，表头写成 [defaults] 和 [[shift]]。")
        return None, problems
    data: dict[str, Any] = seed.data
    line_of = seed.line_of

    for key in data:
        if key not in ("defaults", "shift"):
            problem(line_of(key) or line_of("", key), f"不认识的设置“{key}”（只能有 [defaults] 和 [[shift]]）。")

    def settings(table: dict[str, Any], section: str, index: int) -> dict[str, Any]:
        good: dict[str, Any] = {}
        for key, value in table.items():
            where = line_of(section, key, index)
            if key in PARAMS:
                low, high, what = PARAMS[key]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    problem(where, f"{key}（{what}）要写 {low} 到 {high} 之间的整数，现在是“{value}”。")
                elif key == "welfare_every_minutes" and 0 < value < WELFARE_MIN_EVERY:
                    problem(where, f"{key} 要么写 0（不查岗），要么至少 {WELFARE_MIN_EVERY} 分钟，现在是“{value}”。")
                else:
                    good[key] = value
            elif key in BOOL_PARAMS:
                if not isinstance(value, bool):
                    problem(where, f"{key}（{BOOL_PARAMS[key]}）只能写 true 或 false，现在是“{value}”。")
                else:
                    good[key] = value
            elif section == "defaults" or key not in SHIFT_KEYS:
                allowed = "、".join([*PARAMS, *BOOL_PARAMS])
                extra = "" if section == "defaults" else "code、name、start、end 和 "
                problem(where, f"不认识的设置“{key}”（这里只能写 {extra}{allowed}）。")
        return good

    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        problem(line_of("defaults"), "[defaults] 要写成表：[defaults] 下面一行一个设置。")
        defaults_table = {}
    base = Shift("", "", time(0), time(0), **settings(defaults_table, "defaults", 0))

    def clock_time(value: Any, where: int, what: str) -> time | None:
        m = _HHMM.match(value.strip()) if isinstance(value, str) else None
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return time(int(m.group(1)), int(m.group(2)))
        problem(where, f"{what}要写成 \"08:00\" 这样（24 小时制，加引号），现在是“{value}”。")
        return None

    shifts: list[Shift] = []
    taken: dict[str, int] = {}  # every code and name → the line that used it
    entries = data.get("shift", [])
    if not isinstance(entries, list) or not entries:
        problem(0, "至少要有一个班次：用 [[shift]] 写出 code、name、start、end。")
        entries = []
    for i, entry in enumerate(entries):
        header = line_of("shift", index=i)
        if not isinstance(entry, dict):
            problem(header, "每个班次要写成 [[shift]] 表。")
            continue
        own = settings(entry, "shift", i)
        missing = [key for key in SHIFT_KEYS if key not in entry]
        if missing:
            problem(header, f"这个班次缺少 {'、'.join(missing)}。")
            continue
        code, name = entry["code"], entry["name"]
        ok = True
        if not isinstance(code, str) or not _CODE.match(code.strip()):
            problem(line_of("shift", "code", i),
                    f"code 要写英文小写字母开头的代号（例如 \"day\"、\"night\"，最多 32 个字符），现在是“{code}”。")
            ok = False
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 10 or " " in name.strip() \
                or name.strip().isdigit():
            problem(line_of("shift", "name", i), f"name 要写 1 到 10 个字、不带空格的名称（例如 \"白班\"），现在是“{name}”。")
            ok = False
        elif parse_day(name.strip(), date(2000, 1, 1)) is not None or name.strip() in REMOVE_WORDS:
            problem(line_of("shift", "name", i), f"name 不能用“{name.strip()}”（会和日期或“删除”混淆）。")
            ok = False
        start = clock_time(entry["start"], line_of("shift", "start", i), "start（上班时间）")
        end = clock_time(entry["end"], line_of("shift", "end", i), "end（下班时间）")
        if start is None or end is None or not ok:
            continue
        code, name = code.strip(), name.strip()
        clash = [word for word in (code, name) if word in taken]
        if clash:
            problem(line_of("shift", "name" if name in clash else "code", i),
                    f"“{clash[0]}”和第 {taken[clash[0]]} 行的班次重复了。")
            continue
        if start == end:
            problem(line_of("shift", "end", i), "上班和下班时间一样：请写出下班时间（跨午夜的班写第二天的时间，例如 20:00 到 08:00）。")
            continue
        taken[code] = taken[name] = header
        shift = replace(base, code=code, name=name, start=start, end=end, **own)
        length = int(shift.duration.total_seconds() // 60)
        if shift.checkin_grace_minutes >= length:
            problem(line_of("shift", "checkin_grace_minutes", i)
                    or line_of("defaults", "checkin_grace_minutes") or header,
                    f"{name}只有 {length} 分钟，签到宽限 checkin_grace_minutes 要比它短。")
            continue
        if shift.welfare_every_minutes:
            if shift.welfare_every_minutes >= length:
                problem(line_of("shift", "welfare_every_minutes", i) or header,
                        f"{name}只有 {length} 分钟，查岗间隔 welfare_every_minutes 要比它短，不然一次也不会查。")
                continue
            if shift.welfare_answer_minutes >= shift.welfare_every_minutes:
                problem(line_of("shift", "welfare_answer_minutes", i)
                        or line_of("defaults", "welfare_answer_minutes") or header,
                        "回复时限 welfare_answer_minutes 要比查岗间隔 welfare_every_minutes 短。")
                continue
        shifts.append(shift)

    if problems:
        return None, sorted(problems, key=lambda p: p.line)
    return ShiftConfig(tuple(shifts), base), []


def _read(path: Path) -> tuple[ShiftConfig | None, list[SeedProblem]]:
    if not path.is_file():
        return None, [SeedProblem(str(path), 0, "找不到班次设置文件 shifts.toml。")]
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, [SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。")]
    return parse_shifts(raw, str(path))


def check_shifts(seeds_dir: Path) -> list[SeedProblem]:
    """Every problem of seeds/shifts.toml (`dutybot seeds check`); empty when it is fine."""
    return _read(seeds_dir / FILE_NAME)[1]


def read_config(path: Path) -> ShiftConfig:
    """The shifts in `path`; raises SeedError listing every problem."""
    config, problems = _read(path)
    if config is None:
        raise SeedError(problems)
    return config


_CONFIG: LiveSeed[ShiftConfig] = LiveSeed("shifts", _read, DEFAULT_CONFIG)


def load_config(seeds_dir: Path | None = None) -> ShiftConfig:
    """The shifts in force (the seed file, re-read when it changes; see LiveSeed)."""
    return _CONFIG.get((seeds_dir or DEFAULT_SEEDS_DIR) / FILE_NAME)


def config_of(ctx: Ctx) -> ShiftConfig:
    return load_config(ctx.services.settings.seeds_dir)


# ---------------------------------------------------------------------------------------------
# Days and display

_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "昨天": -1, "昨日": -1}
_FULL_DATE = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*[日号]?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*[日号]?$")
_WEEKDAY = re.compile(r"^(下下|下个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天])$")
WEEKDAYS = "一二三四五六日"


def parse_day(text: str, today: date) -> date | None:
    """今天/明天/后天/大后天/昨天, 周六/星期六 (the next one, today included), 本周六/下周一/下下周一,
    2026-12-01 (also / . 年月日), 12-01 / 12月1日 (the nearest such date to `today`: "01-05" typed in
    late December is next January). None when it is not a date.

    (bot.core.timephrase reads time phrases for reminders — a date with a time, never in the past;
    the roster needs a bare date, past ones included for showing, hence this small reader.)"""
    word = unicodedata.normalize("NFKC", text).strip()
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    m = _WEEKDAY.match(word)
    if m:
        weekday = WEEKDAYS.index(m.group(2).replace("天", "日"))
        monday = today - timedelta(days=today.weekday())
        prefix = m.group(1) or ""
        if prefix.startswith("下下"):
            return monday + timedelta(days=14 + weekday)
        if prefix.startswith("下"):
            return monday + timedelta(days=7 + weekday)
        if prefix:
            return monday + timedelta(days=weekday)
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    m = _FULL_DATE.match(word)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    m = _MONTH_DAY.match(word)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        options = []
        for year in (today.year - 1, today.year, today.year + 1):
            try:
                options.append(date(year, month, day))
            except ValueError:  # 02-29 outside leap years
                continue
        if not options:
            return None
        return min(options, key=lambda d: (abs((d - today).days), d < today))
    return None


def day_label(day: date, today: date | None = None) -> str:
    """'11月27日（周五）', with the year when it is not `today`'s year."""
    year = f"{day.year}年" if today is not None and day.year != today.year else ""
    return f"{year}{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）"


def local_time(at: datetime, tz: tzinfo) -> str:
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def clock_text(at: datetime, tz: tzinfo) -> str:
    return f"{at.astimezone(tz):%H:%M}"


def hours_of(assignment: ShiftAssignment, tz: tzinfo) -> str:
    """'20:00–次日08:00' from the assignment's own stored times."""
    start, end = assignment.starts_at.astimezone(tz), assignment.ends_at.astimezone(tz)
    later = "次日" if end.date() > start.date() else ""
    return f"{start:%H:%M}–{later}{end:%H:%M}"


def shift_name(config: ShiftConfig, assignment: ShiftAssignment) -> str:
    shift = config.get(assignment.shift)
    return shift.name if shift is not None else assignment.shift


def minutes_between(earlier: datetime, later: datetime) -> int:
    return max(0, int((later - earlier).total_seconds() // 60))


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
