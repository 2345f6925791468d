"""Incident reports (事件上报, SJ-…): filed at once with `/report 内容`, or step by step.

The guided dialog: 发生了什么 → 在哪里 → 紧急程度 → 照片/位置（可跳过）→ 确认. Every step is stored in
the dialog row (bot.core.dialogs), so a restart mid-dialog loses nothing; the record itself is
created only on 确认, in the same transaction as its reply and the first escalation notifications.

Photos and locations sent during the dialog are kept in the dialog data until it is confirmed; a
photo or location sent outside any dialog starts one with it already attached, so it is never lost.

Also here: the helpers the other filing handlers (complaint, handover) share — cleaning and checking
typed text, short previews, local times, the yes/no/skip words.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from bot.core import dialogs, escalation, records, texts
from bot.core.commands import parse
from bot.core.context import Ctx
from bot.core.handlers.ask import clean_question, format_answer, problem_with
from bot.core.incident_words import is_urgent, looks_like_incident
from bot.core.messages import Button, Inbound
from bot.core.router import Route
from bot.storage.models import Dialog

if TYPE_CHECKING:
    from datetime import datetime

    from bot.core.dialogs import Step

log = logging.getLogger(__name__)

KIND = "report"
REPORT_ROLES = frozenset({"guard", "manager", "admin"})

# Stored whole up to this length (a long account of a night is fine); longer is refused, not cut.
MAX_CONTENT_CHARS = 10_000
MAX_WHERE_CHARS = 200  # Record.location
PREVIEW_CHARS = 60
RULE_CHARS = 200
# An attachment reference longer than RecordAttachment.ref cannot be stored; it is dropped (logged).
MAX_REF_CHARS = 512
# The pre-filled "what happened" carried by the 上报 offer button (button replies must stay short).
OFFER_PREFILL_CHARS = 100
# Marks a /report line that starts the dialog with "what happened" filled in instead of filing at
# once: the 上报 offer button sends "/report 草稿：有人翻墙".
PREFILL_MARK = "草稿："

MEDIA_KINDS = ("photo", "location")

# Typed answers, compared after normalize_word (NFKC, lower case, trailing punctuation dropped).
YES_WORDS = frozenset({"确认", "确定", "是", "是的", "好", "好的", "对", "提交", "可以", "行", "嗯",
                       "ok", "okay", "yes", "y"})
NO_WORDS = frozenset({"不", "否", "不要", "不用", "算了", "放弃", "不提交", "no", "n"})
SKIP_WORDS = frozenset({"跳过", "没有", "没", "无", "不用", "不需要", "不知道", "不清楚", "略", "skip", "-"})
NORMAL_WORDS = frozenset({"1", "一", "一般", "普通", "不急", "不紧急", "不太急"})
URGENT_WORDS = frozenset({"2", "二", "紧急", "急", "很急", "特急", "非常紧急", "十万火急"})

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")
_TRAILING = re.compile(r"[\s。.!！~～,，、]+$")


# ---------------------------------------------------------------------------------------------
# Shared helpers (also used by complaint.py and handover.py)


def clean_text(text: str) -> str:
    """Typed content as stored: control and zero-width characters dropped, each line trimmed, runs of
    blank lines folded; line breaks are kept (a handover is often a list)."""
    lines = [" ".join(line.split()) for line in _CONTROL.sub("", text.replace("\r\n", "\n")).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def normalize_word(text: str) -> str:
    """A short typed answer ("好的。", "ＯＫ", " 2 ") reduced for comparison with the word sets."""
    return _TRAILING.sub("", unicodedata.normalize("NFKC", text).strip().lower())


def meaningful(text: str) -> bool:
    """Has at least one letter, digit or Chinese character (emoji and punctuation alone are not)."""
    return bool(_WORDLIKE.search(text))


def content_problem(text: str, unclear: str) -> str | None:
    """The reply for content that cannot be stored as it is, or None when it can."""
    if not meaningful(text):
        return unclear
    if len(text) > MAX_CONTENT_CHARS:
        return texts.FILE_TOO_LONG.format(length=len(text), limit=MAX_CONTENT_CHARS)
    return None


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of a long text for a reply; the whole text is what is stored."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}…（共{len(text)}字）"


def local_time(ctx: Ctx, at: datetime) -> str:
    local = at.astimezone(ctx.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def media_of(msg: Inbound) -> list[list[str]]:
    """The photos and locations of a message as [kind, channel, ref] (JSON-friendly, for dialog data)."""
    kept = []
    for item in msg.attachments:
        if item.kind not in MEDIA_KINDS:
            continue
        if not item.ref or len(item.ref) > MAX_REF_CHARS:
            log.warning("%s attachment with an unusable reference (%s chars) dropped",
                        item.kind, len(item.ref))
            continue
        kept.append([item.kind, msg.channel, item.ref])
    return kept


def confirm_buttons() -> tuple[Button, ...]:
    return (Button(texts.FILE_BTN_CONFIRM, texts.FILE_BTN_CONFIRM),
            Button(texts.FILE_BTN_CANCEL, texts.FILE_BTN_CANCEL))


def skip_button() -> tuple[Button, ...]:
    return (Button(texts.FILE_BTN_SKIP, texts.FILE_BTN_SKIP),)


def refuse_media(ctx: Ctx, what: str) -> bool:
    """In a dialog that takes no attachments: say so (nothing stored). True when the message had any."""
    if not ctx.msg.attachments:
        return False
    ctx.reply(texts.FILE_NO_MEDIA_HERE.format(what=what))
    return True


def rule_line(ctx: Ctx, content: str) -> str | None:
    """"相关规定：《…》… 原文" for the rule closest to the content, when the corpus has one.

    A failing searcher never costs a report: the report is filed without the rule.
    """
    question = clean_question(content)[: ctx.services.settings.max_question_chars]
    if problem_with(question, ctx.services.settings.max_question_chars):
        return None
    try:
        answer = ctx.services.searcher.ask(question, k=1)
    except Exception:
        log.exception("rule search for a filed record failed")
        return None
    if not answer.answered or not answer.hits:
        return None
    clause = answer.hits[0].clause
    text = clause.text if len(clause.text) <= RULE_CHARS else clause.text[:RULE_CHARS] + "…"
    return texts.REP_RULE.format(citation=clause.citation, text=text)


# ---------------------------------------------------------------------------------------------
# /report


def report(ctx: Ctx, args: str) -> None:
    """/report 内容 files at once; /report alone (or unusable content) starts the guided dialog."""
    media = media_of(ctx.msg)
    text = clean_text(args)
    if text.startswith(PREFILL_MARK):
        _start_prefilled(ctx, clean_text(text[len(PREFILL_MARK):]), media)
        return
    if not text:
        dialogs.start(ctx, KIND, "what", {"attachments": media})
        ctx.reply(texts.REP_ASK_WHAT)
        return
    problem = content_problem(text, texts.REP_WHAT_UNCLEAR)
    if problem:
        dialogs.start(ctx, KIND, "what", {"attachments": media})
        ctx.reply(problem if problem == texts.REP_WHAT_UNCLEAR else f"{problem}\n{texts.REP_ASK_WHAT}")
        return
    _file(ctx, what=text, where=None, urgent=is_urgent(text), media=media)


def _start_prefilled(ctx: Ctx, what: str, media: list[list[str]]) -> None:
    if not what or content_problem(what, texts.REP_WHAT_UNCLEAR):
        dialogs.start(ctx, KIND, "what", {"attachments": media})
        ctx.reply(texts.REP_ASK_WHAT)
        return
    dialogs.start(ctx, KIND, "where", {"what": what, "attachments": media})
    ctx.reply(texts.REP_ASK_WHERE, skip_button())


def attachment(ctx: Ctx, _args: str) -> None:
    """A photo, location, voice, sticker or file with no text, outside any dialog.

    A photo or location from someone who may report starts a report with it attached; anything
    else gets a clear reply and nothing is stored.
    """
    assert ctx.person is not None
    media = media_of(ctx.msg)
    if not media:
        ctx.reply(texts.ATTACHMENT_UNSUPPORTED)
        return
    if ctx.person.role not in REPORT_ROLES:
        ctx.reply(texts.ATTACHMENT_NOT_REPORTER)
        return
    dialogs.start(ctx, KIND, "what", {"attachments": media})
    has_photo = any(kind == "photo" for kind, _, _ in media)
    ctx.reply(texts.REP_PHOTO_FIRST if has_photo else texts.REP_LOCATION_FIRST)


def offer_report(ctx: Ctx, question: str) -> bool:
    """The ask path's hook (general.ask): True when the message was handled here as an incident.

    - a photo or location with a caption, from someone who may report: starts a report with the
      caption as "what happened" and the attachment kept (the photo is never dropped);
    - plain text that reads like an incident (incident_words): the answer is an offer to report it —
      a 上报 button starting the dialog with the text filled in — plus the rule, when there is one.
    """
    if ctx.person is None or ctx.person.role not in REPORT_ROLES:
        return False
    media = media_of(ctx.msg)
    text = clean_text(question)
    if media:
        if content_problem(text, texts.REP_WHAT_UNCLEAR):
            dialogs.start(ctx, KIND, "what", {"attachments": media})
            ctx.reply(texts.REP_PHOTO_FIRST)
        else:
            dialogs.start(ctx, KIND, "where", {"what": text, "attachments": media})
            ctx.reply(f"{texts.REP_CAPTION_FIRST}\n{texts.REP_ASK_WHERE}", skip_button())
        return True
    if parse(ctx.msg.text).command is not None or not looks_like_incident(text):
        return False
    parts = [texts.REP_OFFER]
    rules = _rules_answer(ctx, text)
    if rules:
        parts += ["", rules]
    prefill = " ".join(text.split())[:OFFER_PREFILL_CHARS]
    ctx.reply("\n".join(parts), (Button(texts.REP_BTN_OFFER, f"/report {PREFILL_MARK}{prefill}"),))
    return True


def _rules_answer(ctx: Ctx, text: str) -> str | None:
    settings = ctx.services.settings
    question = clean_question(text)
    if problem_with(question, settings.max_question_chars):
        return None
    try:
        answer = ctx.services.searcher.ask(question, k=settings.answer_hits)
    except Exception:
        log.exception("rule search for an incident offer failed")
        return None
    if not answer.answered or not answer.hits:
        return None
    return format_answer(answer)


# ---------------------------------------------------------------------------------------------
# The guided dialog


def step(ctx: Ctx, dialog: Dialog, text: str) -> None:
    assert ctx.person is not None
    if ctx.person.role not in REPORT_ROLES:  # the role changed mid-dialog
        dialogs.end(ctx, dialog)
        ctx.reply(texts.NOT_ALLOWED)
        return
    media = media_of(ctx.msg)
    if media:
        dialogs.advance(ctx, dialog, dialog.step, attachments=[*_attachments(dialog), *media])
    elif ctx.msg.attachments and not text.strip():  # voice, sticker, file: nothing to keep
        ctx.reply(texts.ATTACHMENT_UNSUPPORTED)
        _ask_again(ctx, dialog)
        return
    handler = _STEPS.get(dialog.step)
    if handler is None:
        dialogs.end(ctx, dialog)
        ctx.reply(texts.DIALOG_EXPIRED.format(what=dialogs.KIND_NAMES[KIND]))
        return
    handler(ctx, dialog, clean_text(text), media)


def _attachments(dialog: Dialog) -> list[list[str]]:
    return [list(item) for item in dialog.data.get("attachments", [])]


def _attached_note(media: list[list[str]], dialog: Dialog) -> str:
    return texts.REP_ATTACHED.format(what=_describe(_attachments(dialog))) if media else ""


def _with_note(note: str, text: str) -> str:
    return f"{note}\n{text}" if note else text


def _describe(attachments: list[list[str]]) -> str:
    photos = sum(1 for a in attachments if a[0] == "photo")
    places = sum(1 for a in attachments if a[0] == "location")
    parts = []
    if photos:
        parts.append(texts.REP_PHOTOS.format(n=photos))
    if places:
        parts.append(texts.REP_LOCATIONS.format(n=places))
    return "，".join(parts) or texts.REP_NO_ATTACHMENTS


def _ask_again(ctx: Ctx, dialog: Dialog) -> None:
    if dialog.step == "what":
        ctx.reply(texts.REP_ASK_WHAT)
    elif dialog.step == "where":
        ctx.reply(texts.REP_ASK_WHERE, skip_button())
    elif dialog.step == "urgency":
        ctx.reply(texts.REP_ASK_URGENCY, _urgency_buttons())
    elif dialog.step == "media":
        ctx.reply(texts.REP_ASK_MEDIA, skip_button())
    else:
        _summary(ctx, dialog)


def _step_what(ctx: Ctx, dialog: Dialog, text: str, media: list[list[str]]) -> None:
    note = _attached_note(media, dialog)
    if not text:
        ctx.reply(_with_note(note, texts.REP_ASK_WHAT if media else texts.REP_WHAT_UNCLEAR))
        return
    problem = content_problem(text, texts.REP_WHAT_UNCLEAR)
    if problem:
        ctx.reply(_with_note(note, problem))
        return
    dialogs.advance(ctx, dialog, "where", what=text)
    ctx.reply(_with_note(note, texts.REP_ASK_WHERE), skip_button())


def _step_where(ctx: Ctx, dialog: Dialog, text: str, media: list[list[str]]) -> None:
    pinned = next((ref for kind, _, ref in media if kind == "location"), None)
    note = _attached_note(media, dialog)
    if text and normalize_word(text) in SKIP_WORDS:
        where: str | None = None
    elif text:
        if not meaningful(text):
            ctx.reply(_with_note(note, texts.REP_WHERE_UNCLEAR), skip_button())
            return
        if len(text) > MAX_WHERE_CHARS:
            ctx.reply(texts.REP_WHERE_TOO_LONG.format(limit=MAX_WHERE_CHARS), skip_button())
            return
        where = text
    elif pinned is not None:
        where = texts.REP_WHERE_PINNED.format(ref=pinned)[:MAX_WHERE_CHARS]
    else:  # a photo alone: kept; the question stands
        ctx.reply(_with_note(note, texts.REP_ASK_WHERE), skip_button())
        return
    dialogs.advance(ctx, dialog, "urgency", where=where)
    ctx.reply(_with_note(note, texts.REP_ASK_URGENCY), _urgency_buttons())


def _urgency_buttons() -> tuple[Button, ...]:
    return (Button(texts.REP_BTN_NORMAL, texts.REP_BTN_NORMAL),
            Button(texts.REP_BTN_URGENT, texts.REP_BTN_URGENT))


def _step_urgency(ctx: Ctx, dialog: Dialog, text: str, media: list[list[str]]) -> None:
    note = _attached_note(media, dialog)
    word = normalize_word(text)
    if word in NORMAL_WORDS:
        urgent = False
    elif word in URGENT_WORDS:
        urgent = True
    else:
        again = texts.REP_ASK_URGENCY if media and not text else texts.REP_URGENCY_UNCLEAR
        ctx.reply(_with_note(note, again), _urgency_buttons())
        return
    if _attachments(dialog):  # already has a photo or location: straight to the summary
        dialogs.advance(ctx, dialog, "confirm", urgent=urgent)
        _summary(ctx, dialog, note)
        return
    dialogs.advance(ctx, dialog, "media", urgent=urgent)
    ctx.reply(texts.REP_ASK_MEDIA, skip_button())


def _step_media(ctx: Ctx, dialog: Dialog, text: str, media: list[list[str]]) -> None:
    if media or normalize_word(text) in SKIP_WORDS:
        dialogs.advance(ctx, dialog, "confirm")
        _summary(ctx, dialog, _attached_note(media, dialog))
        return
    ctx.reply(texts.REP_MEDIA_UNCLEAR, skip_button())


def _step_confirm(ctx: Ctx, dialog: Dialog, text: str, media: list[list[str]]) -> None:
    if media:
        _summary(ctx, dialog, _attached_note(media, dialog))
        return
    word = normalize_word(text)
    if word in YES_WORDS:
        data: dict[str, Any] = dialog.data
        attachments = _attachments(dialog)
        dialogs.end(ctx, dialog)
        _file(ctx, what=str(data["what"]), where=data.get("where"), urgent=bool(data.get("urgent")),
              media=attachments)
        return
    if word in NO_WORDS:
        dialogs.end(ctx, dialog)
        ctx.reply(texts.REP_CANCELLED)
        return
    ctx.reply(texts.FILE_CONFIRM_UNCLEAR, confirm_buttons())


def _summary(ctx: Ctx, dialog: Dialog, note: str = "") -> None:
    data = dialog.data
    text = texts.REP_SUMMARY.format(
        what=preview(str(data.get("what", "")), 200),
        where=data.get("where") or texts.FILE_NOT_GIVEN,
        urgency=texts.REP_URGENCY[bool(data.get("urgent"))],
        attachments=_describe(_attachments(dialog)),
    )
    ctx.reply(_with_note(note, text), confirm_buttons())


_STEPS = {
    "what": _step_what,
    "where": _step_where,
    "urgency": _step_urgency,
    "media": _step_media,
    "confirm": _step_confirm,
}


# ---------------------------------------------------------------------------------------------
# Filing


def _file(ctx: Ctx, *, what: str, where: str | None, urgent: bool, media: list[list[str]]) -> None:
    """Create the record with its attachments, start escalation, acknowledge with the number."""
    assert ctx.person is not None
    record = records.create(ctx.session, kind="incident", author=ctx.person, content=what, now=ctx.now,
                            local_now=ctx.local_now, urgent=urgent, location=where)
    for kind, channel, ref in media:
        records.attach(ctx.session, record, kind, channel, ref, ctx.now)
    told = escalation.start(ctx, record)
    lines = [texts.REP_FILED.format(number=record.number, urgent=texts.REP_FILED_URGENT if urgent else "",
                                    told=texts.REP_TOLD if told else texts.NOBODY_TOLD, what=preview(what))]
    if media:
        lines.append(texts.REP_FILED_ATTACHMENTS.format(attachments=_describe(media)))
    rule = rule_line(ctx, what)
    if rule:
        lines += ["", rule]
    ctx.reply("\n".join(lines))


ROUTES: dict[str, Route] = {
    "report": Route(report, roles=REPORT_ROLES),
    # Replaces general.attachment (routes.py merges this module's routes after general's).
    "attachment": Route(attachment),
}
DIALOGS: dict[str, Step] = {KIND: step}
