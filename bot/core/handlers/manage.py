"""Following records to closure: 待办, 查看, 查询, 收到, 指派, 备注, 受理, 处理中, 解决, 回访, 关闭, 导出.

Who may do what:
- managers and admins: everything, on every record;
- the assignee of a record (any role): 查看, 备注, 处理中, 解决 on that record;
- the author: 查看 / 查询 and 备注 on their own records;
- everyone: 查询 (their own records only; another person's number gets the same "没有找到" as a
  number that does not exist, so existence is never leaked).

Status rules live in bot.core.lifecycle; the export file formats in bot.export.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, select

from bot import export as exporting
from bot.core import lifecycle, texts
from bot.core.context import Ctx
from bot.core.identity import ROLE_NAMES
from bot.core.lifecycle import is_manager, local_time, may_act, may_see, short, status_name, who
from bot.core.messages import Button, Document
from bot.core.records import NOT_CLOSED, OPEN_STATUSES
from bot.core.router import Route
from bot.storage.models import Person, Record

if TYPE_CHECKING:
    from bot.core.dialogs import Step

OPEN_LIMIT = 30
STATUS_LIMIT = 10
SHOW_EVENTS = 15

# The command word used in replies' examples ("请写上编号，例如：收到 SJ-…").
_WORD = {
    "show": "查看", "status": "查询", "ack": "收到", "assign": "指派", "note": "备注", "accept": "受理",
    "progress": "处理中", "resolve": "解决", "visit": "回访", "close": "关闭",
}


# ---------------------------------------------------------------------------------------------
# Shared steps


def _record_from(ctx: Ctx, command: str, args: str, *, lock: bool) -> tuple[Record | None, str]:
    """The record named at the start of `args` and the rest of the line; replies and returns None
    when there is no number, it is malformed or it names nothing this person may see."""
    if not args.strip():
        ctx.reply(texts.MG_NEED_NUMBER.format(command=_WORD.get(command, command)))
        return None, ""
    number, rest = lifecycle.split_number(args)
    if number is None:
        ctx.reply(texts.MG_NOT_A_NUMBER.format(text=short(lifecycle.clean_text(args), 30)))
        return None, ""
    record = lifecycle.load(ctx, number, lock=lock)
    if record is None or not may_see(ctx.person, record):
        ctx.reply(texts.MG_NOT_FOUND.format(number=number))
        return None, ""
    return record, lifecycle.clean_text(rest)


def _step(ctx: Ctx, args: str, action: str) -> None:
    record, note = _record_from(ctx, action, args, lock=True)
    if record is None:
        return
    allowed = may_act(ctx.person, record) or (action == "note" and may_see(ctx.person, record))
    if not allowed:
        ctx.reply(texts.NOT_ALLOWED)
        return
    action = lifecycle.effective_action(record, action)
    problem = lifecycle.refusal(ctx, record, action, note)
    if problem:
        ctx.reply(problem)
        return
    lifecycle.apply(ctx, record, action, note)
    lines = [texts.MG_DONE[action].format(number=record.number)]
    if action == "ack":
        lines.append(texts.MG_ACK_NEXT_INCIDENT.format(number=record.number))
    if action == "resolve":
        hint = (texts.MG_RESOLVED_NEXT_COMPLAINT if record.kind == "complaint"
                else texts.MG_RESOLVED_NEXT_INCIDENT)
        if is_manager(ctx.person):
            lines.append(hint.format(number=record.number))
    ctx.reply("\n".join(lines))


def ack(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "ack")


def accept(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "accept")


def note(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "note")


def progress(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "progress")


def resolve(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "resolve")


def visit(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "visit")


def close(ctx: Ctx, args: str) -> None:
    _step(ctx, args, "close")


# ---------------------------------------------------------------------------------------------
# 指派 N 姓名 [序号]


def _label(person: Person) -> str:
    return f"{person.name}（{ROLE_NAMES.get(person.role, person.role)}）"


def _choices(people: list[Person]) -> str:
    return "\n".join(f"{i}. {_label(p)}" for i, p in enumerate(people, start=1))


def _candidates(ctx: Ctx, name: str) -> tuple[list[Person], bool]:
    """People called `name` (exact), else people whose name contains it or is contained in it.

    Returns (people ordered by id, exact?). Console identities are never assignees.
    """
    active = select(Person).where(Person.active.is_(True), Person.is_console.is_(False)).order_by(Person.id)
    exact = list(ctx.session.scalars(active.where(Person.name == name)).all())
    if exact:
        return exact, True
    everyone = ctx.session.scalars(active).all()
    return [p for p in everyone if name in p.name or (len(p.name) >= 2 and p.name in name)], False


def assign(ctx: Ctx, args: str) -> None:
    record, rest = _record_from(ctx, "assign", args, lock=True)
    if record is None:
        return
    number = record.number
    if record.status == "closed":
        when = local_time(record.closed_at or record.updated_at, ctx.tz, ctx.now)
        ctx.reply(texts.MG_ASSIGN_CLOSED.format(number=number, when=when))
        return
    parts = rest.split()
    if not parts:
        ctx.reply(texts.MG_ASSIGN_NEED_NAME.format(number=number))
        return
    index: int | None = None
    if len(parts) >= 2 and parts[-1].isdigit():
        index = int(parts[-1])
        parts = parts[:-1]
    name = " ".join(parts)
    people, exact = _candidates(ctx, name)
    if not people:
        ctx.reply(texts.MG_ASSIGN_UNKNOWN.format(name=short(name, 20), number=number))
        return
    if index is None and exact and len(people) == 1:
        chosen = people[0]
    elif index is None:
        template = texts.MG_ASSIGN_CHOOSE if exact else texts.MG_ASSIGN_SIMILAR
        buttons = [Button(f"{i}. {_label(p)}", f"/assign {number} {name} {i}")
                   for i, p in enumerate(people, start=1)]
        ctx.reply(template.format(count=len(people), name=name, number=number, choices=_choices(people)),
                  buttons[:10])
        return
    elif not 1 <= index <= len(people):
        ctx.reply(texts.MG_ASSIGN_BAD_INDEX.format(count=len(people), choices=_choices(people)))
        return
    else:
        chosen = people[index - 1]
    if record.assignee_id == chosen.id:
        ctx.reply(texts.MG_ASSIGN_SAME.format(number=number, name=_label(chosen)))
        return
    lifecycle.assign(ctx, record, chosen)
    assert ctx.person is not None
    template = texts.MG_ASSIGNED_SELF if chosen.id == ctx.person.id else texts.MG_ASSIGNED
    ctx.reply(template.format(number=number, name=_label(chosen)))


# ---------------------------------------------------------------------------------------------
# 待办


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return texts.MG_JUST_NOW
    if seconds < 3600:
        return texts.MG_MINUTES_AGO.format(n=seconds // 60)
    if seconds < 86400:
        return texts.MG_HOURS_AGO.format(n=seconds // 3600)
    return texts.MG_DAYS_AGO.format(n=seconds // 86400)


def _still_open(record: Record) -> bool:
    """Still being worked on (resolved / visited ones only wait for closing)."""
    return record.status in OPEN_STATUSES


def _overdue(record: Record, now: datetime) -> bool:
    return _still_open(record) and record.due_at is not None and record.due_at < now


def _due_mark(ctx: Ctx, record: Record) -> str:
    if record.due_at is None or not _still_open(record):
        return ""
    if record.due_at < ctx.now:
        return texts.MG_OVERDUE
    return texts.MG_DUE.format(when=local_time(record.due_at, ctx.tz, ctx.now))


def open_(ctx: Ctx, _args: str) -> None:
    """Every record not closed: urgent ones still open first, then overdue ones, then oldest first."""
    now = ctx.now
    still_open = Record.status.in_(OPEN_STATUSES)
    urgent = and_(still_open, Record.urgent.is_(True))
    overdue = and_(still_open, Record.due_at.is_not(None), Record.due_at < now)
    pending = Record.status.in_(NOT_CLOSED)
    total, n_urgent, n_overdue = ctx.session.execute(
        select(func.count(), func.count(case((urgent, 1))), func.count(case((overdue, 1))))
        .select_from(Record).where(pending)
    ).one()
    if not total:
        ctx.reply(texts.MG_OPEN_NONE)
        return
    shown = ctx.session.scalars(
        select(Record).where(pending)
        .order_by(case((urgent, 0), else_=1), case((overdue, 0), else_=1), Record.created_at, Record.id)
        .limit(OPEN_LIMIT)
    ).all()
    lines = [texts.MG_OPEN_HEAD.format(total=total, urgent=n_urgent, overdue=n_overdue)]
    for record in shown:
        mark = f" {texts.MG_URGENT}" if record.urgent and _still_open(record) else ""
        due = _due_mark(ctx, record)
        lines.append(
            f"{record.number}{mark} [{status_name(record)}] {short(record.content)} · "
            f"{who(record.author)} · {_age(now, record.created_at)}" + (f" · {due}" if due else "")
        )
    if total > len(shown):
        lines.append(texts.MG_OPEN_MORE.format(more=total - len(shown)))
    lines.append(texts.MG_OPEN_FOOT)
    ctx.reply("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# 查看 / 查询


def _details(ctx: Ctx, record: Record, *, events: bool) -> list[str]:
    def at(when: datetime) -> str:
        return local_time(when, ctx.tz, ctx.now)

    lines = [
        texts.MG_SHOW_HEAD.format(kind=lifecycle.kind_name(record), number=record.number,
                                  urgent=texts.MG_URGENT if record.urgent else "").rstrip(),
        texts.MG_SHOW_STATUS.format(status=status_name(record)),
        texts.MG_SHOW_CONTENT.format(content=record.content),
    ]
    if record.location:
        lines.append(texts.MG_SHOW_LOCATION.format(location=record.location))
    if record.category:
        lines.append(texts.MG_SHOW_CATEGORY.format(category=record.category))
    if record.customer:
        lines.append(texts.MG_SHOW_CUSTOMER.format(customer=record.customer))
    if record.contact:
        lines.append(texts.MG_SHOW_CONTACT.format(contact=record.contact))
    lines.append(texts.MG_SHOW_AUTHOR.format(who=_label(record.author) if record.author else "?",
                                             when=at(record.created_at)))
    if record.assignee is not None:
        lines.append(texts.MG_SHOW_ASSIGNEE.format(who=_label(record.assignee)))
    if record.acked_at is not None:
        acker = ctx.session.get(Person, record.acked_by) if record.acked_by else None
        lines.append(texts.MG_SHOW_ACKED.format(who=who(acker), when=at(record.acked_at)))
    if record.due_at is not None:
        overdue = f"（{texts.MG_OVERDUE}）" if _overdue(record, ctx.now) else ""
        lines.append(texts.MG_SHOW_DUE.format(when=at(record.due_at), overdue=overdue))
    if record.resolution:
        lines.append(texts.MG_SHOW_RESOLUTION.format(resolution=record.resolution))
    if record.closed_at is not None:
        lines.append(texts.MG_SHOW_CLOSED.format(when=at(record.closed_at)))
    if record.attachments:
        counts: dict[str, int] = {}
        for item in record.attachments:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        items = "、".join(f"{texts.MG_ATTACHMENT_KIND.get(k, k)} {n}" for k, n in counts.items())
        lines.append(texts.MG_SHOW_ATTACHMENTS.format(items=items))
    if events and record.events:
        lines.append(texts.MG_SHOW_EVENTS)
        shown = record.events[-SHOW_EVENTS:]
        if len(record.events) > len(shown):
            lines.append(texts.MG_SHOW_EVENTS_MORE.format(more=len(record.events) - len(shown)))
        for event in shown:
            action = texts.MG_EVENT.get(event.action, event.action)
            note = f"：{short(event.note, 80)}" if event.note else ""
            lines.append(f"· {at(event.at)} {who(event.actor)} {action}{note}")
    return lines


def _buttons(ctx: Ctx, record: Record) -> list[Button]:
    """One-tap next steps that need no text (the others are typed)."""
    if not is_manager(ctx.person):
        return []
    n = record.number
    if record.status == "new":
        take = ("受理", f"/accept {n}") if record.kind == "complaint" else ("收到", f"/ack {n}")
        return [Button(*take), Button("指派", f"/assign {n} ")]
    natural_end = "visited" if record.kind == "complaint" else "resolved"
    if record.status == natural_end:
        return [Button("关闭", f"/close {n}")]
    return []


def show(ctx: Ctx, args: str) -> None:
    record, _rest = _record_from(ctx, "show", args, lock=False)
    if record is None:
        return
    ctx.reply("\n".join(_details(ctx, record, events=True)), _buttons(ctx, record))


def status(ctx: Ctx, args: str) -> None:
    """查询: the sender's own records (managers may look up any record, as with 查看)."""
    assert ctx.person is not None
    if not args.strip():
        _my_records(ctx)
        return
    record, _rest = _record_from(ctx, "status", args, lock=False)
    if record is None:
        return
    if record.author_id != ctx.person.id and not is_manager(ctx.person):
        # An assignee sees it through 查看; 查询 is only for what one filed.
        ctx.reply(texts.MG_NOT_FOUND.format(number=record.number))
        return
    ctx.reply("\n".join(_details(ctx, record, events=is_manager(ctx.person))))


