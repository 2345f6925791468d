"""Record lifecycle: which status each follow-up command sets, from which states, and what goes with it.

Incidents: 登记(new) → 已确认(acked) → 处理中(in_progress) → 已解决(resolved) → 已关闭(closed).
Complaints: 登记(new) → 受理(accepted) → 处理中 → 已解决 → 已回访(visited) → 已关闭.

Rules (the table STEPS):
- 收到 (ack) on an incident: new → acked. On a complaint it means 受理 (accept): a manager who
  answered "收到" to a complaint has taken it.
- 处理中 (progress): incidents from new/acked/in_progress (a repeated 处理中 is a progress update);
  complaints only once accepted ("请先受理").
- 解决 (resolve) needs a result text; incidents from new/acked/in_progress, complaints once accepted.
- 回访 (visit) needs a result text; complaints only, from resolved.
- 关闭 (close): from resolved (incidents) / visited (complaints) without more; from an earlier,
  unfinished state only with a reason ("关闭 SJ-… 误报"); never twice.
- 指派 (assign) any time before closing; on a new record it also acknowledges it (new → acked for
  an incident, new → accepted for a complaint).
- 备注 (note) any time, closed or not.

Every step is logged (records.log_event: who, when, action, note). A step by a manager, an admin or
the record's assignee acknowledges the record: `acked_at`/`acked_by` are set the first time, and
escalation stops (escalation.acknowledged). The author is told when the record is acknowledged
(收到/受理), assigned, resolved or closed; the assignee when it is assigned to them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core import escalation, records, texts
from bot.core.context import Ctx
from bot.core.identity import ROLE_NAMES
from bot.storage.models import Person, Record

MANAGER_ROLES = frozenset({"manager", "admin"})
NOTE_MAX_CHARS = 1000
_WHAT_CHARS = 20

# The audit-trail action each command writes.
EVENT_OF = {
    "ack": "acked", "accept": "accepted", "assign": "assigned", "note": "note", "progress": "in_progress",
    "resolve": "resolved", "visit": "visited", "close": "closed",
}
# Commands whose step the author hears about.
TELL_AUTHOR = frozenset({"ack", "accept", "assign", "resolve", "close"})

_NUMBER_HEAD = re.compile(r"^\s*([A-Za-z]{2}\W*\d{8}\W*\d{1,6})(?!\d)")


@dataclass(frozen=True)
class Step:
    to: str | None  # the new status; None leaves it unchanged
    allowed: frozenset[str]  # states the step is taken from as it is
    with_reason: frozenset[str] = field(default_factory=frozenset)  # states it needs a reason from
    needs_note: bool = False


def _s(*states: str) -> frozenset[str]:
    return frozenset(states)


STEPS: dict[tuple[str, str], Step] = {
    ("incident", "ack"): Step("acked", _s("new")),
    ("incident", "progress"): Step("in_progress", _s("new", "acked", "in_progress")),
    ("incident", "resolve"): Step("resolved", _s("new", "acked", "in_progress"), needs_note=True),
    ("incident", "close"): Step("closed", _s("resolved"), with_reason=_s("new", "acked", "in_progress")),
    ("complaint", "accept"): Step("accepted", _s("new")),
    ("complaint", "progress"): Step("in_progress", _s("accepted", "in_progress")),
    ("complaint", "resolve"): Step("resolved", _s("accepted", "in_progress"), needs_note=True),
    ("complaint", "visit"): Step("visited", _s("resolved"), needs_note=True),
    ("complaint", "close"): Step("closed", _s("visited"),
                                 with_reason=_s("new", "accepted", "in_progress", "resolved")),
}


# ---------------------------------------------------------------------------------------------
# Numbers and lookup


def split_number(args: str) -> tuple[str | None, str]:
    """'sj20261127 3 张伟' → ('SJ-20261127-003', '张伟'); (None, args) when args do not start with one."""
    # Full-width letters and digits (a Chinese IME) are folded for the number only: the rest of the
    # line is the user's text and is kept exactly as typed.
    folded, origin = [], []
    for index, char in enumerate(args):
        for part in unicodedata.normalize("NFKC", char):
            folded.append(part)
            origin.append(index)
    m = _NUMBER_HEAD.match("".join(folded))
    if not m:
        return None, args.strip()
    end = origin[m.end(1)] if m.end(1) < len(origin) else len(args)
    return records.normalize_number(m.group(1)), args[end:].strip()


def clean_text(text: str) -> str:
    """A note as stored: control characters dropped (PostgreSQL refuses NUL), line breaks kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def load(ctx: Ctx, number: str, *, lock: bool = False) -> Record | None:
    """The record with this (normalised) number; `lock` holds its row until the transaction ends."""
    query = select(Record).where(Record.number == number)
    if lock:
        query = query.with_for_update(of=Record)
    return ctx.session.scalar(query)


