"""Days and display for shifts and the roster: the dates a person types (今天, 周六, 12-01 …) and how
days, times and an assignment's hours are shown."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from bot.storage.models import ShiftAssignment

if TYPE_CHECKING:
    from jobs.shift_config import ShiftConfig

# What a person may type to mean "remove" as the first word after 排班.
REMOVE_WORDS = frozenset({"删除", "删", "取消", "去掉", "移除", "撤销"})

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
