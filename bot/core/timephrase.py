"""Chinese time phrases → a trigger: "明天 09:00 提交月报" → once at 2026-11-28 09:00, "提交月报".

`parse(text, now, tz)` reads the time phrase at the start of `text` and returns a `TimePhrase`: the
trigger (`Once` — an aware datetime; or `Repeating` — cron fields with day NAMES, never numbers),
the rest of the text (the reminder's message) and the phrase as read. What it cannot read raises
`TimePhraseError` with a Chinese sentence naming the part it did not understand. A pure function:
`now` is injected, nothing else is read.

What it reads (spaces between the parts are optional; full-width digits and colons are fine):
  one-off     今天 / 明天 / 后天 / 大后天 / 今晚 / 明早 / 明晚, N天后
              周X / 星期X / 礼拜X (the next one, today included if the time is still ahead),
              本周X / 这周X (this week's), 下周X / 下个周X (next week's), 下下周X
              YYYY-MM-DD (also / . 年月日), M月D日 / M月D号 (this year, or next year once past),
              MM-DD, N号 / N日 (this month, or the next month that has that day)
              a time alone: today (a bare "3点" already past today means 15:00 when that is ahead)
  relative    半小时后, N分钟后, N小时后, N个半小时后, N小时M分钟后 (also 以后 / 之后)
  repeating   每天 / 每日 / 天天, 每周X / 每星期X (several days: 每周一三五, 每周一、三、五, 每周一至周五),
              工作日 / 每个工作日, 每月N号 / 每月N日
  time        HH:MM, H点, H点半, H点一刻/三刻, H点M分, with 上午 / 早上 / 中午 / 下午 / 晚上 / 凌晨 / 夜里
              (Chinese numerals too: 九点半, 十二点).

Working days (工作日) are a `Repeating` trigger with `workdays=True` and no day-of-week restriction:
it fires every day and the firing is skipped on a day that is not a Chinese working day (statutory
holidays off, make-up Saturdays 调休 on) — decided at fire time with jobs.workdays, so the calendar
and seeds/holidays.txt apply. `next_fire` takes the same test (`is_workday`) to compute the next run.

Past times are refused ("这个时间已经过去了"), so are one-off times more than `MAX_AHEAD` away.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import texts

# APScheduler's day_of_week counts 0 = Monday, not Sunday: only names are ever written, so a
# number can never be misread. Index = date.weekday().
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_CN = "一二三四五六日"
MAX_AHEAD = timedelta(days=366)
# How far back `scheduled_time` looks for the firing a late job stands for.
LOOKBACK = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Once:
    """A one-off reminder at `at` (aware, UTC)."""

    at: datetime


@dataclass(frozen=True)
class Repeating:
    """Cron fields, local time: every day, on some days of the week, or on a day of the month."""

    hour: int
    minute: int
    days_of_week: tuple[str, ...] = ()  # names from DAY_NAMES, in week order; () = every day
    day_of_month: int | None = None
    workdays: bool = False  # only on Chinese working days (checked at fire time)

    @property
    def day_of_week(self) -> str | None:
        """The cron field: "mon,wed,fri" (names), or None for every day."""
        return ",".join(self.days_of_week) or None


Trigger = Once | Repeating


@dataclass(frozen=True)
class TimePhrase:
    trigger: Trigger
    message: str  # the text after the time phrase
    phrase: str  # the time phrase as read (normalised)
    note: str | None = None  # something the person should know (e.g. months without the 31st)


class TimePhraseError(ValueError):
    """The phrase was not understood; `message` says what, in Chinese, for the person who wrote it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Numbers


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_NUM = r"(?:\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"