def _my_records(ctx: Ctx) -> None:
    assert ctx.person is not None
    mine = ctx.session.scalars(
        select(Record).where(Record.author_id == ctx.person.id)
        .order_by(Record.created_at.desc(), Record.id.desc()).limit(STATUS_LIMIT)
    ).all()
    if not mine:
        ctx.reply(texts.MG_STATUS_NONE)
        return
    lines = [texts.MG_STATUS_HEAD]
    for record in mine:
        lines.append(f"{record.number} [{status_name(record)}] {short(record.content)} · "
                     f"{_age(ctx.now, record.created_at)}")
    lines.append(texts.MG_STATUS_FOOT)
    ctx.reply("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# 导出


def export(ctx: Ctx, args: str) -> None:
    if ctx.msg.is_group:
        ctx.reply(texts.MG_EXPORT_PRIVATE_ONLY)
        return
    today = ctx.local_now.date()
    parsed = exporting.parse_range(args, today)
    if isinstance(parsed, exporting.RangeError):
        if parsed.backwards is not None:
            start, end = parsed.backwards
            ctx.reply(texts.MG_EXPORT_BACKWARDS.format(start=exporting.day_label(start),
                                                       end=exporting.day_label(end)))
        else:
            ctx.reply(texts.MG_EXPORT_BAD_DATES.format(text=short(lifecycle.clean_text(parsed.text), 30)))
        return
    start, end = parsed
    rows = exporting.record_rows(ctx.session, start, end, ctx.tz)
    span = {"start": exporting.day_label(start), "end": exporting.day_label(end)}
    if not rows:
        ctx.reply(texts.MG_EXPORT_NONE.format(**span))
        return
    csv_name, xlsx_name = exporting.file_names(start, end)
    ctx.reply(texts.MG_EXPORT_CSV.format(count=len(rows), **span),
              document=Document(csv_name, exporting.to_csv(rows)))
    ctx.reply(texts.MG_EXPORT_XLSX.format(count=len(rows)),
              document=Document(xlsx_name, exporting.to_xlsx(rows)))


# ---------------------------------------------------------------------------------------------

MANAGERS = frozenset(lifecycle.MANAGER_ROLES)

ROUTES: dict[str, Route] = {
    "open": Route(open_, MANAGERS),
    "show": Route(show),
    "status": Route(status),
    "ack": Route(ack, MANAGERS),
    "assign": Route(assign, MANAGERS),
    "note": Route(note),
    "accept": Route(accept, MANAGERS),
    "progress": Route(progress),
    "resolve": Route(resolve),
    "visit": Route(visit, MANAGERS),
    "close": Route(close, MANAGERS),
    "export": Route(export, MANAGERS),
}
DIALOGS: dict[str, Step] = {}
