"""Working days (工作日) and complaint due dates.

`add_working_days(start, n)` — the semantics, exactly:
  - day 1 is the first working day strictly AFTER `start`: the filing day itself never counts, even
    when it is a working day and the complaint came in at 08:00;
  - n = 0 gives `start` itself when it is a working day, else the first working day after it;
  - n < 0 is a ValueError.

Which days are working days (first rule that applies wins):
  1. the admin-editable override file `seeds/holidays.txt`, when it names the day — any year, so it
     can also correct a year the package knows (an extra holiday announced late);
  2. the `chinese-calendar` package (statutory holidays and make-up working days, 调休) for the years
     it ships (2004 … its last year, 2026 for chinese-calendar 1.11);
  3. beyond those years: Monday–Friday. A warning is logged once per year, so the admin knows to fill
     in holidays.txt when the State Council publishes the next year's schedule (usually November).

`seeds/holidays.txt`: UTF-8 text, one entry a line, `#` starts a comment:
      日期 [说明] 休|班
  日期 is 2027-01-01, or an inclusive span 2027-02-05~2027-02-11 (also "至"); the last word is 休
  (a day off, not a working day) or 班 (a working day, e.g. a Saturday worked in lieu, 调休上班).
  Examples:  `2027-01-01 元旦 休`   `2027-02-06 调休上班 班`   `2027-10-01~2027-10-07 国庆 休`

`complaint_due_at(category, filed_at, tz)`: the complaint's category has a number of working days in
`seeds/complaints.toml`; the complaint is due at `end_of_day` (e.g. 17:30, local time) of that working
day counted from the local filing day, returned as an aware UTC datetime.

The last year the package knows is injectable (`WorkCalendar(last_known_year=...)`) so tests use fixed
dates and a fake last year, never today's date.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any

import chinese_calendar
from chinese_calendar import constants as _cc_constants

from bot.seedfile import LiveSeed, read_toml_seed
from retrieval.lexicon import SeedProblem

log = logging.getLogger(__name__)

HOLIDAYS_FILE = "holidays.txt"
COMPLAINTS_FILE = "complaints.toml"
DEFAULT_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

# The years chinese-calendar ships data for.
FIRST_KNOWN_YEAR = min(d.year for d in _cc_constants.holidays)
LAST_KNOWN_YEAR = max(d.year for d in (*_cc_constants.holidays, *_cc_constants.workdays))

MAX_DAYS = 60  # the longest due time a category may have, in working days
MAX_SPAN_DAYS = 31  # the longest span one holidays.txt line may cover
# Without any working day in this many calendar days the calendar is broken (an override file
# marking a whole year as 休): refuse rather than loop.
_SEARCH_LIMIT = 366

_OFF_WORDS = {"休", "假", "放假", "休息"}
_ON_WORDS = {"班", "上班", "补班"}
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_SPAN = re.compile(r"^(.+?)(?:~|至)(.+)$")
_COMMENT = re.compile(r"(?:^|\s)#.*$")


# ---------------------------------------------------------------------------------------------
# The calendar


class WorkCalendar:
    """Decides whether a day is a working day: overrides, then chinese-calendar, then Mon–Fri."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        *,
        last_known_year: int = LAST_KNOWN_YEAR,
        first_known_year: int = FIRST_KNOWN_YEAR,
    ):
        # day → True (a working day, 班) or False (a day off, 休)
        self.overrides: Mapping[date, bool] = MappingProxyType(dict(overrides or {}))
        self.last_known_year = last_known_year
        self.first_known_year = first_known_year
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    def is_workday(self, day: date) -> bool:
        override = self.overrides.get(day)
        if override is not None:
            return override
        if self.first_known_year <= day.year <= self.last_known_year:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:  # chinese-calendar's "no data for this year": fall back below
                pass
        self._warn_once(day.year)
        return day.weekday() < 5

    def _warn_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        entries = sum(1 for d in self.overrides if d.year == year)
        log.warning(
            "chinese-calendar has no holiday data for %s (it knows %s–%s): counting Monday–Friday as "
            "working days, with %s override(s) from %s for that year; add the official schedule there",
            year, self.first_known_year, self.last_known_year, entries, HOLIDAYS_FILE,
        )

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (see the module docstring for the exact semantics)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = start
        if n == 0:
            return self._next_workday(day, include=True)
        for _ in range(n):
            day = self._next_workday(day, include=False)
        return day

    def _next_workday(self, day: date, *, include: bool) -> date:
        candidate = day if include else day + timedelta(days=1)
        for _ in range(_SEARCH_LIMIT):
            if self.is_workday(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError(f"no working day within {_SEARCH_LIMIT} days after {day} (check {HOLIDAYS_FILE})")


def add_working_days(start: date, n: int, calendar: WorkCalendar | None = None) -> date:
    """The n-th working day after `start`; day 1 is the first working day AFTER `start`.

    Without a calendar, the one for the project's seeds (chinese-calendar + seeds/holidays.txt).
    """
    return (calendar or calendar_for()).add_working_days(start, n)


# ---------------------------------------------------------------------------------------------
# seeds/holidays.txt


def _parse_day(text: str) -> date | None:
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_holidays(raw: str, file: str) -> tuple[dict[date, bool], list[SeedProblem]]:
    """The overrides in `raw` (day → is a working day) and every problem found.

    A bad line is skipped (and reported); the good lines still count.
    """
    overrides: dict[date, bool] = {}
    first_line: dict[date, int] = {}
    problems: list[SeedProblem] = []

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    for number, line in enumerate(raw.splitlines(), start=1):
        content = _COMMENT.sub("", unicodedata.normalize("NFKC", line.replace("\ufeff", ""))).strip()
        if not content:
            continue
        parts = content.split()
        example = "例如“2027-01-01 元旦 休”或“2027-02-06 调休上班 班”"
        if len(parts) < 2:
            problem(number, f"要写 日期、说明（可不写）和 休/班，{example}，现在是“{content}”。")
            continue
        word = parts[-1]
        if word in _OFF_WORDS:
            workday = False
        elif word in _ON_WORDS:
            workday = True
        else:
            problem(number, f"最后要写“休”（放假）或“班”（上班），{example}，现在是“{word}”。")
            continue
        span = _SPAN.match(parts[0])
        first_text, last_text = (span.group(1), span.group(2)) if span else (parts[0], parts[0])
        first, last = _parse_day(first_text), _parse_day(last_text)
        if first is None or last is None:
            bad = first_text if first is None else last_text
            problem(number, f"日期“{bad}”不对，要写成 2027-01-01 这样（年-月-日），"
                            "一段日期写成 2027-10-01~2027-10-07。")
            continue
        if last < first:
            problem(number, f"日期段“{parts[0]}”的结束日期早于开始日期。")
            continue
        if (last - first).days + 1 > MAX_SPAN_DAYS:
            problem(number, f"一段日期最多 {MAX_SPAN_DAYS} 天，现在是“{parts[0]}”。")
            continue
        day = first
        clash = False
        while day <= last:
            if day in overrides and overrides[day] != workday:
                problem(number, f"{day.isoformat()} 在第 {first_line[day]} 行写的是"
                                f"“{'班' if overrides[day] else '休'}”，这里又写成“{word}”，请只留一个。")
                clash = True
                break
            day += timedelta(days=1)
        if clash:
            continue
        day = first
        while day <= last:
            overrides[day] = workday
            first_line.setdefault(day, number)
            day += timedelta(days=1)
    return overrides, problems


def _decode(path: Path) -> tuple[str | None, list[SeedProblem]]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, [SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。")]


def read_holidays(path: Path) -> tuple[dict[date, bool], list[SeedProblem]]:
    """The override file; a missing file means no overrides (it is optional)."""
    if not path.is_file():
        return {}, []
    raw, problems = _decode(path)
    if raw is None:
        return {}, problems
    return parse_holidays(raw, str(path))


# ---------------------------------------------------------------------------------------------
# seeds/complaints.toml


@dataclass(frozen=True)
class ComplaintRules:
    # category → working days to resolve it, in the file's order
    days: Mapping[str, int]
    end_of_day: time
    # The category used for a complaint without a (known) category.
    other: str

    def days_for(self, category: str | None) -> int:
        name = (category or "").strip()
        return self.days[name] if name in self.days else self.days[self.other]


DEFAULT_RULES = ComplaintRules(
    days=MappingProxyType({"服务态度": 3, "设施设备": 5, "环境卫生": 2, "安全": 1, "收费": 5, "其他": 5}),
    end_of_day=time(17, 30),
    other="其他",
)

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")



def parse_rules(raw: str, file: str) -> tuple[ComplaintRules | None, list[SeedProblem]]:
    """The rules in `raw`, or None with every problem found (line numbers, Chinese messages)."""
    seed, problems = read_toml_seed(
        raw, file, top_keys=("end_of_day", "other", "category"), top_keys_text="end_of_day、other 和 [[category]]",
        syntax_hint="请检查等号、引号和方括号。",
    )
    if seed is None:
        return None, problems

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    data: dict[str, Any] = seed.data
    line_of = seed.line_of

    end: time | None = None
    raw_end = data.get("end_of_day")
    m = _HHMM.match(raw_end.strip()) if isinstance(raw_end, str) else None
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        end = time(int(m.group(1)), int(m.group(2)))
    else:
        problem(line_of("", "end_of_day"),
                f"end_of_day 要写成 \"17:30\" 这样（到期那天几点前办完，24 小时制），现在是“{raw_end}”。")

    days: dict[str, int] = {}
    entries = data.get("category", [])
    if not isinstance(entries, list) or not entries:
        problem(0, "至少要有一个分类：用 [[category]] 写出 name 和 days。")
        entries = []
    for i, entry in enumerate(entries):
        header = line_of("category", index=i)
        if not isinstance(entry, dict):
            problem(header, "每个分类要写成 [[category]] 表。")
            continue
        for key in entry:
            if key not in ("name", "days"):
                problem(line_of("category", key, i), f"不认识的设置“{key}”（每个分类只有 name 和 days）。")
        missing = [key for key in ("name", "days") if key not in entry]
        if missing:
            problem(header, f"这个分类缺少 {'、'.join(missing)}。")
            continue
        name, count = entry["name"], entry["days"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 10:
            problem(line_of("category", "name", i), "分类名称要写 1 到 10 个字，例如 name = \"服务态度\"。")
            continue
        name = name.strip()
        if name in days:
            problem(line_of("category", "name", i), f"分类“{name}”重复了。")
            continue
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_DAYS:
            problem(line_of("category", "days", i),
                    f"days 要写 0 到 {MAX_DAYS} 之间的整数（几个工作日内办完），现在是“{count}”。")
            continue
        days[name] = count

    other = data.get("other")
    if not isinstance(other, str) or not other.strip():
        problem(line_of("", "other"), "缺少 other（没有分类或分类不认识时按哪一类算），例如 other = \"其他\"。")
        other = None
    elif days and other.strip() not in days and len(days) == len(entries):
        problem(line_of("", "other"), f"other 写的是“{other}”，但下面没有这个分类。")

    if problems or end is None or other is None:
        return None, sorted(problems, key=lambda p: p.line)
    return ComplaintRules(MappingProxyType(days), end, other.strip()), []


def read_rules(path: Path) -> tuple[ComplaintRules | None, list[SeedProblem]]:
    if not path.is_file():
        return None, [SeedProblem(str(path), 0, "找不到投诉分类和时限设置文件 complaints.toml。")]
    raw, problems = _decode(path)
    if raw is None:
        return None, problems
    return parse_rules(raw, str(path))


def check_workday_seeds(seeds_dir: Path) -> list[SeedProblem]:
    """Every problem of complaints.toml and holidays.txt (`dutybot seeds check`); empty when fine."""
    return read_rules(seeds_dir / COMPLAINTS_FILE)[1] + read_holidays(seeds_dir / HOLIDAYS_FILE)[1]


# ---------------------------------------------------------------------------------------------
# Cached loading: the files are re-read when they change; a broken file never stops filing.


def _read_calendar(path: Path) -> tuple[WorkCalendar, list[SeedProblem]]:
    overrides, problems = read_holidays(path)  # bad lines are skipped, the good ones still count
    return WorkCalendar(overrides), problems


_RULES: LiveSeed[ComplaintRules] = LiveSeed("complaint rules", read_rules, DEFAULT_RULES)
_CALENDAR: LiveSeed[WorkCalendar] = LiveSeed("holidays", _read_calendar, WorkCalendar({}))


def load_rules(seeds_dir: Path | None = None) -> ComplaintRules:
    """The complaint rules in force (re-read when the file changes; see LiveSeed)."""
    return _RULES.get((seeds_dir or DEFAULT_SEEDS_DIR) / COMPLAINTS_FILE)


def calendar_for(seeds_dir: Path | None = None) -> WorkCalendar:
    """The working-day calendar with the seeds' holidays.txt (bad lines skipped and logged)."""
    return _CALENDAR.get((seeds_dir or DEFAULT_SEEDS_DIR) / HOLIDAYS_FILE)


def categories(seeds_dir: Path | None = None) -> list[str]:
    """The complaint categories, in the file's order (for a menu)."""
    return list(load_rules(seeds_dir).days)


def due_working_days(category: str | None, seeds_dir: Path | None = None) -> int:
    """Working days allowed for a category; an unknown or empty category counts as `other`."""
    return load_rules(seeds_dir).days_for(category)


def complaint_due_at(
    category: str | None,
    filed_at: datetime,
    tz: tzinfo,
    seeds_dir: Path | None = None,
    *,
    rules: ComplaintRules | None = None,
    calendar: WorkCalendar | None = None,
) -> datetime:
    """When a complaint filed at `filed_at` (aware) is due: end of its due working day, aware UTC.

    The working days are counted from the local filing day (day 1 = first working day after it).
    `seeds_dir` defaults to the project's seeds; pass `ctx.services.settings.seeds_dir`.
    """
    if filed_at.tzinfo is None:
        raise ValueError("filed_at must be timezone-aware")
    rules = rules or load_rules(seeds_dir)
    calendar = calendar or calendar_for(seeds_dir)
    filed_day = filed_at.astimezone(tz).date()
    due_day = calendar.add_working_days(filed_day, rules.days_for(category))
    return datetime.combine(due_day, rules.end_of_day, tzinfo=tz).astimezone(UTC)