def cn_number(text: str) -> int | None:
    """'9' → 9, '九' → 9, '十二' → 12, '二十' → 20, '三十一' → 31; None when it is no number."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        parts = text.split("十")
        if len(parts) != 2:
            return None
        tens_text, ones_text = parts
        tens = 1 if tens_text == "" else _CN_DIGITS.get(tens_text) if len(tens_text) == 1 else None
        ones = 0 if ones_text == "" else _CN_DIGITS.get(ones_text) if len(ones_text) == 1 else None
        if tens is None or ones is None or tens_text == "两":
            return None
        return tens * 10 + ones
    if len(text) == 1:
        return _CN_DIGITS.get(text)
    return None


# ---------------------------------------------------------------------------------------------
# Patterns (matched at a position, in this order)

_WEEK = r"(?:周|星期|礼拜)"
_WD_CHARS = "一二三四五六日天"
_WD_INDEX = {c: i for i, c in enumerate(WEEKDAY_CN)} | {"天": 6}
_SEPARATORS = "、,，和及与"
_RANGE_WORDS = "至到~-"

_RELATIVE = re.compile(
    rf"(?:(?P<half>半)个?(?:小时|钟头)"
    rf"|(?P<h>{_NUM})个?(?P<hhalf>半)?(?:小时|钟头)(?:(?P<hm>{_NUM})分钟?)?"
    rf"|(?P<m>\d{{1,4}}|{_NUM})分钟)"
    r"\s*(?:以后|之后|后)"
)
_DAILY = re.compile(r"每天|每日|天天")
_WORKDAYS = re.compile(r"(?:每个?)?工作日")
_WEEKLY = re.compile(rf"每个?{_WEEK}(?P<run>(?:[{_WD_CHARS}{_SEPARATORS}{_RANGE_WORDS}]|{_WEEK})*)")
_MONTHLY = re.compile(rf"每个?月\s*(?P<d>{_NUM})?(?P<unit>号|日)?")
_DAYS_LATER = re.compile(rf"(?P<n>{_NUM})天(?:以后|之后|后)")
_NAMED_DAY = re.compile(r"大后天|后天|明天|明日|今天|今日|今晚|明早|明晚|今早")
_WEEKDAY = re.compile(rf"(?P<pre>这个?|本|下下个?|下个?)?{_WEEK}(?P<d>[{_WD_CHARS}])?")
_FULL_DATE = re.compile(r"(?P<y>\d{4})(?:[-/.]|年)(?P<m>\d{1,2})(?:[-/.]|月)(?P<d>\d{1,2})(?:日|号)?")
_MONTH_DAY = re.compile(rf"(?P<m>{_NUM})月(?P<d>{_NUM})(?:日|号)")
_MM_DD = re.compile(r"(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")
_DAY_OF_MONTH = re.compile(rf"(?P<d>{_NUM})(?:号|日)")

_PERIOD = re.compile(r"上午|早上|早晨|早|中午|下午|傍晚|晚上|晚|夜里|半夜|凌晨")
_CLOCK = re.compile(r"(?P<h>\d{1,2})[:：](?P<m>\d{2})(?!\d)")
_HOUR = re.compile(
    rf"(?P<h>{_NUM})(?:点钟?|时)"
    rf"(?:(?P<half>半)|(?P<q>一刻|三刻)|整|(?P<mcn>{_NUM})分|(?P<m2>\d{{2}})(?!\d)(?:分)?"
    r"|(?P<mten>[一二三四五]?十[一二三四五六七八九]?)(?![号楼层栋日])(?:分)?)?"
)
_NAMED_DAY_OFFSET = {"今天": 0, "今日": 0, "今晚": 0, "今早": 0, "明天": 1, "明日": 1, "明早": 1, "明晚": 1,
                     "后天": 2, "大后天": 3}
_NAMED_DAY_PERIOD = {"今晚": "晚上", "明晚": "晚上", "今早": "上午", "明早": "上午"}
_LEAD = re.compile(r"^[\s，,：:、。.]+")
_REMIND_WORD = re.compile(r"^(?:提醒(?:我|一下|大家)?|叫我)[\s，,：:]*")


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Day:
    """What the date part said."""

    kind: str  # "daily" | "workdays" | "weekly" | "monthly" | "date" | "weekday" | "dom" | "none"
    text: str = ""
    days: tuple[int, ...] = ()  # weekly: weekday indexes
    day: date | None = None  # date: the day
    day_of_month: int | None = None  # monthly / dom
    month_day: tuple[int, int] | None = None  # M月D日 without a year
    weekday: int | None = None  # weekday
    week_offset: int | None = None  # weekday: None = next one, 0 = this week, 1 = next week, 2 = …
    period: str | None = None  # 今晚 → 晚上


def parse(text: str, now: datetime, tz: ZoneInfo) -> TimePhrase:
    """The time phrase at the start of `text`, and the rest as the message (see the module text)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        raise TimePhraseError(texts.TP_EMPTY)
    local_now = now.astimezone(tz)

    relative = _RELATIVE.match(s)
    if relative:
        delta = _relative_delta(relative)
        at = (now + delta).replace(microsecond=0)
        return _done(s, relative.end(), Once(at.astimezone(UTC)), now, tz)

    day, pos = _date_part(s, 0, local_now)
    pos = _skip_spaces(s, pos)
    period_match = _PERIOD.match(s, pos)
    period = period_match.group(0) if period_match else day.period
    if period_match:
        pos = _skip_spaces(s, period_match.end())
    clock = _time_part(s, pos, period)
    said = s[:pos].strip() or _head(s)
    if clock is None:
        if day.kind == "none" and period_match is None:
            raise TimePhraseError(texts.TP_NOT_UNDERSTOOD.format(what=_head(s)))
        if period_match is not None:
            raise TimePhraseError(texts.TP_NEED_TIME_PERIOD.format(what=said))
        raise TimePhraseError(texts.TP_NEED_TIME.format(what=said))
    hour, minute, end, explicit_period = clock
    if hour is None or minute is None:
        raise TimePhraseError(texts.TP_BAD_CLOCK.format(what=s[:end].strip()))

    if day.kind in ("daily", "workdays", "weekly", "monthly"):
        days = tuple(DAY_NAMES[i] for i in sorted(set(day.days)))
        if day.kind == "weekly" and len(days) == 7:
            days = ()
        trigger = Repeating(hour, minute, days_of_week=days, day_of_month=day.day_of_month,
                            workdays=day.kind == "workdays")
        note = (texts.TP_NOTE_MONTH_END.format(day=day.day_of_month)
                if day.day_of_month is not None and day.day_of_month > 28 else None)
        return _done(s, end, trigger, now, tz, note=note)

    at_local = _one_off(day, hour, minute, local_now, tz, s[:end].strip(),
                        guess_pm=not explicit_period and day.kind == "none" and ":" not in s[:end])
    return _done(s, end, Once(at_local.astimezone(UTC)), now, tz)


