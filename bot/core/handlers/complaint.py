"""Customer complaints (投诉登记, TS-…): filed at once with `/complain 内容`, or step by step.

The guided dialog: 客户姓名 → 联系方式 → 投诉内容 → 类别 (numbered, from seeds/complaints.toml) → 确认.
The due date comes from the category's working days (jobs.workdays.complaint_due_at). A complaint
filed at once has no known customer and the configured "other" category.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core import dialogs, escalation, records, texts
from bot.core.context import Ctx
from bot.core.handlers.report import (
    NO_WORDS,
    SKIP_WORDS,
    YES_WORDS,
    clean_text,
    confirm_buttons,
    content_problem,
    meaningful,
    normalize_word,
    preview,
    refuse_media,
    skip_button,
)
from bot.core.messages import Button
from bot.core.router import Route
from bot.storage.models import Dialog
from jobs.workdays import complaint_due_at, load_rules

if TYPE_CHECKING:
    from bot.core.dialogs import Step

KIND = "complaint"
COMPLAIN_ROLES = frozenset({"clerk", "manager", "admin"})
MAX_CUSTOMER_CHARS = 50
MAX_CONTACT_CHARS = 100  # Record.contact

# A phone number, loosely: digits with the usual separators, optionally an extension.
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）+—－.]")
_CHINESE_DIGITS = {c: str(i) for i, c in enumerate("一二三四五六七八九十", start=1)}
_EXTENSION = re.compile(r"(转|ext\.?|x)\s*\d{1,6}$", re.IGNORECASE)


def looks_like_phone(text: str) -> bool:
    """13800138000, +86 138-0013-8000, 0769-22223333, (0769)2222 3333 转 801, 12345 — yes; 'abc' — no."""
    digits = _PHONE_SEPARATORS.sub("", _EXTENSION.sub("", unicodedata.normalize("NFKC", text).strip()))
    return digits.isascii() and digits.isdigit() and 5 <= len(digits) <= 16


def _categories(ctx: Ctx) -> list[str]:
    return list(load_rules(ctx.services.settings.seeds_dir).days)


def _other(ctx: Ctx) -> str:
    return load_rules(ctx.services.settings.seeds_dir).other


def _due_at(ctx: Ctx, category: str) -> datetime:
    return complaint_due_at(category, ctx.now, ctx.tz, ctx.services.settings.seeds_dir)


def due_text(ctx: Ctx, due: datetime) -> str:
    """"12月4日（周五）17:30前处理完", in local time."""
    local = due.astimezone(ctx.tz)
    return texts.CMP_DUE.format(month=local.month, day=local.day, weekday=texts.CMP_WEEKDAYS[local.weekday()],
                                time=f"{local:%H:%M}")


def _options(categories: list[str]) -> str:
    return "\n".join(f"{i}. {name}" for i, name in enumerate(categories, start=1))


def _category_buttons(categories: list[str]) -> tuple[Button, ...]:
    return tuple(Button(name, name) for name in categories)


# ---------------------------------------------------------------------------------------------
# /complain


def complain(ctx: Ctx, args: str) -> None:
    """/complain 内容 files at once (customer unknown); /complain alone is guided."""
    text = clean_text(args)
    if not text:
        dialogs.start(ctx, KIND, "customer")
        ctx.reply(texts.CMP_ASK_CUSTOMER, skip_button())
        return
    problem = content_problem(text, texts.CMP_START_UNCLEAR)
    if problem:
        dialogs.start(ctx, KIND, "customer")
        ctx.reply(f"{problem}\n{texts.CMP_ASK_CUSTOMER}", skip_button())
        return
    _file(ctx, what=text, customer=None, contact=None, category=_other(ctx))


def step(ctx: Ctx, dialog: Dialog, text: str) -> None:
    assert ctx.person is not None
    if ctx.person.role not in COMPLAIN_ROLES:  # the role changed mid-dialog
        dialogs.end(ctx, dialog)
        ctx.reply(texts.NOT_ALLOWED)
        return
    text = clean_text(text)
    if refuse_media(ctx, dialogs.KIND_NAMES[KIND]) and not text:
        _ask_again(ctx, dialog)
        return
    handler = _STEPS.get(dialog.step)
    if handler is None:
        dialogs.end(ctx, dialog)
        ctx.reply(texts.DIALOG_EXPIRED.format(what=dialogs.KIND_NAMES[KIND]))
        return
    handler(ctx, dialog, text)


def _ask_again(ctx: Ctx, dialog: Dialog) -> None:
    if dialog.step == "customer":
        ctx.reply(texts.CMP_ASK_CUSTOMER, skip_button())
    elif dialog.step == "contact":
        ctx.reply(texts.CMP_ASK_CONTACT, skip_button())
    elif dialog.step == "content":
        ctx.reply(texts.CMP_ASK_CONTENT)
    elif dialog.step == "category":
        categories = _categories(ctx)
        ctx.reply(texts.CMP_ASK_CATEGORY.format(options=_options(categories)), _category_buttons(categories))
    else:
        _summary(ctx, dialog)


def _step_customer(ctx: Ctx, dialog: Dialog, text: str) -> None:
    if normalize_word(text) in SKIP_WORDS:
        customer: str | None = None
    elif meaningful(text) and len(text) <= MAX_CUSTOMER_CHARS:
        customer = " ".join(text.split())
    else:
        ctx.reply(texts.CMP_CUSTOMER_UNCLEAR.format(limit=MAX_CUSTOMER_CHARS), skip_button())
        return
    dialogs.advance(ctx, dialog, "contact", customer=customer)
    ctx.reply(texts.CMP_ASK_CONTACT, skip_button())


def _step_contact(ctx: Ctx, dialog: Dialog, text: str) -> None:
    if normalize_word(text) in SKIP_WORDS:
        contact: str | None = None
    elif len(text) <= MAX_CONTACT_CHARS and looks_like_phone(text):
        contact = " ".join(text.split())
    else:
        ctx.reply(texts.CMP_CONTACT_BAD, skip_button())
        return
    dialogs.advance(ctx, dialog, "content", contact=contact)
    ctx.reply(texts.CMP_ASK_CONTENT)


def _step_content(ctx: Ctx, dialog: Dialog, text: str) -> None:
    problem = content_problem(text, texts.CMP_CONTENT_UNCLEAR)
    if problem:
        ctx.reply(problem)
        return
    dialogs.advance(ctx, dialog, "category", what=text)
    categories = _categories(ctx)
    ctx.reply(texts.CMP_ASK_CATEGORY.format(options=_options(categories)), _category_buttons(categories))


def _choose(categories: list[str], text: str) -> str | None:
    word = normalize_word(text).rstrip("号类")
    word = _CHINESE_DIGITS.get(word, word)
    if word.isdigit() and word.isascii() and 1 <= int(word) <= len(categories):
        return categories[int(word) - 1]
    by_name = {normalize_word(name): name for name in categories}
    return by_name.get(normalize_word(text))


def _step_category(ctx: Ctx, dialog: Dialog, text: str) -> None:
    categories = _categories(ctx)
    category = _choose(categories, text)
    if category is None:
        ctx.reply(texts.CMP_CATEGORY_UNCLEAR.format(options=_options(categories)),
                  _category_buttons(categories))
        return
    dialogs.advance(ctx, dialog, "confirm", category=category)
    _summary(ctx, dialog)


def _summary(ctx: Ctx, dialog: Dialog) -> None:
    data = dialog.data
    category = str(data.get("category") or _other(ctx))
    ctx.reply(texts.CMP_SUMMARY.format(
        customer=data.get("customer") or texts.FILE_NOT_GIVEN,
        contact=data.get("contact") or texts.FILE_NOT_GIVEN,
        what=preview(str(data.get("what", "")), 200),
        category=category,
        due=due_text(ctx, _due_at(ctx, category)),
    ), confirm_buttons())


def _step_confirm(ctx: Ctx, dialog: Dialog, text: str) -> None:
    word = normalize_word(text)
    if word in YES_WORDS:
        data = dict(dialog.data)
        dialogs.end(ctx, dialog)
        _file(ctx, what=str(data["what"]), customer=data.get("customer"), contact=data.get("contact"),
              category=str(data.get("category") or _other(ctx)))
        return
    if word in NO_WORDS:
        dialogs.end(ctx, dialog)
        ctx.reply(texts.CMP_CANCELLED)
        return
    ctx.reply(texts.FILE_CONFIRM_UNCLEAR, confirm_buttons())


_STEPS = {
    "customer": _step_customer,
    "contact": _step_contact,
    "content": _step_content,
    "category": _step_category,
    "confirm": _step_confirm,
}


# ---------------------------------------------------------------------------------------------
# Filing


def _file(ctx: Ctx, *, what: str, customer: str | None, contact: str | None, category: str) -> None:
    assert ctx.person is not None
    due = _due_at(ctx, category)
    record = records.create(ctx.session, kind="complaint", author=ctx.person, content=what, now=ctx.now,
                            local_now=ctx.local_now, customer=customer, contact=contact, category=category,
                            due_at=due)
    told = escalation.start(ctx, record)
    ctx.reply(texts.CMP_FILED.format(number=record.number, category=category, due=due_text(ctx, due),
                                     told=texts.CMP_TOLD if told else texts.NOBODY_TOLD, what=preview(what)))


ROUTES: dict[str, Route] = {"complain": Route(complain, roles=COMPLAIN_ROLES)}
DIALOGS: dict[str, Step] = {KIND: step}
