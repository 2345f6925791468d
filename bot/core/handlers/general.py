"""Help, start, questions and identity: what every registered person can do."""

from __future__ import annotations

from bot.core import texts
from bot.core.context import Ctx
from bot.core.handlers import report
from bot.core.handlers.ask import clean_question, reply_to_question
from bot.core.identity import ROLE_NAMES
from bot.storage.models import UnansweredQuestion


def help_(ctx: Ctx, _args: str) -> None:
    if ctx.person is None:
        ctx.reply(texts.STRANGER)
        return
    ctx.reply(texts.help_for(ctx.person.role))


def ask(ctx: Ctx, question: str) -> None:
    if report.offer_report(ctx, question):  # an incident-like message or a captioned photo
        return
    settings = ctx.services.settings
    reply, unanswered = reply_to_question(
        ctx.services.searcher, question, k=settings.answer_hits, max_chars=settings.max_question_chars
    )
    if unanswered:
        ctx.session.add(UnansweredQuestion(
            asked_at=ctx.now, person_id=ctx.person.id if ctx.person else None, channel=ctx.msg.channel,
            text=clean_question(question)[:500], reason=unanswered,
        ))
    ctx.reply(reply)


def whoami(ctx: Ctx, _args: str) -> None:
    assert ctx.person is not None
    person = ctx.person
    channels = "、".join(sorted({a.channel for a in person.accounts})) or "无"
    ctx.reply(texts.WHOAMI.format(name=person.name, role=ROLE_NAMES.get(person.role, person.role),
                                  channels=channels))


def cancel(ctx: Ctx, _args: str) -> None:
    ctx.reply(texts.NOTHING_TO_CANCEL)


def start(ctx: Ctx, _args: str) -> None:
    ctx.reply(texts.WELCOME if ctx.person is not None else texts.STRANGER)
