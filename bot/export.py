"""Exporting records: the date range a manager typed, the rows, and the CSV / XLSX files.

Dates (local, inclusive), as typed after 导出:
  (nothing)                     this month so far (the 1st … today)
  2026-11-01 2026-11-30         also 2026/11/01, 2026.11.01, 20261101, 2026年11月1日
  11-01 11-30                   also 11/01, 11月1日, 11月1号 — the current year, or last year for
                                a month later than the current one (typing 12-01 in January)
  11月 / 2026-11 / 2026年11月    the whole month
  one date                      that day only
Two dates may be joined by 到, 至, ~ instead of a space.

Files: one row per record created in the range. The CSV is UTF-8 with a BOM (Excel opens it with
the right characters); the XLSX is written with openpyxl. Any cell starting with =, +, -, @, a tab
or a carriage return is prefixed with ' in both, so a spreadsheet never runs it as a formula
("CSV injection"); characters XLSX cannot hold are dropped.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import records, texts
from bot.storage.models import Record

COLUMNS = texts.MG_EXPORT_COLUMNS
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_FULL = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})[日号]?)$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SHORT = re.compile(r"^(?:(\d{1,2})[-/.](\d{1,2})|(\d{1,2})月(\d{1,2})[日号]?)$")
_MONTH = re.compile(r"^(?:(\d{4})(?:[-/.]|年)(\d{1,2})月?|(\d{1,2})月(?:份)?)$")
_SEPARATORS = re.compile(r"\s+|到|至|~|—+")


@dataclass(frozen=True)
class RangeError:
    """What could not be read (`text`), or the two dates when they are the wrong way round."""

    text: str
    backwards: tuple[date, date] | None = None


def _infer_year(month: int, today: date) -> int:
    """A date typed without a year is this year's, unless its month has not come yet (then last year's)."""
    return today.year if month <= today.month else today.year - 1


def _day(token: str, today: date) -> date | None:
    try:
        m = _FULL.match(token)
        if m:
            month, day = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
            return date(int(m.group(1)), int(month), int(day))
        m = _COMPACT.match(token)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _SHORT.match(token)
        if m:
            month, day = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            return date(_infer_year(int(month), today), int(month), int(day))
    except ValueError:  # 2月30日
        return None
    return None


def _month(token: str, today: date) -> tuple[date, date] | None:
    m = _MONTH.match(token)
    if not m:
        return None
    if m.group(1):
        year, month = int(m.group(1)), int(m.group(2))
    else:
        month = int(m.group(3))
        year = _infer_year(month, today) if 1 <= month <= 12 else 0
    if not 1 <= month <= 12 or year < 1:
        return None
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _span(token: str, today: date) -> tuple[date, date] | None:
    day = _day(token, today)
    if day is not None:
        return day, day
    return _month(token, today)


def parse_range(text: str, today: date) -> tuple[date, date] | RangeError:
    """The inclusive local date range typed after 导出 (see the module docstring)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    tokens = [t for t in _SEPARATORS.split(cleaned) if t]
    if not tokens:
        return today.replace(day=1), today
    if len(tokens) > 2:
        return RangeError(cleaned)
    spans = []
    for token in tokens:
        span = _span(token, today)
        if span is None:
            return RangeError(token)
        spans.append(span)
    start, end = spans[0][0], spans[-1][1]
    if start > end:
        return RangeError(cleaned, backwards=(start, end))
    return start, end


def day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def file_names(start: date, end: date) -> tuple[str, str]:
    stem = f"records_{start:%Y%m%d}-{end:%Y%m%d}"
    return f"{stem}.csv", f"{stem}.xlsx"


# ---------------------------------------------------------------------------------------------
# Rows


def _when(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def record_rows(session: Session, start: date, end: date, tz: ZoneInfo) -> list[list[str]]:
    """One row (the COLUMNS) per record created from `start` to `end`, local dates, inclusive."""
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    found = session.scalars(
        select(Record).where(Record.created_at >= since, Record.created_at < until)
        .order_by(Record.created_at, Record.id)
    ).all()
    rows = []
    for r in found:
        rows.append([
            r.number,
            texts.MG_KIND.get(r.kind, r.kind),
            records.STATUS_NAMES.get(r.status, r.status),
            texts.MG_YES if r.urgent else texts.MG_NO,
            r.content,
            r.location or "",
            r.category or "",
            r.customer or "",
            r.contact or "",
            r.author.name if r.author else "",
            r.assignee.name if r.assignee else "",
            _when(r.created_at, tz),
            _when(r.acked_at, tz),
            _when(r.due_at, tz),
            r.resolution or "",
            _when(r.closed_at, tz),
        ])
    return rows


def neutralize(value: str) -> str:
    """A cell a spreadsheet would read as a formula gets a leading ' (shown, never run)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([neutralize(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")


_WIDTHS = {"编号": 18, "内容": 40, "处理结果": 30, "地点": 16, "登记时间": 17, "确认时间": 17, "期限": 17,
           "关闭时间": 17}


def to_xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "记录"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([neutralize(ILLEGAL_CHARACTERS_RE.sub("", cell)) for cell in row])
    for index, name in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = _WIDTHS.get(name, 10)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