def is_manager(person: Person | None) -> bool:
    return person is not None and person.role in MANAGER_ROLES


def may_act(person: Person | None, record: Record) -> bool:
    """Managers and admins on every record; anyone on a record assigned to them."""
    return person is not None and (is_manager(person) or record.assignee_id == person.id)


def may_see(person: Person | None, record: Record) -> bool:
    return person is not None and (may_act(person, record) or record.author_id == person.id)


# ---------------------------------------------------------------------------------------------
# Display helpers shared by the commands


def local_time(at: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """'11月27日 10:05' (with the year when it is not the current one)."""
    local = at.astimezone(tz)
    text = f"{local.month}月{local.day}日 {local:%H:%M}"
    if now is not None and now.astimezone(tz).year != local.year:
        text = f"{local.year}年{text}"
    return text


def who(person: Person | None) -> str:
    return person.name if person is not None else texts.MG_SYSTEM


def who_with_role(person: Person) -> str:
    return f"{person.name}（{ROLE_NAMES.get(person.role, person.role)}）"


def status_name(record: Record) -> str:
    return records.STATUS_NAMES.get(record.status, record.status)


def short(text: str | None, limit: int = _WHAT_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def kind_name(record: Record) -> str:
    return texts.MG_KIND.get(record.kind, record.kind)


# ---------------------------------------------------------------------------------------------
# Steps


def effective_action(record: Record, action: str) -> str:
    """收到 on a complaint is 受理."""
    return "accept" if action == "ack" and record.kind == "complaint" else action


def refusal(ctx: Ctx, record: Record, action: str, note: str) -> str | None:
    """Why `action` cannot be taken on `record` now (a Chinese reply), or None when it can."""
    number = record.number
    if len(note) > NOTE_MAX_CHARS:
        return texts.MG_NOTE_TOO_LONG.format(length=len(note), limit=NOTE_MAX_CHARS)
    if action == "note":
        return texts.MG_NEED_NOTE.format(number=number) if not note else None
    if action == "accept" and record.kind == "incident":
        return texts.MG_ACCEPT_INCIDENT.format(number=number)
    if action == "visit" and record.kind == "incident":
        return texts.MG_VISIT_INCIDENT.format(number=number)
    step = STEPS.get((record.kind, action))
    if step is None:
        return texts.MG_WRONG_STATE.format(number=number, status=status_name(record),
                                           verb=texts.MG_VERB.get(action, action))
    state = record.status
    when = local_time(record.closed_at or record.updated_at, ctx.tz, ctx.now)
    if state == "closed":
        if action == "close":
            return texts.MG_CLOSED_ALREADY.format(number=number, when=when)
        return texts.MG_CLOSED_CANNOT.format(number=number, when=when, verb=texts.MG_VERB[action])
    if state in step.allowed:
        if step.needs_note and not note:
            need = texts.MG_NEED_VISIT if action == "visit" else texts.MG_NEED_RESULT
            return need.format(number=number)
        return None
    if state in step.with_reason:
        return None if note else texts.MG_CLOSE_NEEDS_REASON.format(number=number, status=status_name(record))
    return _why_not(ctx, record, action)


def _why_not(ctx: Ctx, record: Record, action: str) -> str:
    number, state = record.number, record.status
    acked = (f"{who(ctx.session.get(Person, record.acked_by)) if record.acked_by else texts.MG_SYSTEM}",
             local_time(record.acked_at, ctx.tz, ctx.now) if record.acked_at else "")
    if action == "ack":
        return texts.MG_ACKED_ALREADY.format(number=number, who=acked[0], when=acked[1])
    if action == "accept":
        return texts.MG_ACCEPTED_ALREADY.format(number=number, who=acked[0], when=acked[1])
    if state == "new" and record.kind == "complaint":
        return texts.MG_ACCEPT_FIRST.format(number=number)
    if action in ("resolve", "progress") and state in ("resolved", "visited"):
        return texts.MG_RESOLVED_ALREADY.format(number=number, resolution=short(record.resolution, 40))
    if action == "visit" and state == "visited":
        return texts.MG_VISITED_ALREADY.format(number=number)
    if action == "visit":
        return texts.MG_NOT_RESOLVED_YET.format(number=number)
    return texts.MG_WRONG_STATE.format(number=number, status=status_name(record),
                                       verb=texts.MG_VERB.get(action, action))


def apply(ctx: Ctx, record: Record, action: str, note: str) -> None:
    """Take the step (after `refusal` said None): status, fields, audit trail, acknowledgement, news."""
    assert ctx.person is not None
    step = STEPS.get((record.kind, action))
    if step is not None and step.to is not None:
        record.status = step.to
    if action == "resolve":
        record.resolution = note
    if action == "close":
        record.closed_at = ctx.now
    records.log_event(ctx.session, record, ctx.person, EVENT_OF[action], note or None, ctx.now)
    if may_act(ctx.person, record):
        acknowledge(ctx, record)
    record.updated_at = ctx.now
    if action == "note" and record.assignee is not None and record.assignee_id != ctx.person.id:
        ctx.notify(record.assignee, texts.MG_TELL_ASSIGNEE_NOTE.format(
            who=ctx.person.name, number=record.number, note=short(note, 200)))
    if action in TELL_AUTHOR:
        tell_author(ctx, record, action, note)


def acknowledge(ctx: Ctx, record: Record) -> None:
    """Someone responsible took the record: remember who first did, and stop escalating it."""
    assert ctx.person is not None
    if record.acked_at is None:
        record.acked_at = ctx.now
        record.acked_by = ctx.person.id
    escalation.acknowledged(ctx, record)


def assign(ctx: Ctx, record: Record, person: Person) -> None:
    """Make `person` the record's handler; a new record is acknowledged on the way."""
    assert ctx.person is not None
    previous = record.assignee
    if record.status == "new":
        implied = "accept" if record.kind == "complaint" else "ack"
        record.status = STEPS[(record.kind, implied)].to or record.status
        records.log_event(ctx.session, record, ctx.person, EVENT_OF[implied], None, ctx.now)
    record.assignee_id = person.id
    record.assignee = person
    note = (texts.MG_REASSIGNED_NOTE.format(name=person.name, previous=previous.name) if previous
            else texts.MG_ASSIGNED_NOTE.format(name=person.name))
    records.log_event(ctx.session, record, ctx.person, EVENT_OF["assign"], note, ctx.now)
    acknowledge(ctx, record)
    record.updated_at = ctx.now
    if person.id != ctx.person.id:
        ctx.notify(person, texts.MG_TELL_ASSIGNEE.format(
            who=ctx.person.name, kind=kind_name(record), number=record.number,
            urgent=texts.MG_URGENT if record.urgent else "", what=short(record.content, 60)))
    tell_author(ctx, record, "assign", "")


def tell_author(ctx: Ctx, record: Record, action: str, note: str) -> None:
    assert ctx.person is not None
    author = record.author
    if author is None or author.id == ctx.person.id or not author.active:
        return
    assignee = record.assignee
    text = texts.MG_TELL_AUTHOR[action].format(
        kind=kind_name(record), number=record.number, what=short(record.content), who=ctx.person.name,
        assignee=assignee.name if assignee else "", note=short(note, 200),
    )
    ctx.notify(author, text)
