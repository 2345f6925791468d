"""逐级上报: who is told about a new record, and who next when nobody acknowledges it in time.

The chain comes from `seeds/escalation.toml` (admin-editable): numbered levels (1 = first told), each
with a name and the minutes to wait for an acknowledgement before the next level is told, the repeat
interval at the top, and how far complaints climb. People belong to a level through `Person.level`.

- A normal record: level 1 is told; after its wait, level 2; and so on up to the top, where the
  notification repeats every `repeat_minutes` until someone acknowledges the record.
- An urgent record: every level is told at once; then the top repeats at the interval.
- Complaints follow the same rule but climb no higher than `[complaint] top_level` (default 1: only
  the first level, reminded at the interval until someone acknowledges or accepts the complaint).
- A level with nobody (active, not a console identity) is skipped; with nobody in the whole chain the
  admins are told instead. Nothing is dropped silently.

State lives on the record: `escalated_level` (highest level told) and `next_escalation_at` (when the
next step is due; None once acknowledged). Every notification carries a dedupe key, so re-running a
step never sends it twice. The scheduler (jobs/escalation.py) finds due records and calls `advance`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import texts
from bot.core.context import Ctx
from bot.core.identity import ROLE_NAMES
from bot.core.messages import Button
from bot.core.records import log_event
from bot.outbox import ROBOT_CHANNEL, robot_chat, valid_robot_name
from bot.seedfile import LiveSeed, read_toml_seed
from bot.storage.models import Person, Record, RecordEvent
from retrieval.lexicon import SeedError, SeedProblem

log = logging.getLogger(__name__)

FILE_NAME = "escalation.toml"
MAX_MINUTES = 24 * 60
# Audit-trail actions written by escalation (actor None: the system did it).
ACTION_ESCALATED = "escalated"
ACTION_REMINDED = "reminded"
_WHAT_CHARS = 60


# ---------------------------------------------------------------------------------------------
# The chain (seeds/escalation.toml)


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    wait_minutes: int


@dataclass(frozen=True)
class Chain:
    levels: tuple[Level, ...]
    repeat_minutes: int
    complaint_top_level: int
    # A WeCom group robot (name in WECOM_ROBOT_WEBHOOKS) that also gets every new record; None: none.
    robot: str | None = None

    def top_for(self, kind: str) -> int:
        """The highest level a record of this kind climbs to."""
        top = self.levels[-1].number
        return min(top, self.complaint_top_level) if kind == "complaint" else top

    def levels_for(self, kind: str) -> tuple[Level, ...]:
        top = self.top_for(kind)
        return tuple(level for level in self.levels if level.number <= top)


DEFAULT_CHAIN = Chain(
    levels=(Level(1, "班长", 15), Level(2, "保卫科", 30), Level(3, "项目部领导", 60)),
    repeat_minutes=30,
    complaint_top_level=1,
)




def parse_chain(raw: str, file: str) -> tuple[Chain | None, list[SeedProblem]]:
    """The chain in `raw`, or None with every problem found (line numbers, Chinese messages).

    Messages do not repeat the line number: `SeedProblem.line` carries it (0 = the whole file).
    """
    seed, problems = read_toml_seed(
        raw, file, top_keys=("level", "top", "complaint", "robot"),
        top_keys_text="[[level]]、[top]、[complaint]、[robot]",
        syntax_hint=("文字要用英文双引号括起来（name = \"班长\"），"
            "分钟数只写数字（wait_minutes = 15），表头写成 [[level]]、[top]、[complaint]。"),
    )
    if seed is None:
        return None, problems

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    data = seed.data
    line_of = seed.line_of

    def minutes(value: Any, line: int, what: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
            problem(line, f"{what}要写 1 到 {MAX_MINUTES} 之间的整数分钟，现在是“{value}”。")
            return None
        return value

    levels: list[Level] = []
    raw_levels = data.get("level", [])
    if not isinstance(raw_levels, list) or not raw_levels:
        problem(0, "至少要有一级：用 [[level]] 写出第 1 级（level、name、wait_minutes）。")
        raw_levels = []
    names: dict[str, int] = {}
    for i, entry in enumerate(raw_levels):
        header = line_of("level", index=i)
        if not isinstance(entry, dict):
            problem(header, "每一级要写成 [[level]] 表。")
            continue
        for key in entry:
            if key not in ("level", "name", "wait_minutes"):
                problem(line_of("level", key, i),
                        f"不认识的设置“{key}”（每一级只有 level、name、wait_minutes）。")
        missing = [key for key in ("level", "name", "wait_minutes") if key not in entry]
        if missing:
            problem(header, f"这一级缺少 {'、'.join(missing)}。")
            continue
        number, name = entry["level"], entry["name"]
        if isinstance(number, bool) or not isinstance(number, int) or number != i + 1:
            problem(line_of("level", "level", i),
                    f"级别要从 1 开始按顺序写，这里应该是 level = {i + 1}，现在是“{number}”。")
            continue
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 20:
            problem(line_of("level", "name", i), "名称要写 1 到 20 个字，例如 name = \"班长\"。")
            continue
        name = name.strip()
        if name in names:
            problem(line_of("level", "name", i), f"名称“{name}”和第 {names[name]} 级重复了。")
            continue
        names[name] = number
        wait = minutes(entry["wait_minutes"], line_of("level", "wait_minutes", i),
                       "wait_minutes（等待确认的时间）")
        if wait is None:
            continue
        levels.append(Level(number, name, wait))

    repeat: int | None = None
    top = data.get("top")
    if not isinstance(top, dict) or "repeat_minutes" not in top:
        problem(line_of("top"), "缺少 [top] 的 repeat_minutes（到最高一级后每隔多少分钟再提醒）。")
    else:
        for key in top:
            if key != "repeat_minutes":
                problem(line_of("top", key), f"不认识的设置“{key}”（[top] 只有 repeat_minutes）。")
        repeat = minutes(top["repeat_minutes"], line_of("top", "repeat_minutes"),
                         "repeat_minutes（重复提醒间隔）")

    complaint_top: int | None = None
    complaint = data.get("complaint")
    if not isinstance(complaint, dict) or "top_level" not in complaint:
        problem(line_of("complaint"), "缺少 [complaint] 的 top_level（投诉最高通知到第几级）。")
    else:
        for key in complaint:
            if key != "top_level":
                problem(line_of("complaint", key), f"不认识的设置“{key}”（[complaint] 只有 top_level）。")
        value = complaint["top_level"]
        count = len(raw_levels)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max(count, 1):
            problem(line_of("complaint", "top_level"),
                    f"top_level 要写 1 到 {max(count, 1)} 之间的级别，现在是“{value}”。")
        else:
            complaint_top = value

    robot: str | None = None
    robot_table = data.get("robot")
    if robot_table is not None:
        if not isinstance(robot_table, dict):
            problem(line_of("robot"), "[robot] 要写成表，例如 [robot] 下面一行 name = \"经理群\"。")
        else:
            for key in robot_table:
                if key != "name":
                    problem(line_of("robot", key), f"不认识的设置“{key}”（[robot] 只有 name）。")
            name = robot_table.get("name")
            if not isinstance(name, str) or not valid_robot_name(name.strip()):
                problem(line_of("robot", "name") if "name" in robot_table else line_of("robot"),
                        "[robot] 的 name 要写企业微信群机器人的名称（和 WECOM_ROBOT_WEBHOOKS 里的一致，"
                        "1 到 30 个字，不含空格、引号和冒号），例如 name = \"经理群\"。")
            else:
                robot = name.strip()

    if problems or repeat is None or complaint_top is None:
        return None, sorted(problems, key=lambda p: p.line)
    return Chain(tuple(levels), repeat, complaint_top, robot), []


def check_escalation(path: Path) -> list[SeedProblem]:
    """Every problem of the escalation file (`dutybot seeds check`); empty when it is fine."""
    return _read(path)[1]


def load_chain(path: Path) -> Chain:
    """The chain in `path`; raises SeedError listing every problem."""
    chain, problems = _read(path)
    if chain is None:
        raise SeedError(problems)
    return chain


def _read(path: Path) -> tuple[Chain | None, list[SeedProblem]]:
    if not path.is_file():
        return None, [SeedProblem(str(path), 0, "找不到逐级上报设置文件 escalation.toml。")]
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, [SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。")]
    return parse_chain(raw, str(path))


_CHAIN: LiveSeed[Chain] = LiveSeed("escalation chain", _read, DEFAULT_CHAIN)


def chain_of(ctx: Ctx) -> Chain:
    """The chain now in force (the seed file, re-read when it changes; see LiveSeed)."""
    return _CHAIN.get(ctx.services.settings.seeds_dir / FILE_NAME)


# ---------------------------------------------------------------------------------------------
# Who is told, and what


def admins(session: Session) -> list[Person]:
    return list(session.scalars(
        select(Person)
        .where(Person.role == "admin", Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id)
    ).all())


def is_pending(record: Record) -> bool:
    """Still waiting for someone to acknowledge it (nobody acked, accepted, assigned or closed it)."""
    return record.acked_at is None and record.status == "new"


def start(ctx: Ctx, record: Record) -> int:
    """Tell the first people about a new record (in the filer's transaction) and set the next step.

    Returns how many people were told, so the filer's reply never claims a notification that did not
    happen (e.g. nobody registered yet)."""
    before = len(ctx.notifications)
    _start(ctx, record)
    return len(ctx.notifications) - before


def _start(ctx: Ctx, record: Record) -> None:
    chain = chain_of(ctx)
    _post_to_robot(ctx, record, chain)
    staffed = _staffed(ctx.session, chain.levels_for(record.kind))
    if not staffed:
        _tell_admins(ctx, record, chain)
        return
    if record.urgent:
        for level, people in staffed:
            text = _text(ctx, record, chain, staffed, level, first_line=None, repeat=True)
            _tell(ctx, record, people, text, level.number, 0)
        record.escalated_level = chain.top_for(record.kind)
        record.next_escalation_at = ctx.now + timedelta(minutes=chain.repeat_minutes)
        log_event(ctx.session, record, None, ACTION_ESCALATED,
                  texts.ESC_NOTE_URGENT.format(targets=_targets(staffed)), ctx.now)
        return
    level, people = staffed[0]
    _notify_level(ctx, record, chain, staffed, level, people, first_line=None)
    log_event(ctx.session, record, None, ACTION_ESCALATED,
              texts.ESC_NOTE_START.format(targets=_targets([(level, people)])), ctx.now)


def _post_to_robot(ctx: Ctx, record: Record, chain: Chain) -> None:
    """A copy of a new record for the group robot of escalation.toml's [robot] (no buttons there:
    it says how to acknowledge in the app)."""
    if chain.robot is None:
        return
    if ROBOT_CHANNEL not in ctx.services.active_channels:
        log.warning("escalation.toml names group robot %r but WeCom is not running; not posted", chain.robot)
        return
    text = "\n".join([*_body(ctx, record), texts.ESC_ROBOT_HOW.format(number=record.number)])
    ctx.post(ROBOT_CHANNEL, robot_chat(chain.robot), text, dedupe_key=f"esc:{record.id}:robot")


def acknowledged(ctx: Ctx, record: Record) -> None:
    """Someone took the record (收到 / 受理 / 指派 / 关闭): no more escalation."""
    record.next_escalation_at = None


def advance(ctx: Ctx, record: Record) -> None:
    """The next step of a due record: climb one level, or repeat at the top. The caller holds the row."""
    if not is_pending(record):
        record.next_escalation_at = None
        return
    chain = chain_of(ctx)
    staffed = _staffed(ctx.session, chain.levels_for(record.kind))
    if not staffed:
        _tell_admins(ctx, record, chain)
        return
    higher = [(level, people) for level, people in staffed if level.number > record.escalated_level]
    if higher:
        level, people = higher[0]
        told = chain.levels[record.escalated_level - 1] if 1 <= record.escalated_level <= len(chain.levels) \
            else None
        first = texts.ESC_CLIMBED.format(level=told.name, minutes=told.wait_minutes) if told else None
        _notify_level(ctx, record, chain, staffed, level, people, first_line=first)
        log_event(ctx.session, record, None, ACTION_ESCALATED,
                  texts.ESC_NOTE_CLIMB.format(targets=_targets([(level, people)])), ctx.now)
        return
    level, people = staffed[-1]
    n = _reminders(ctx.session, record) + 1
    text = _text(ctx, record, chain, staffed, level, first_line=texts.ESC_REPEATED.format(n=n + 1),
                 repeat=True)
    _tell(ctx, record, people, text, level.number, n)
    record.next_escalation_at = ctx.now + timedelta(minutes=chain.repeat_minutes)
    log_event(ctx.session, record, None, ACTION_REMINDED,
              texts.ESC_NOTE_REPEAT.format(n=n + 1, targets=_targets([(level, people)])), ctx.now)


def _staffed(session: Session, levels: Sequence[Level]) -> list[tuple[Level, list[Person]]]:
    """The levels that have someone to tell, in order, with their people (one query for all levels)."""
    numbers = [level.number for level in levels]
    people = session.scalars(
        select(Person)
        .where(Person.level.in_(numbers), Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id)
    ).all()
    staffed = []
    for level in levels:
        at_level = [p for p in people if p.level == level.number]
        if at_level:
            staffed.append((level, at_level))
        else:
            log.warning("escalation level %s (%s) has nobody; skipped", level.number, level.name)
    return staffed


def _notify_level(
    ctx: Ctx,
    record: Record,
    chain: Chain,
    staffed: list[tuple[Level, list[Person]]],
    level: Level,
    people: list[Person],
    first_line: str | None,
) -> None:
    text = _text(ctx, record, chain, staffed, level, first_line=first_line, repeat=False)
    _tell(ctx, record, people, text, level.number, 0)
    record.escalated_level = level.number
    record.next_escalation_at = ctx.now + timedelta(minutes=level.wait_minutes)


def _tell_admins(ctx: Ctx, record: Record, chain: Chain) -> None:
    """Nobody in the chain: the admins hear of it, at the repeat interval, until someone acks."""
    people = admins(ctx.session)
    n = _reminders(ctx.session, record)
    record.next_escalation_at = ctx.now + timedelta(minutes=chain.repeat_minutes)
    if not people:
        log.error("record %s: nobody in the escalation chain and no admin to tell", record.number)
        if n == 0:
            log_event(ctx.session, record, None, ACTION_REMINDED, texts.ESC_NOTE_NOBODY, ctx.now)
        return
    text = "\n".join([texts.ESC_NOBODY, *_body(ctx, record),
                      texts.ESC_NEXT_REPEAT.format(minutes=chain.repeat_minutes)])
    for person in people:
        ctx.notify(person, text, _buttons(record), dedupe_key=f"esc:{record.id}:admin:{n}:{person.id}")
    names = "、".join(p.name for p in people)
    log_event(ctx.session, record, None, ACTION_REMINDED, texts.ESC_NOTE_ADMINS.format(targets=names),
              ctx.now)


def _tell(ctx: Ctx, record: Record, people: list[Person], text: str, level: int, round_: int) -> None:
    for person in people:
        ctx.notify(person, text, _buttons(record), dedupe_key=f"esc:{record.id}:{level}:{round_}:{person.id}")


def _reminders(session: Session, record: Record) -> int:
    """How many times the top has been reminded already (the round of the next reminder)."""
    return int(session.scalar(
        select(func.count()).select_from(RecordEvent)
        .where(RecordEvent.record_id == record.id, RecordEvent.action == ACTION_REMINDED)
    ) or 0)


def _targets(staffed: Sequence[tuple[Level, list[Person]]]) -> str:
    return "；".join(f"{level.name}（{'、'.join(p.name for p in people)}）" for level, people in staffed)


def _buttons(record: Record) -> tuple[Button, ...]:
    take = (Button(texts.ESC_BUTTON_ACCEPT, f"/accept {record.number}") if record.kind == "complaint"
            else Button(texts.ESC_BUTTON_ACK, f"/ack {record.number}"))
    return (take, Button(texts.ESC_BUTTON_ASSIGN, f"/assign {record.number} "),
            Button(texts.ESC_BUTTON_SHOW, f"/show {record.number}"))


def local_time(ctx: Ctx, at: datetime) -> str:
    local = at.astimezone(ctx.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _body(ctx: Ctx, record: Record) -> list[str]:
    author = record.author or ctx.session.get(Person, record.author_id)
    who = f"{author.name}（{ROLE_NAMES.get(author.role, author.role)}）" if author else "?"
    lines = [
        texts.ESC_HEAD.format(kind=texts.ESC_KIND.get(record.kind, record.kind), number=record.number,
                              urgent=texts.ESC_URGENT if record.urgent else "").rstrip(),
        texts.ESC_FILED_BY.format(who=who, when=local_time(ctx, record.created_at)),
    ]
    if record.location:
        lines.append(texts.ESC_WHERE.format(where=record.location))
    if record.customer:
        lines.append(texts.ESC_CUSTOMER.format(customer=record.customer))
    what = " ".join(record.content.split())
    if len(what) > _WHAT_CHARS:
        what = what[:_WHAT_CHARS] + "…"
    lines.append(texts.ESC_WHAT.format(what=what))
    return lines


def _text(
    ctx: Ctx,
    record: Record,
    chain: Chain,
    staffed: Sequence[tuple[Level, list[Person]]],
    level: Level,
    *,
    first_line: str | None,
    repeat: bool,
) -> str:
    """The notification: what happened, and what happens if nobody acknowledges it."""
    above = [lv for lv, _ in staffed if lv.number > level.number]
    if repeat:
        next_line = texts.ESC_NEXT_REPEAT.format(minutes=chain.repeat_minutes)
    elif above:
        next_line = texts.ESC_NEXT_LEVEL.format(minutes=level.wait_minutes, level=above[0].name)
    else:
        next_line = texts.ESC_NEXT_REPEAT.format(minutes=level.wait_minutes)
    lines = [first_line] if first_line else []
    if record.urgent and repeat and first_line is None:
        lines.append(texts.ESC_URGENT_ALL.format(levels="、".join(lv.name for lv, _ in staffed)))
    return "\n".join([*lines, *_body(ctx, record), next_line])