def _done(s: str, end: int, trigger: Trigger, now: datetime, tz: ZoneInfo, note: str | None = None) -> TimePhrase:
    if isinstance(trigger, Once):
        if trigger.at <= now:
            raise TimePhraseError(texts.TP_PAST.format(when=_local(trigger.at, tz, now)))
        if trigger.at - now > MAX_AHEAD:
            raise TimePhraseError(texts.TP_TOO_FAR.format(when=_local(trigger.at, tz, now)))
    rest = _REMIND_WORD.sub("", _LEAD.sub("", s[end:]))
    return TimePhrase(trigger, rest.strip(), s[:end].strip(), note)


def _head(s: str, limit: int = 12) -> str:
    """The first word of the text, to name what was not understood."""
    word = s.split()[0] if s.split() else s
    return word if len(word) <= limit else word[:limit] + "…"


def _skip_spaces(s: str, pos: int) -> int:
    while pos < len(s) and s[pos].isspace():
        pos += 1
    return pos


def _relative_delta(m: re.Match[str]) -> timedelta:
    what = m.group(0)
    if m.group("half"):
        return timedelta(minutes=30)
    if m.group("h") is not None:
        hours = cn_number(m.group("h"))
        extra = cn_number(m.group("hm")) if m.group("hm") else 0
        if hours is None or extra is None or extra > 59:
            raise TimePhraseError(texts.TP_NOT_UNDERSTOOD.format(what=what))
        delta = timedelta(hours=hours, minutes=extra + (30 if m.group("hhalf") else 0))
    else:
        minutes = cn_number(m.group("m")) if not m.group("m").isdigit() else int(m.group("m"))
        if minutes is None:
            raise TimePhraseError(texts.TP_NOT_UNDERSTOOD.format(what=what))
        delta = timedelta(minutes=minutes)
    if delta <= timedelta(0):
        raise TimePhraseError(texts.TP_ZERO.format(what=what))
    return delta


