"""提醒, 我的提醒, 取消提醒: ad-hoc reminders set in chat.

- `/remind 明天 09:00 提交月报` (提醒 …): everyone may remind THEMSELVES (no @ = me). Managers and
  admins may also remind others: `@张三`, a role (`@保安`, `全体保安`), the people on duty (`@值班`),
  everyone (`全体`, `@所有人`), a group of seeds/reminders.toml (`@managers` or its name); the
  mentions go right before or right after the time phrase. The time phrase is bot.core.timephrase.
- `/reminders` (我的提醒): the active reminders that concern the asker — set by them, or addressed to
  them, their role, a group they are in, or the people on duty (guards; anyone on the roster) — with
  the next run time. Managers and admins add `全部` to see every reminder.
- `/unremind N` (取消提醒 N): cancels a reminder the asker set; admins may cancel anyone's. Rule
  schedules are changed in seeds/reminders.toml, not in chat.

The reminder row is stored in the message's transaction; its scheduler job is added right after the
commit (jobs.reminders.schedule_after_commit), and the scheduler's sync is the backstop.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import func, select

from bot.core import texts, timephrase
from bot.core.context import Ctx
from bot.core.lifecycle import local_time, short
from bot.core.router import Route
from bot.storage.models import ROLES, Person, Reminder, ShiftAssignment
from jobs import reminder_audience, reminder_list, reminder_seeds
from jobs import reminders as jobs_reminders

MANAGERS = frozenset({"manager", "admin"})
MAX_ACTIVE = 30  # ad-hoc reminders one person may have pending
LIST_LIMIT = 20
ALL_WORDS = frozenset({"全部", "所有", "all"})
EVERYONE_WORDS = frozenset({"全体", "全体人员", "所有人", "大家", "all"})

_MENTION = re.compile(r"\s*(?:@\s*(?P<at>[^\s@，,：:、。]+)|(?P<all>全体[^\s@，,：:、。]*))[，,：:、]?")
_TRAILING = re.compile(r"(?:\s+@\s*[^\s@，,：:、。]+[，,、。]?)+\s*$")


def _mentions(text: str, *, trailing: bool = False) -> tuple[list[str], str]:
    """The @mentions / 全体X at the start of `text` (and, with `trailing`, the @mentions at its end),
    and the rest."""
    found: list[str] = []
    rest = unicodedata.normalize("NFKC", text)
    while m := _MENTION.match(rest):
        found.append(m.group("at") or m.group("all"))
        rest = rest[m.end():]
    if trailing and (tail := _TRAILING.search(rest)) and tail.start() > 0:
        found.extend(m.group("at") for m in _MENTION.finditer(tail.group(0)) if m.group("at"))
        rest = rest[:tail.start()]
    return found, rest.strip()


class _Audience:
    def __init__(self) -> None:
        self.person_ids: list[int] = []
        self.roles: list[str] = []
        self.groups: list[str] = []
        self.on_duty = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.on_duty:
            data["on_duty"] = True
        if self.roles:
            data["role"] = self.roles[0] if len(self.roles) == 1 else list(self.roles)
        if self.groups:
            data["group"] = self.groups[0] if len(self.groups) == 1 else list(self.groups)
        if self.person_ids:
            data["person_ids"] = list(self.person_ids)
        return data

    def only(self, person: Person) -> bool:
        return self.person_ids == [person.id] and not (self.roles or self.groups or self.on_duty)


def _resolve(ctx: Ctx, mentions: list[str], audience: _Audience) -> tuple[str | None, str]:
    """Fill `audience` from the mentions. Returns (error reply or None, text to put before the
    message — what followed a name written without a space, "@张三提交月报")."""
    groups = reminder_seeds.groups_of(ctx.services.settings.seeds_dir)
    spill = ""
    for raw in mentions:
        word = raw.strip()
        if word.startswith("全体") and word != "全体" and word not in EVERYONE_WORDS:
            role = reminder_seeds.parse_role(word.removeprefix("全体").removesuffix("人员"))
            if role is None:
                return texts.RM_UNKNOWN_NAME.format(name=word), ""
            _add(audience.roles, role)
            continue
        if word in EVERYONE_WORDS:
            for role in ROLES:
                _add(audience.roles, role)
            continue
        if word in reminder_seeds.ON_DUTY_WORDS:
            audience.on_duty = True
            continue
        role = reminder_seeds.parse_role(word)
        if role is not None:
            _add(audience.roles, role)
            continue
        group = next((g for g in groups.values() if word in (g.key, g.name)), None)
        if group is not None:
            _add(audience.groups, group.key)
            continue
        person, rest, error = _person(ctx, word)
        if error:
            return error, ""
        assert person is not None
        _add(audience.person_ids, person.id)
        if rest:
            spill = rest
    return None, spill


def _add(items: list[Any], item: Any) -> None:
    if item not in items:
        items.append(item)


def _person(ctx: Ctx, word: str) -> tuple[Person | None, str, str | None]:
    """The person a mention names (exact name; else the longest name the mention starts with, the
    rest going to the message), or an error reply."""
    active = select(Person).where(Person.active.is_(True), Person.is_console.is_(False)).order_by(Person.id)
    exact = list(ctx.session.scalars(active.where(Person.name == word)).all())
    if len(exact) == 1:
        return exact[0], "", None
    if len(exact) > 1:
        return None, "", texts.RM_SAME_NAME.format(count=len(exact), name=word)
    everyone = ctx.session.scalars(active).all()
    prefixed = [p for p in everyone if len(p.name) >= 2 and word.startswith(p.name)]
    if prefixed:
        longest = max(len(p.name) for p in prefixed)
        chosen = [p for p in prefixed if len(p.name) == longest]
        if len(chosen) > 1:
            return None, "", texts.RM_SAME_NAME.format(count=len(chosen), name=chosen[0].name)
        return chosen[0], word[longest:], None
    similar = [p.name for p in everyone if word in p.name][:5]
    if similar:
        return None, "", texts.RM_SIMILAR_NAMES.format(name=word, names="、".join(dict.fromkeys(similar)))
    return None, "", texts.RM_UNKNOWN_NAME.format(name=short(word, 20))


def remind(ctx: Ctx, args: str) -> None:
    me = ctx.person
    assert me is not None
    if not args.strip():
        ctx.reply(texts.RM_USAGE)
        return
    before, text = _mentions(args)
    try:
        phrase = timephrase.parse(text, ctx.now, ctx.tz)
    except timephrase.TimePhraseError as err:
        ctx.reply(err.message)
        return
    after, message = _mentions(phrase.message, trailing=True)
    audience = _Audience()
    error, spill = _resolve(ctx, before + after, audience)
    if error:
        ctx.reply(error)
        return
    message = " ".join(part for part in (spill.strip(" ，,：:"), message) if part).strip()
    if not message:
        ctx.reply(texts.RM_NEED_TEXT.format(phrase=phrase.phrase))
        return
    if len(message) > reminder_seeds.MAX_TEXT:
        ctx.reply(texts.RM_TEXT_TOO_LONG.format(limit=reminder_seeds.MAX_TEXT))
        return
    if not audience.as_dict():
        audience.person_ids.append(me.id)
    self_only = audience.only(me)
    if not self_only and me.role not in MANAGERS:
        ctx.reply(texts.RM_ONLY_SELF)
        return
    pending = ctx.session.scalar(
        select(func.count()).select_from(Reminder)
        .where(Reminder.created_by == me.id, Reminder.kind == "adhoc", Reminder.active.is_(True))
    ) or 0
    if pending >= MAX_ACTIVE:
        ctx.reply(texts.RM_TOO_MANY.format(count=pending, limit=MAX_ACTIVE))
        return
    reminder = Reminder(kind="adhoc", created_by=me.id, audience=audience.as_dict(), text=message,
                        schedule=phrase.phrase[:100], trigger=timephrase.to_dict(phrase.trigger), active=True,
                        created_at=ctx.now)
    ctx.session.add(reminder)
    ctx.session.flush()
    jobs_reminders.schedule_after_commit(ctx.session, reminder.id, phrase.trigger, ctx.tz)

    groups = reminder_seeds.groups_of(ctx.services.settings.seeds_dir)
    to = texts.RM_TO_SELF if self_only else texts.RM_TO.format(
        who=reminder_audience.describe_audience(ctx.session, reminder.audience, groups))
    lines = [texts.RM_SET.format(id=reminder.id, when=timephrase.describe(phrase.trigger, ctx.tz, ctx.now),
                                 to=to, text=message)]
    if isinstance(phrase.trigger, timephrase.Repeating):
        upcoming = reminder_list.upcoming(reminder, ctx.now, ctx.tz,
                                          jobs_reminders.workday_test(ctx.services.settings.seeds_dir))
        if upcoming is not None:
            lines.append(texts.RM_SET_NEXT.format(next=local_time(upcoming, ctx.tz, ctx.now)))
    if phrase.note:
        lines.append(phrase.note)
    if self_only and me.is_console:
        lines.append(texts.RM_CONSOLE_NOTE)
    lines.append(texts.RM_SET_FOOT.format(id=reminder.id))
    ctx.reply("\n".join(lines))


def list_(ctx: Ctx, args: str) -> None:
    me = ctx.person
    assert me is not None
    show_all = args.strip().lower() in ALL_WORDS and me.role in MANAGERS
    seeds_dir = ctx.services.settings.seeds_dir
    groups = reminder_seeds.groups_of(seeds_dir)
    rows = ctx.session.scalars(select(Reminder).where(Reminder.active.is_(True)).order_by(Reminder.id)).all()
    on_roster = ctx.session.scalar(
        select(ShiftAssignment.id).where(ShiftAssignment.person_id == me.id, ShiftAssignment.ends_at > ctx.now)
        .limit(1)
    ) is not None
    chosen = [r for r in rows if show_all or reminder_audience.concerns(me, r, groups, on_roster=on_roster)]
    if not chosen:
        ctx.reply(texts.RM_LIST_NONE)
        return
    is_workday = jobs_reminders.workday_test(seeds_dir)
    far = ctx.now.replace(year=9999)
    timed = sorted(((reminder_list.upcoming(r, ctx.now, ctx.tz, is_workday), r) for r in chosen),
                   key=lambda item: (item[0] or far, item[1].id))
    creators = {p.id: p.name for p in ctx.session.scalars(
        select(Person).where(Person.id.in_({r.created_by for r in chosen if r.created_by}))).all()}
    head = texts.RM_LIST_ALL_HEAD if show_all else texts.RM_LIST_HEAD
    lines = [head.format(count=len(chosen))]
    for when, r in timed[:LIST_LIMIT]:
        trigger = timephrase.from_dict(r.trigger)
        schedule = "" if isinstance(trigger, timephrase.Once) else timephrase.describe(trigger, ctx.tz, ctx.now)
        to = reminder_audience.describe_audience(ctx.session, r.audience or {}, groups, me=me)
        if r.kind == "rule":
            origin = texts.RM_LIST_RULE.format(citation=r.citation or r.rule_key)
        elif r.created_by == me.id:
            origin = texts.RM_LIST_MINE
        else:
            origin = texts.RM_LIST_BY.format(who=creators.get(r.created_by or 0, "?"))
        next_text = local_time(when, ctx.tz, ctx.now) if when is not None else texts.RM_NO_NEXT
        parts = [f"#{r.id} {next_text}", schedule, f"→{to}", short(r.text, 40) + origin]
        lines.append(" · ".join(p for p in parts if p))
    if len(timed) > LIST_LIMIT:
        lines.append(texts.RM_LIST_MORE.format(more=len(timed) - LIST_LIMIT))
    lines.append(texts.RM_LIST_FOOT)
    if me.role in MANAGERS and not show_all:
        lines.append(texts.RM_LIST_FOOT_MANAGER)
    ctx.reply("\n".join(lines))


def unremind(ctx: Ctx, args: str) -> None:
    me = ctx.person
    assert me is not None
    ref = unicodedata.normalize("NFKC", args).strip().lstrip("#").strip()
    if not ref.isdigit():
        ctx.reply(texts.RM_UNREMIND_USAGE)
        return
    reminder_id = int(ref)
    reminder = ctx.session.scalar(select(Reminder).where(Reminder.id == reminder_id).with_for_update())
    if reminder is None:
        ctx.reply(texts.RM_UNREMIND_NOT_FOUND.format(id=reminder_id))
        return
    if reminder.kind == "rule":
        ctx.reply(texts.RM_UNREMIND_RULE.format(id=reminder_id))
        return
    if reminder.created_by != me.id and me.role != "admin":
        ctx.reply(texts.RM_UNREMIND_NOT_FOUND.format(id=reminder_id))
        return
    if not reminder.active:
        ctx.reply(texts.RM_UNREMIND_ALREADY.format(id=reminder_id))
        return
    reminder.active = False
    jobs_reminders.unschedule_after_commit(ctx.session, reminder.id)
    ctx.reply(texts.RM_UNREMIND_DONE.format(id=reminder_id, text=short(reminder.text, 40)))


ROUTES: dict[str, Route] = {
    "remind": Route(remind),
    "reminders": Route(list_),
    "unremind": Route(unremind),
}
