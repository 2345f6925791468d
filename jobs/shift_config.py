"""Shift definitions (班次): the seed file `seeds/shifts.toml`, its checker and the shifts in force.

Shift definitions live in `seeds/shifts.toml` (admin-editable, checked by `dutybot seeds check`,
re-read when the file changes; a broken file keeps the last good version or the built-in default).
An assignment (`ShiftAssignment`) stores its own start and end (aware UTC), computed from the shift
when it was made: editing a shift's hours changes later assignments only. Its reminder settings
(minutes before, grace, welfare interval) are read from the file in force at tick time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from bot.core.context import Ctx
from bot.seedfile import LiveSeed, read_toml_seed
from jobs.shift_days import REMOVE_WORDS, parse_day
from retrieval.lexicon import SeedError, SeedProblem

FILE_NAME = "shifts.toml"
DEFAULT_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

MAX_MINUTES = 720


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
    seed, problems = read_toml_seed(
        raw, file, top_keys=("defaults", "shift"), top_keys_text="[defaults] 和 [[shift]]",
        syntax_hint=("时间和名称要用英文双引号括起来（start = \"08:00\"、name = \"白班\"），"
            "分钟数只写数字，表头写成 [defaults] 和 [[shift]]。"),
    )
    if seed is None:
        return None, problems

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    data: dict[str, Any] = seed.data
    line_of = seed.line_of

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