def _date_part(s: str, pos: int, local_now: datetime) -> tuple[_Day, int]:
    """The date part at `pos` (or kind "none"), and where it ends."""
    if m := _DAILY.match(s, pos):
        return _Day("daily", m.group(0)), m.end()
    if m := _WORKDAYS.match(s, pos):
        return _Day("workdays", m.group(0)), m.end()
    if m := _WEEKLY.match(s, pos):
        return _weekly(s, m)
    if m := _MONTHLY.match(s, pos):
        number = cn_number(m.group("d")) if m.group("d") else None
        if m.group("d") is None or m.group("unit") is None or number is None or not 1 <= number <= 31:
            said = m.group(0) if m.group("unit") else m.group(0)[: m.group(0).index("月") + 1]
            raise TimePhraseError(texts.TP_BAD_MONTHLY.format(what=said))
        return _Day("monthly", m.group(0), day_of_month=number), m.end()
    if m := _DAYS_LATER.match(s, pos):
        n = cn_number(m.group("n"))
        if n is None or n < 1:
            raise TimePhraseError(texts.TP_NOT_UNDERSTOOD.format(what=m.group(0)))
        return _Day("date", m.group(0), day=local_now.date() + timedelta(days=n)), m.end()
    if m := _NAMED_DAY.match(s, pos):
        word = m.group(0)
        return (_Day("date", word, day=local_now.date() + timedelta(days=_NAMED_DAY_OFFSET[word]),
                     period=_NAMED_DAY_PERIOD.get(word)), m.end())
    if m := _WEEKDAY.match(s, pos):
        if m.group("d") is None:
            raise TimePhraseError(texts.TP_BAD_WEEKDAY.format(what=s[pos:m.end() + 1].strip()))
        pre = m.group("pre") or ""
        offset = None if not pre else 0 if pre[0] in "这本" else 2 if pre.startswith("下下") else 1
        return _Day("weekday", m.group(0), weekday=_WD_INDEX[m.group("d")], week_offset=offset), m.end()
    if m := _FULL_DATE.match(s, pos):
        return _Day("date", m.group(0), day=_make_date(int(m.group("y")), int(m.group("m")), int(m.group("d")),
                                                       m.group(0))), m.end()
    for pattern in (_MONTH_DAY, _MM_DD):
        if m := pattern.match(s, pos):
            month, day_ = cn_number(m.group("m")), cn_number(m.group("d"))
            if month is None or day_ is None:
                raise TimePhraseError(texts.TP_BAD_DATE.format(what=m.group(0)))
            _make_date(2000, month, day_, m.group(0))  # a day some year has (2000 is a leap year)
            return _Day("date", m.group(0), month_day=(month, day_)), m.end()
    if m := _DAY_OF_MONTH.match(s, pos):
        number = cn_number(m.group("d"))
        if number is None or not 1 <= number <= 31:
            raise TimePhraseError(texts.TP_BAD_DATE.format(what=m.group(0)))
        return _Day("dom", m.group(0), day_of_month=number), m.end()
    return _Day("none"), pos


