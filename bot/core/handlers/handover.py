"""Shift handovers (交接班记录).

`/handover 本班情况…` records a handover at once, with the incidents still open at that moment (not
closed) listed in it. `/handover` alone shows the last handover and the open incidents, and offers to
write the new one: the next message is the content, then 确认. Managers are told of every handover.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.core import dialogs, records, texts
from bot.core.context import Ctx
from bot.core.handlers.report import (
    NO_WORDS,
    YES_WORDS,
    clean_text,
    confirm_buttons,
    content_problem,
    local_time,
    normalize_word,
    preview,
    refuse_media,
)
from bot.core.identity import ROLE_NAMES
from bot.core.messages import Button
from bot.core.router import Route
from bot.storage.models import Dialog, Handover, Person, Record

if TYPE_CHECKING:
    from bot.core.dialogs import Step

KIND = "handover"
HANDOVER_ROLES = frozenset({"guard", "clerk", "manager", "admin"})
# Open incidents listed in a reply or notification (all of them are stored in open_numbers).
SHOWN_OPEN = 20
LAST_CONTENT_CHARS = 500
NOTIFY_CONTENT_CHARS = 300


def open_incidents(ctx: Ctx) -> list[Record]:
    return list(ctx.session.scalars(
        select(Record)
        .where(Record.kind == "incident", Record.status.in_(records.NOT_CLOSED))
        .order_by(Record.created_at, Record.id)
    ).all())


def _open_block(incidents: list[Record]) -> str:
    if not incidents:
        return texts.HO_OPEN_NONE
    lines = [texts.HO_OPEN.format(count=len(incidents))]
    for record in incidents[:SHOWN_OPEN]:
        lines.append(texts.HO_OPEN_LINE.format(
            number=record.number, status=records.STATUS_NAMES.get(record.status, record.status),
            urgent=texts.HO_OPEN_URGENT if record.urgent else "", what=preview(record.content, 30)))
    if len(incidents) > SHOWN_OPEN:
        lines.append(texts.HO_OPEN_MORE.format(count=len(incidents), shown=SHOWN_OPEN))
    return "\n".join(lines)


def _who(person: Person) -> str:
    return f"{person.name}（{ROLE_NAMES.get(person.role, person.role)}）"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…（共{len(text)}字）"


# ---------------------------------------------------------------------------------------------
# /handover


def handover(ctx: Ctx, args: str) -> None:
    text = clean_text(args)
    if text:
        problem = content_problem(text, texts.HO_CONTENT_UNCLEAR)
        if problem:
            dialogs.start(ctx, KIND, "content")
            ctx.reply(problem)
            return
        _file(ctx, text)
        return
    last = ctx.session.scalars(select(Handover).order_by(Handover.created_at.desc(), Handover.id.desc())
                               .limit(1)).first()
    parts = [
        texts.HO_LAST.format(who=_who(last.author), when=local_time(ctx, last.created_at),
                             content=_cut(last.content, LAST_CONTENT_CHARS))
        if last is not None else texts.HO_NONE_YET,
        _open_block(open_incidents(ctx)),
        texts.HO_ASK_CONTENT,
    ]
    dialogs.start(ctx, KIND, "content")
    ctx.reply("\n\n".join(parts), (Button(texts.FILE_BTN_CANCEL, texts.FILE_BTN_CANCEL),))


def step(ctx: Ctx, dialog: Dialog, text: str) -> None:
    assert ctx.person is not None
    if ctx.person.role not in HANDOVER_ROLES:
        dialogs.end(ctx, dialog)
        ctx.reply(texts.NOT_ALLOWED)
        return
    text = clean_text(text)
    if refuse_media(ctx, dialogs.KIND_NAMES[KIND]) and not text:
        if dialog.step == "confirm":
            _summary(ctx, str(dialog.data.get("content", "")))
        else:
            ctx.reply(texts.HO_ASK_CONTENT)
        return
    if dialog.step == "content":
        problem = content_problem(text, texts.HO_CONTENT_UNCLEAR)
        if problem:
            ctx.reply(problem)
            return
        dialogs.advance(ctx, dialog, "confirm", content=text)
        _summary(ctx, text)
        return
    word = normalize_word(text)
    if dialog.step == "confirm" and word in YES_WORDS:
        content = str(dialog.data["content"])
        dialogs.end(ctx, dialog)
        _file(ctx, content)
        return
    if word in NO_WORDS or dialog.step != "confirm":
        dialogs.end(ctx, dialog)
        ctx.reply(texts.HO_CANCELLED)
        return
    ctx.reply(texts.FILE_CONFIRM_UNCLEAR, confirm_buttons())


def _summary(ctx: Ctx, content: str) -> None:
    block = _open_block(open_incidents(ctx))
    text = texts.HO_SUMMARY.format(content=_cut(content, LAST_CONTENT_CHARS), open=block)
    ctx.reply(text, confirm_buttons())


def _file(ctx: Ctx, content: str) -> None:
    """Store the handover with the open incidents, tell the managers, acknowledge."""
    assert ctx.person is not None
    incidents = open_incidents(ctx)
    item = Handover(author_id=ctx.person.id, content=content, created_at=ctx.now,
                    open_numbers=",".join(r.number for r in incidents))
    ctx.session.add(item)
    ctx.session.flush()
    when = local_time(ctx, ctx.now)
    block = _open_block(incidents)
    managers = list(ctx.session.scalars(
        select(Person)
        .where(Person.role == "manager", Person.active.is_(True), Person.is_console.is_(False),
               Person.id != ctx.person.id)
        .order_by(Person.id)
    ).all())
    note = texts.HO_NOTIFY.format(who=_who(ctx.person), when=when, open=block,
                                  content=_cut(content, NOTIFY_CONTENT_CHARS))
    for manager in managers:
        ctx.notify(manager, note, dedupe_key=f"handover:{item.id}:{manager.id}")
    lines = [texts.HO_FILED.format(when=when, open=block)]
    if managers:
        lines.append(texts.HO_FILED_NOTIFIED.format(names="、".join(m.name for m in managers)))
    ctx.reply("\n".join(lines))


ROUTES: dict[str, Route] = {"handover": Route(handover, roles=HANDOVER_ROLES)}
DIALOGS: dict[str, Step] = {KIND: step}