def _weekly(s: str, m: re.Match[str]) -> tuple[_Day, int]:
    """每周一三五 / 每周一、三、五 / 每周一至周五 / 每周一到五. A weekday character right before 点
    belongs to the hour ("每周五六点" is Friday at six)."""
    run = m.group("run")
    end = m.end()
    while run and run[-1] in _WD_CHARS and end < len(s) and s[end] in "点时":
        run, end = run[:-1], end - 1
        while run and (run[-1] in _SEPARATORS or run[-1] in _RANGE_WORDS):
            run, end = run[:-1], end - 1
    tokens = re.sub(_WEEK, "", run)
    days: list[int] = []
    pending_range = False
    for ch in tokens:
        if ch in _WD_INDEX:
            index = _WD_INDEX[ch]
            if pending_range:
                if not days or index < days[-1]:
                    raise TimePhraseError(texts.TP_BAD_WEEKDAY.format(what=s[m.start():end]))
                days.extend(range(days[-1] + 1, index + 1))
                pending_range = False
            else:
                days.append(index)
        elif ch in _RANGE_WORDS:
            pending_range = True
        # separators: nothing to do
    if not days or pending_range:
        raise TimePhraseError(texts.TP_BAD_WEEKDAY.format(what=s[m.start():end + 1].strip()))
    return _Day("weekly", s[m.start():end], days=tuple(days)), end


def _make_date(year: int, month: int, day: int, what: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise TimePhraseError(texts.TP_BAD_DATE.format(what=what)) from None


def _time_part(s: str, pos: int, period: str | None) -> tuple[int | None, int | None, int, bool] | None:
    """(hour, minute, end, period given?) of the clock time at `pos`; None when there is none.
    An hour or minute out of range comes back as None (the caller names the phrase)."""
    if m := _CLOCK.match(s, pos):
        hour, minute = int(m.group("h")), int(m.group("m"))
    elif m := _HOUR.match(s, pos):
        hour_or_none = cn_number(m.group("h"))
        if hour_or_none is None:
            return None, None, m.end(), period is not None
        hour = hour_or_none
        if m.group("half"):
            minute = 30
        elif m.group("q"):
            minute = 15 if m.group("q") == "一刻" else 45
        elif m.group("mcn") is not None:
            minute = cn_number(m.group("mcn")) if not m.group("mcn").isdigit() else int(m.group("mcn"))
            if minute is None:
                return hour, None, m.end(), period is not None
        elif m.group("m2") is not None:
            minute = int(m.group("m2"))
        elif m.group("mten") is not None:
            minute = cn_number(m.group("mten")) or 0
        else:
            minute = 0
    else:
        return None
    end = m.end()
    if period is not None:
        adjusted = _with_period(hour, period)
        if adjusted is None:
            return None, minute, end, True
        hour = adjusted
    if not 0 <= hour <= 23 or not 0 <= minute <= 59:
        return None, None, end, period is not None
    return hour, minute, end, period is not None


def _with_period(hour: int, period: str) -> int | None:
    if period in ("下午", "傍晚", "晚上", "晚"):
        if 1 <= hour <= 11:
            return hour + 12
        if 13 <= hour <= 23 or (hour == 12 and period == "下午"):
            return hour
        return None  # 晚上12点 / 下午0点: say 00:00 or 23:59
    if period == "中午":
        return hour + 12 if 1 <= hour <= 2 else hour if hour in (11, 12) else None
    if period in ("夜里", "半夜"):
        return hour + 12 if 7 <= hour <= 11 else hour if hour <= 6 or 19 <= hour <= 23 else None
    if period == "凌晨":
        return hour if hour <= 6 else None
    return hour if hour <= 12 else None  # 上午 / 早上 / 早晨 / 早


def _one_off(day: _Day, hour: int, minute: int, local_now: datetime, tz: ZoneInfo, what: str,
             *, guess_pm: bool) -> datetime:
    """The local datetime of a one-off phrase (past ones are refused by the caller)."""
    today = local_now.date()
    clock = time(hour, minute)

    def at(d: date) -> datetime:
        return datetime.combine(d, clock, tzinfo=tz)

    if day.kind == "none":
        when = at(today)
        if when <= local_now and guess_pm and 1 <= hour <= 11 and at(today).replace(hour=hour + 12) > local_now:
            return when.replace(hour=hour + 12)  # "3点" at 10:00 means 15:00
        if when <= local_now:
            raise TimePhraseError(texts.TP_PAST.format(when=f"今天 {clock:%H:%M}")
                                  + texts.TP_PAST_TOMORROW.format(time=f"{clock:%H:%M}"))
        return when
    if day.kind == "date" and day.day is not None:
        return at(day.day)
    if day.kind == "date" and day.month_day is not None:
        month, dom = day.month_day
        for year in range(today.year, today.year + 9):
            try:
                candidate = date(year, month, dom)
            except ValueError:  # 2月29日 in a common year
                continue
            if candidate >= today:
                return at(candidate)
        raise TimePhraseError(texts.TP_BAD_DATE.format(what=what))
    if day.kind == "dom" and day.day_of_month is not None:
        year, month = today.year, today.month
        for _ in range(13):
            try:
                candidate = date(year, month, day.day_of_month)
            except ValueError:
                candidate = None
            if candidate is not None and candidate >= today:
                return at(candidate)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        raise TimePhraseError(texts.TP_BAD_DATE.format(what=what))
    assert day.kind == "weekday" and day.weekday is not None
    monday = today - timedelta(days=today.weekday())
    if day.week_offset is None:  # the next one, today included while the time is ahead
        ahead = (day.weekday - today.weekday()) % 7
        candidate = today + timedelta(days=ahead)
        if at(candidate) <= local_now:
            candidate += timedelta(days=7)
        return at(candidate)
    return at(monday + timedelta(days=7 * day.week_offset + day.weekday))


# ---------------------------------------------------------------------------------------------
# Storage form, APScheduler triggers, next run, description


def to_dict(trigger: Trigger) -> dict[str, Any]:
    """The JSON form stored in `Reminder.trigger`."""
    if isinstance(trigger, Once):
        return {"type": "date", "run_at": trigger.at.astimezone(UTC).isoformat()}
    return {"type": "cron", "day_of_week": trigger.day_of_week, "day": trigger.day_of_month,
            "hour": trigger.hour, "minute": trigger.minute, "workdays": trigger.workdays}


def from_dict(data: dict[str, Any]) -> Trigger:
    """The trigger stored by `to_dict`; ValueError for anything else (a number as a day of the week
    included: those are never written, and APScheduler would read 0 as Monday)."""
    kind = data.get("type")
    if kind == "date":
        at = datetime.fromisoformat(str(data["run_at"]))
        if at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        return Once(at.astimezone(UTC))
    if kind != "cron":
        raise ValueError(f"unknown trigger type {kind!r}")
    days_text = data.get("day_of_week") or ""
    days = tuple(d.strip() for d in days_text.split(",") if d.strip())
    if any(d not in DAY_NAMES for d in days):
        raise ValueError(f"day_of_week must be day names ({', '.join(DAY_NAMES)}), got {days_text!r}")
    hour, minute, dom = data.get("hour"), data.get("minute"), data.get("day")
    if not isinstance(hour, int) or not 0 <= hour <= 23 or not isinstance(minute, int) or not 0 <= minute <= 59:
        raise ValueError(f"bad hour/minute {hour!r}:{minute!r}")
    if dom is not None and (not isinstance(dom, int) or not 1 <= dom <= 31):
        raise ValueError(f"bad day of month {dom!r}")
    return Repeating(hour, minute, days_of_week=days, day_of_month=dom, workdays=bool(data.get("workdays")))


def aps_trigger(trigger: Trigger, tz: ZoneInfo) -> Any:
    """The APScheduler trigger: a DateTrigger, or a CronTrigger with day names (a working-days
    trigger fires daily; the firing checks the calendar)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger

    if isinstance(trigger, Once):
        return DateTrigger(run_date=trigger.at.astimezone(tz), timezone=tz)
    fields: dict[str, Any] = {"hour": str(trigger.hour), "minute": str(trigger.minute), "second": "0"}
    if trigger.day_of_week:
        fields["day_of_week"] = trigger.day_of_week
    if trigger.day_of_month is not None:
        fields["day"] = str(trigger.day_of_month)
    return CronTrigger(timezone=tz, **fields)


def next_fire(
    trigger: Trigger, after: datetime, tz: ZoneInfo, is_workday: Callable[[date], bool] | None = None
) -> datetime | None:
    """The first firing at or after `after` (aware UTC), computed with APScheduler's trigger; None
    when there is none (a one-off time already past). Working-days triggers skip non-working days
    when `is_workday` is given."""
    if isinstance(trigger, Once):
        return trigger.at if trigger.at >= after else None
    aps = aps_trigger(trigger, tz)
    when = aps.get_next_fire_time(None, after.astimezone(tz))
    for _ in range(400):
        if when is None:
            return None
        if not trigger.workdays or is_workday is None or is_workday(when.astimezone(tz).date()):
            return when.astimezone(UTC)
        when = aps.get_next_fire_time(None, when + timedelta(seconds=1))
    return None


def scheduled_time(trigger: Trigger, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The firing a run at `now` stands for: a one-off reminder's own time; for a repeating one the
    latest firing at or before `now` (within LOOKBACK). A late run still names its own firing, so
    two processes running it claim the same key."""
    if isinstance(trigger, Once):
        return trigger.at
    aps = aps_trigger(trigger, tz)
    when = aps.get_next_fire_time(None, (now - LOOKBACK).astimezone(tz))
    last = None
    while when is not None and when <= now:
        last = when
        when = aps.get_next_fire_time(None, when + timedelta(seconds=1))
    return last.astimezone(UTC) if last is not None else None


def describe(trigger: Trigger, tz: ZoneInfo, now: datetime | None = None) -> str:
    """How a person reads the schedule: "每天 20:45", "每周一、三、五 08:30", "工作日 17:30",
    "每月20号 09:00", "11月28日（周六）09:00"."""
    if isinstance(trigger, Once):
        local = trigger.at.astimezone(tz)
        year = f"{local.year}年" if now is not None and now.astimezone(tz).year != local.year else ""
        return f"{year}{local.month}月{local.day}日（周{WEEKDAY_CN[local.weekday()]}）{local:%H:%M}"
    clock = f"{trigger.hour:02d}:{trigger.minute:02d}"
    if trigger.workdays:
        return f"工作日 {clock}"
    if trigger.day_of_month is not None:
        return f"每月{trigger.day_of_month}号 {clock}"
    if trigger.days_of_week:
        indexes = [DAY_NAMES.index(d) for d in trigger.days_of_week]
        if indexes == list(range(indexes[0], indexes[-1] + 1)) and len(indexes) >= 3:
            return f"每周{WEEKDAY_CN[indexes[0]]}至周{WEEKDAY_CN[indexes[-1]]} {clock}"
        return "每周" + "、".join(WEEKDAY_CN[i] for i in indexes) + f" {clock}"
    return f"每天 {clock}"


def _local(at: datetime, tz: ZoneInfo, now: datetime) -> str:
    local = at.astimezone(tz)
    year = f"{local.year}年" if now.astimezone(tz).year != local.year else ""
    return f"{year}{local.month}月{local.day}日 {local:%H:%M}"
