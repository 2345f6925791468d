"""Scheduled reminders: rule schedules from seeds/reminders.toml and ad-hoc ones set in chat.

The `Reminder` table is the source of truth; the scheduler's jobs follow it.

- Rule schedules (`kind="rule"`): `[[reminder]]` entries of seeds/reminders.toml, each with a stable
  `key`, a `when` written like a chat phrase ("每天 20:45", "每月20号 09:00", "工作日 17:30"; only
  repeating ones — bot.core.timephrase reads them), `who`, `text` and `rule` (the clause it enforces,
  e.g. 《更夫守则》十、, which must exist in the corpus). `load_rules` upserts them by `rule_key` and
  deactivates the ones no longer in the file; it runs when this process becomes the scheduler
  (`register`) and by `dutybot reminders reload`.
- Ad-hoc reminders (`kind="adhoc"`): `/remind …` (bot.core.handlers.reminders). A one-off reminder is
  deactivated when it fires (or when its time was missed); `/unremind N` deactivates one.

Jobs: one APScheduler job per active reminder, id "reminder:<id>", "jobs.reminders:fire" with args
(reminder_id,), in the database job store, with `misfire_grace_time` = the grace window (default
`GRACE_SECONDS`) and `coalesce=True`. So after downtime a reminder missed by less than the grace
window fires once; an older one is skipped, logged by APScheduler and here (`_on_missed`), and a
missed one-off reminder is deactivated.

How a running bot picks up changes: the job "reminders-sync" ("jobs.reminders:sync", every
`SYNC_EVERY_SECONDS`, first run at once; kept in the memory job store since it holds no state) makes
the jobs match the active rows — adds missing jobs, replaces jobs whose trigger changed, removes jobs
of inactive or deleted rows. `dutybot reminders reload` only writes the table; the running bot's
next sync applies it (within 30 s). A chat `/remind` or `/unremind` also adds/removes its job right
after its transaction commits (in any process — a follower's paused scheduler writes to the shared
job store), so an ad-hoc reminder does not wait for the sync.

Firing (`fire` → `fire_at`): one transaction per firing, in which the claim
`Firing(key="reminder:<id>@<scheduled time, UTC ISO>")` is inserted (ON CONFLICT DO NOTHING): if it
was there already, this run is a duplicate (a second scheduler, a re-added job) and sends nothing.
The scheduled time is the trigger's latest firing at or before now, so a late run claims the same
key as a punctual one. Notifications also carry per-person dedupe keys.

Audience (`recipients`), at the scheduled time, never inactive people or console identities:
  {"role": "guard"} or {"role": ["guard", "clerk"]}  — the people of those roles;
  {"on_duty": true}   — the people on a shift at that moment (jobs.shifts.on_duty: ShiftAssignment
                        rows with starts_at ≤ t < ends_at);
  {"group": "managers"} — a group of seeds/reminders.toml (`[group.managers]` with `roles` and/or
                        `names`), sent to each member. When the Telegram and WeCom channels exist, a
                        group will also be able to name its group chat (a WeCom group robot webhook,
                        a Telegram group chat id): that goes in `_group_members`/`fire_at`, which then
                        sends one message to the chat instead of one to each member.
  {"person_ids": [3, 7]} — those people.
Keys combine (union). Nobody to tell → the admins are told that the reminder went to nobody.

Working days: a `工作日` reminder fires daily and `fire_at` skips a day that is not a Chinese
working day (jobs.workdays: chinese-calendar + seeds/holidays.txt), so holidays are skipped and
make-up working Saturdays (调休) are not.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import event, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.core import texts, timephrase
from bot.core.context import Ctx
from bot.core.identity import ROLE_NAMES
from bot.core.timephrase import Once, Repeating, Trigger
from bot.seedfile import LiveSeed, TomlSyntaxError, parse_toml
from bot.staff import ROLE_ALIASES
from bot.storage.models import ROLES, Firing, Person, Reminder, ShiftAssignment
from jobs import runtime
from retrieval.lexicon import SeedError, SeedProblem

if TYPE_CHECKING:
    from apscheduler.events import JobExecutionEvent
    from apscheduler.schedulers.base import BaseScheduler

    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)

FILE_NAME = "reminders.toml"
FIRE_REF = "jobs.reminders:fire"
SYNC_REF = "jobs.reminders:sync"
MISSED_REF = "jobs.reminders:missed"
JOB_PREFIX = "reminder:"
SYNC_JOB_ID = "reminders-sync"
SYNC_EVERY_SECONDS = 30
# A reminder missed while the bot was down for less than this fires once after the restart; an
# older one is skipped (a 20:45 "close the gate" reminder at midnight helps nobody).
GRACE_SECONDS = 30 * 60
MAX_TEXT = 200
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ON_DUTY_WORDS = frozenset({"on_duty", "值班", "值班人员", "当班", "当班人员"})
# What may be written for a role (besides the role's own name): the staff command's words, and 门卫.
ROLE_WORDS = {**ROLE_ALIASES, "门卫": "guard"}


def job_id(reminder_id: int) -> str:
    return f"{JOB_PREFIX}{reminder_id}"


def firing_key(reminder_id: int, scheduled: datetime) -> str:
    return f"{JOB_PREFIX}{reminder_id}@{scheduled.astimezone(UTC).replace(microsecond=0).isoformat()}"


def parse_role(word: str) -> str | None:
    value = unicodedata.normalize("NFKC", word).strip()
    role = ROLE_WORDS.get(value, value.lower())
    return role if role in ROLES else None


# ---------------------------------------------------------------------------------------------
# seeds/reminders.toml


@dataclass(frozen=True)
class Group:
    key: str
    name: str  # what people read ("经理")
    roles: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    key: str
    when: str
    trigger: Repeating
    audience: Mapping[str, Any]
    text: str
    citation: str
    enabled: bool = True


@dataclass(frozen=True)
class Seeds:
    rules: tuple[RuleSpec, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=lambda: MappingProxyType({}))


_RULE_KEYS = ("key", "when", "who", "text", "rule", "enabled")
_GROUP_KEYS = ("name", "roles", "names")



def parse_seeds(
    raw: str,
    file: str,
    *,
    tz: ZoneInfo,
    now: datetime,
    find_citation: Any = None,
) -> tuple[Seeds | None, list[SeedProblem]]:
    """The rule schedules and groups in `raw`, or None with every problem found.

    `find_citation(ref) -> bool` says whether a citation names a clause of the corpus (None: not
    checked). Messages do not repeat the line number (`SeedProblem.line` carries it).
    """
    problems: list[SeedProblem] = []

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    try:
        seed = parse_toml(raw)
    except TomlSyntaxError as err:
        near = f"（第 {err.column} 列附近）" if err.column else ""
        problem(err.line,
                f"写法不对{near}：文字要用英文双引号括起来（when = \"每天 20:45\"），"
                "表头写成 [[reminder]] 或 [group.名称]。")
        return None, problems
    data: dict[str, Any] = seed.data
    line_of = seed.line_of

    for key in data:
        if key not in ("reminder", "group"):
            problem(line_of(key) or line_of("", key), f"不认识的设置“{key}”（只能有 [[reminder]] 和 [group.名称]）。")

    groups: dict[str, Group] = {}
    raw_groups = data.get("group", {})
    if not isinstance(raw_groups, dict):
        problem(line_of("group"), "分组要写成 [group.名称] 表，例如 [group.managers]。")
        raw_groups = {}
    for gkey, entry in raw_groups.items():
        section = f"group.{gkey}"
        header = line_of(section)
        if not isinstance(entry, dict):
            problem(header, f"分组“{gkey}”要写成 [group.{gkey}] 表。")
            continue
        if not KEY_PATTERN.match(gkey):
            problem(header, f"分组名“{gkey}”只能用小写英文字母、数字、- 和 _，例如 managers。")
            continue
        for key in entry:
            if key not in _GROUP_KEYS:
                problem(line_of(section, key),
                        f"不认识的设置“{key}”（分组只有 name、roles、names；企业微信群、Telegram 群等接入渠道后再加）。")
        roles: list[str] = []
        raw_roles = entry.get("roles", [])
        if isinstance(raw_roles, str):
            raw_roles = [raw_roles]
        if not isinstance(raw_roles, list):
            problem(line_of(section, "roles"), "roles 要写成列表，例如 roles = [\"manager\", \"admin\"]。")
            raw_roles = []
        for word in raw_roles:
            role = parse_role(word) if isinstance(word, str) else None
            if role is None:
                problem(line_of(section, "roles"),
                        f"没有“{word}”这个角色（可用：guard 保安、clerk 客服、manager 经理、admin 管理员）。")
            elif role not in roles:
                roles.append(role)
        names = entry.get("names", [])
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            problem(line_of(section, "names"), "names 要写成姓名列表，例如 names = [\"张三\", \"李四\"]。")
            names = []
        if not roles and not names:
            problem(header, f"分组“{gkey}”没有成员：请写 roles（角色）或 names（姓名）。")
            continue
        name = entry.get("name", gkey)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 20:
            problem(line_of(section, "name"), "name 要写 1 到 20 个字，例如 name = \"经理\"。")
            continue
        groups[gkey] = Group(gkey, name.strip(), tuple(roles), tuple(n.strip() for n in names))

    rules: list[RuleSpec] = []
    keys: dict[str, int] = {}
    entries = data.get("reminder", [])
    if not isinstance(entries, list):
        problem(line_of("reminder"), "每条定时提醒要写成 [[reminder]] 表。")
        entries = []
    for i, entry in enumerate(entries):
        header = line_of("reminder", index=i)
        if not isinstance(entry, dict):
            problem(header, "每条定时提醒要写成 [[reminder]] 表。")
            continue
        for key in entry:
            if key not in _RULE_KEYS:
                problem(line_of("reminder", key, i),
                        f"不认识的设置“{key}”（每条提醒有 key、when、who、text、rule，可选 enabled）。")
        missing = [key for key in ("key", "when", "who", "text", "rule") if key not in entry]
        if missing:
            problem(header, f"这条提醒缺少 {'、'.join(missing)}。")
            continue
        key, when, who, text, rule = (entry[k] for k in ("key", "when", "who", "text", "rule"))
        ok = True
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            problem(line_of("reminder", "key", i),
                    f"key 只能用小写英文字母、数字、- 和 _（例如 gate-close），现在是“{key}”。")
            ok = False
        elif key in keys:
            problem(line_of("reminder", "key", i), f"key“{key}”和第 {keys[key]} 行重复了。")
            ok = False
        else:
            keys[key] = line_of("reminder", "key", i)
        trigger: Repeating | None = None
        if not isinstance(when, str) or not when.strip():
            problem(line_of("reminder", "when", i), "when 要写提醒时间，例如 when = \"每天 20:45\"。")
            ok = False
        else:
            try:
                parsed = timephrase.parse(when, now, tz)
            except timephrase.TimePhraseError as err:
                problem(line_of("reminder", "when", i), f"when“{when}”：{err.message}")
                ok = False
            else:
                if not isinstance(parsed.trigger, Repeating):
                    problem(line_of("reminder", "when", i),
                            f"when“{when}”只提醒一次；定时提醒要写重复的时间，例如 每天 20:45、每周一 08:30、"
                            "工作日 17:30、每月20号 09:00。")
                    ok = False
                elif parsed.message:
                    problem(line_of("reminder", "when", i),
                            f"when 里只写时间，“{parsed.message}”请写到 text 里。")
                    ok = False
                else:
                    trigger = parsed.trigger
        audience = _audience_of(who, groups, raw_groups)
        if audience is None:
            problem(line_of("reminder", "who", i),
                    f"who“{who}”不对：写 \"on_duty\"（值班人员）、\"role:guard\"（某个角色，也可写 role:保安）"
                    "或 \"group:managers\"（下面 [group.…] 定义的分组）。")
            ok = False
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
            problem(line_of("reminder", "text", i), f"text 要写 1 到 {MAX_TEXT} 个字的提醒内容。")
            ok = False
        if not isinstance(rule, str) or not rule.strip():
            problem(line_of("reminder", "rule", i), "rule 要写依据的条款，例如 rule = \"《更夫守则》十、\"。")
            ok = False
        elif find_citation is not None and not find_citation(rule.strip()):
            problem(line_of("reminder", "rule", i),
                    f"规章制度里找不到条款“{rule}”。请写成《文件名》加条号，例如《更夫守则》十、"
                    "（可以用 dutybot corpus show 查）。")
            ok = False
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            problem(line_of("reminder", "enabled", i), "enabled 只能写 true 或 false。")
            ok = False
        if ok and trigger is not None and audience is not None:
            rules.append(RuleSpec(key, when.strip(), trigger, MappingProxyType(audience), text.strip(),
                                  rule.strip(), enabled))
    if problems:
        return None, sorted(problems, key=lambda p: p.line)
    return Seeds(tuple(rules), MappingProxyType(groups)), []


def _audience_of(who: Any, groups: Mapping[str, Group], raw_groups: Mapping[str, Any]) -> dict[str, Any] | None:
    """who = "on_duty" | "role:guard" (role:保安, or just 保安) | "group:managers" (or just managers)."""
    if not isinstance(who, str):
        return None
    value = unicodedata.normalize("NFKC", who).strip()
    kind, sep, rest = value.partition(":")
    if not sep:
        kind, rest = "", value
    kind, rest = kind.strip().lower(), rest.strip()
    if kind in ("", "on_duty") and (rest in ON_DUTY_WORDS or kind == "on_duty" and not rest):
        return {"on_duty": True}
    if kind in ("", "role"):
        role = parse_role(rest)
        if role is not None:
            return {"role": role}
    if kind in ("", "group") and (rest in groups or rest in raw_groups):
        return {"group": rest}
    return None


def _citation_finder(seeds_dir: Path) -> Any:
    """A `find_citation` over the corpus in seeds_dir/regulations; None when it cannot be read (that
    problem is reported by the regulations check)."""
    try:
        from retrieval.corpus import find_clauses, load_corpus

        docs = load_corpus(seeds_dir / "regulations")
    except Exception:
        log.exception("regulations unreadable; rule citations not checked")
        return None
    if not docs:
        return None
    return lambda ref: bool(find_clauses(docs, ref))


def read_seeds(seeds_dir: Path, tz: ZoneInfo, now: datetime, *, check_citations: bool = True
               ) -> tuple[Seeds | None, list[SeedProblem]]:
    path = seeds_dir / FILE_NAME
    if not path.is_file():
        return None, [SeedProblem(str(path), 0, "找不到定时提醒设置文件 reminders.toml。")]
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, [SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。")]
    finder = _citation_finder(seeds_dir) if check_citations else None
    return parse_seeds(raw, str(path), tz=tz, now=now, find_citation=finder)


def check_reminders(seeds_dir: Path, timezone: str = "Asia/Shanghai") -> list[SeedProblem]:
    """Every problem of seeds/reminders.toml (`dutybot seeds check`); empty when it is fine."""
    return read_seeds(seeds_dir, ZoneInfo(timezone), datetime.now(UTC))[1]


def _read_groups(path: Path) -> tuple[Mapping[str, Group] | None, list[SeedProblem]]:
    seeds, problems = read_seeds(path.parent, ZoneInfo("UTC"), datetime.now(UTC), check_citations=False)
    return (seeds.groups if seeds is not None else None), problems


_GROUPS: LiveSeed[Mapping[str, Group]] = LiveSeed("reminder groups", _read_groups, MappingProxyType({}))


def groups_of(seeds_dir: Path) -> Mapping[str, Group]:
    """The groups now in the seeds file (re-read when it changes; no file means none)."""
    return _GROUPS.get(seeds_dir / FILE_NAME)


# ---------------------------------------------------------------------------------------------
# Loading the rule schedules into the table


@dataclass(frozen=True)
class LoadResult:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deactivated: tuple[str, ...] = ()
    unchanged: int = 0


def load_rules(sessions: sessionmaker[Session], seeds_dir: Path, tz: ZoneInfo, now: datetime) -> LoadResult:
    """Upsert the rule schedules of the seeds file by `rule_key` and deactivate the rule reminders no
    longer in it. Raises SeedError (nothing changed) when the file has problems."""
    seeds, problems = read_seeds(seeds_dir, tz, now)
    if seeds is None:
        raise SeedError(problems)
    added: list[str] = []
    updated: list[str] = []
    deactivated: list[str] = []
    unchanged = 0
    with sessions.begin() as session:
        existing = {r.rule_key: r for r in session.scalars(select(Reminder).where(Reminder.kind == "rule"))}
        for spec in seeds.rules:
            values = {"audience": dict(spec.audience), "text": spec.text, "citation": spec.citation,
                      "schedule": spec.when, "trigger": timephrase.to_dict(spec.trigger), "active": spec.enabled}
            row = existing.pop(spec.key, None)
            if row is None:
                session.add(Reminder(kind="rule", rule_key=spec.key, created_at=now, **values))
                added.append(spec.key)
                continue
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(row, k, v)
                (deactivated if "active" in changed and not spec.enabled else updated).append(spec.key)
            else:
                unchanged += 1
        for key, row in existing.items():
            if row.active:
                row.active = False
                deactivated.append(str(key))
    return LoadResult(tuple(added), tuple(updated), tuple(deactivated), unchanged)


# ---------------------------------------------------------------------------------------------
# Audience


def _as_list(value: Any) -> list[Any]:
    if value is None or value is False:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def on_duty(session: Session, at: datetime) -> list[Person]:
    """The people on a shift at `at`: jobs.shifts.on_duty when it is there, else the roster query."""
    try:
        from jobs.shifts import on_duty as shifts_on_duty
    except ImportError:
        shifts_on_duty = None
    if shifts_on_duty is not None:
        return list(shifts_on_duty(session, at))
    return list(session.scalars(
        select(Person).join(ShiftAssignment, ShiftAssignment.person_id == Person.id)
        .where(ShiftAssignment.starts_at <= at, ShiftAssignment.ends_at > at,
               Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id).distinct()
    ).all())


def _group_members(session: Session, group: Group) -> list[Person]:
    """A group's members, each told on their own channel. (A group chat — WeCom robot, Telegram
    group — will be addressed here once the channels exist.)"""
    clauses = []
    if group.roles:
        clauses.append(Person.role.in_(group.roles))
    if group.names:
        clauses.append(Person.name.in_(group.names))
    return list(session.scalars(
        select(Person).where(or_(*clauses), Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id)
    ).all())


def recipients(session: Session, audience: Mapping[str, Any], at: datetime,
               groups: Mapping[str, Group]) -> list[Person]:
    """Who receives a reminder fired for time `at`: active people, never console identities."""
    people: dict[int, Person] = {}

    def add(found: Iterable[Person]) -> None:
        for person in found:
            if person.active and not person.is_console:
                people.setdefault(person.id, person)

    roles = [r for r in _as_list(audience.get("role")) if r in ROLES]
    if roles:
        add(session.scalars(select(Person).where(Person.role.in_(roles), Person.active.is_(True),
                                                 Person.is_console.is_(False)).order_by(Person.id)))
    if audience.get("on_duty"):
        add(on_duty(session, at))
    for key in _as_list(audience.get("group")):
        group = groups.get(key)
        if group is None:
            log.error("reminder audience names group %r, which seeds/%s does not define", key, FILE_NAME)
            continue
        add(_group_members(session, group))
    ids = [i for i in _as_list(audience.get("person_ids")) if isinstance(i, int)]
    if ids:
        add(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.id)))
    return sorted(people.values(), key=lambda p: p.id)


def describe_audience(session: Session, audience: Mapping[str, Any], groups: Mapping[str, Group],
                      *, me: Person | None = None) -> str:
    """"值班人员", "全体保安", "经理", "张三、李四" — or "您" when it is only `me`."""
    parts: list[str] = []
    if audience.get("on_duty"):
        parts.append(texts.RM_ON_DUTY)
    for role in _as_list(audience.get("role")):
        parts.append(texts.RM_ROLE_ALL.format(role=ROLE_NAMES.get(role, role)))
    for key in _as_list(audience.get("group")):
        group = groups.get(key)
        parts.append(group.name if group else key)
    ids = [i for i in _as_list(audience.get("person_ids")) if isinstance(i, int)]
    if ids:
        if me is not None and ids == [me.id] and not parts:
            return "您"
        names = {pid: name for pid, name in session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))}
        parts.extend(names.get(i, f"#{i}") for i in ids)
    return "、".join(parts) or texts.RM_NOBODY


def concerns(person: Person, reminder: Reminder, groups: Mapping[str, Group], *, on_roster: bool) -> bool:
    """Does a reminder concern this person: set by them, or addressed to them, their role, a group
    they are in, or the people on duty (guards, and anyone with a shift on the roster)?"""
    if reminder.created_by == person.id:
        return True
    audience = reminder.audience or {}
    if person.id in _as_list(audience.get("person_ids")) or person.role in _as_list(audience.get("role")):
        return True
    if audience.get("on_duty") and (on_roster or person.role == "guard"):
        return True
    for key in _as_list(audience.get("group")):
        group = groups.get(key)
        if group is not None and (person.role in group.roles or person.name in group.names):
            return True
    return False


def upcoming(reminder: Reminder, now: datetime, tz: ZoneInfo, is_workday: Any = None) -> datetime | None:
    """The reminder's next run (a one-off one still pending: its own time, even if just past)."""
    try:
        trigger = timephrase.from_dict(reminder.trigger)
    except (ValueError, KeyError, TypeError):
        log.error("reminder %s has an unreadable trigger %r", reminder.id, reminder.trigger)
        return None
    if isinstance(trigger, Once):
        return trigger.at
    return timephrase.next_fire(trigger, now, tz, is_workday)


def workday_test(seeds_dir: Path) -> Any:
    from jobs.workdays import calendar_for

    return calendar_for(seeds_dir).is_workday


# ---------------------------------------------------------------------------------------------
# Firing


def fire(reminder_id: int) -> bool:
    """Scheduler entry point ("jobs.reminders:fire", args (reminder_id,)): fire it in the running App."""
    app = runtime.app()
    return fire_at(app, reminder_id, app.services.clock())


def claim(session: Session, key: str, now: datetime) -> bool:
    """Insert the firing claim `key` in the session's transaction; False if it was taken already.

    INSERT … ON CONFLICT DO NOTHING RETURNING: a row comes back only when this insert made it (the
    rowcount is no guide: psycopg reports -1 for it). On PostgreSQL a concurrent claimer waits for the
    first one's transaction and then inserts nothing; SQLite serialises writers."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Firing).values(key=key, at=now).on_conflict_do_nothing(index_elements=["key"])
    return session.execute(stmt.returning(Firing.key)).scalar() is not None


def fire_at(app: App, reminder_id: int, now: datetime) -> bool:
    """Send the reminder's firing that `now` stands for, once. Returns whether it was sent."""
    tz = app.services.tz
    seeds_dir = app.settings.seeds_dir
    try:
        with runtime.system_ctx(app, now) as ctx:
            reminder = ctx.session.get(Reminder, reminder_id)
            if reminder is None or not reminder.active:
                log.info("reminder %s is gone or inactive; not fired", reminder_id)
                return False
            try:
                trigger = timephrase.from_dict(reminder.trigger)
            except (ValueError, KeyError, TypeError):
                log.error("reminder %s has an unreadable trigger %r; not fired", reminder_id, reminder.trigger)
                return False
            scheduled = timephrase.scheduled_time(trigger, now, tz)
            if scheduled is None:
                log.warning("reminder %s fired at %s with no firing due; nothing sent", reminder_id, now.isoformat())
                return False
            if isinstance(trigger, Once):
                reminder.active = False  # a one-off reminder is done, whoever sends it
            if isinstance(trigger, Repeating) and trigger.workdays \
                    and not workday_test(seeds_dir)(scheduled.astimezone(tz).date()):
                log.info("reminder %s: %s is not a working day; skipped", reminder_id,
                         scheduled.astimezone(tz).date().isoformat())
                return False
            key = firing_key(reminder_id, scheduled)
            if not claim(ctx.session, key, now):
                log.warning("reminder firing %s was claimed already (another scheduler or a re-run); "
                            "not sent again", key)
                return False
            groups = groups_of(seeds_dir)
            people = recipients(ctx.session, reminder.audience or {}, scheduled, groups)
            creator = ctx.session.get(Person, reminder.created_by) if reminder.created_by else None
            for person in people:
                ctx.notify(person, _message(reminder, creator, person), dedupe_key=f"{key}:{person.id}")
            if not people:
                _tell_admins_nobody(ctx, reminder, key, groups)
            log.info("reminder %s fired for %s to %s person(s)", reminder_id, scheduled.isoformat(), len(people))
    except IntegrityError:  # the claim raced another process's on a database without ON CONFLICT
        log.warning("reminder %s: the firing was claimed by another process; not sent", reminder_id)
        return False
    app.services.on_outbox()
    return True


def _message(reminder: Reminder, creator: Person | None, person: Person) -> str:
    lines = [texts.RM_FIRE.format(text=reminder.text)]
    if reminder.citation:
        lines.append(texts.RM_FIRE_RULE.format(citation=reminder.citation))
    if creator is not None and creator.id != person.id:
        lines.append(texts.RM_FIRE_BY.format(who=creator.name))
    return "\n".join(lines)


def _tell_admins_nobody(ctx: Ctx, reminder: Reminder, key: str, groups: Mapping[str, Group]) -> None:
    from bot.core.escalation import admins

    to = describe_audience(ctx.session, reminder.audience or {}, groups)
    people = admins(ctx.session)
    log.warning("reminder %s (%s) has nobody to tell; %s admin(s) told", reminder.id, to, len(people))
    for admin in people:
        ctx.notify(admin, texts.RM_FIRE_NOBODY.format(to=to, text=reminder.text),
                   dedupe_key=f"{key}:nobody:{admin.id}")


# ---------------------------------------------------------------------------------------------
# Jobs: register, sync, after-commit scheduling, misses


_listening: weakref.WeakSet[Any] = weakref.WeakSet()


def register(scheduler: BaseScheduler, *, grace_seconds: int = GRACE_SECONDS) -> None:
    """Load the rule schedules and add the sync job (first run at once) and the miss listener.
    Called by jobs.scheduler.start_jobs whenever this process becomes the scheduler; idempotent."""
    from apscheduler.events import EVENT_JOB_MISSED

    from jobs import outbox

    app = runtime.app()
    try:
        result = load_rules(app.services.sessions, app.settings.seeds_dir, app.services.tz, app.services.clock())
        log.info("rule reminders loaded: %s added, %s updated, %s deactivated, %s unchanged",
                 len(result.added), len(result.updated), len(result.deactivated), result.unchanged)
    except SeedError as err:
        log.error("seeds/%s has problems; rule reminders left as they were: %s", FILE_NAME,
                  "; ".join(f"{p.line}: {p.message}" for p in err.problems))
    except IntegrityError:  # another process loaded them at the same moment
        log.info("rule reminders were being loaded by another process")
    except Exception:  # never keep the bot from starting over reminders
        log.exception("loading the rule reminders failed")
    scheduler.add_job(SYNC_REF, "interval", seconds=SYNC_EVERY_SECONDS, id=SYNC_JOB_ID, name="同步定时提醒",
                      kwargs={"grace_seconds": grace_seconds}, jobstore=outbox.WAKE_JOBSTORE,
                      replace_existing=True, next_run_time=datetime.now(scheduler.timezone))
    if scheduler not in _listening:
        _listening.add(scheduler)
        scheduler.add_listener(lambda ev: _on_missed(scheduler, ev), EVENT_JOB_MISSED)


def sync(grace_seconds: int = GRACE_SECONDS) -> int:
    """Scheduler entry point ("jobs.reminders:sync"): make the jobs match the active reminders."""
    scheduler = runtime.scheduler()
    if scheduler is None:
        raise runtime.NotRunning("no scheduler installed")
    return sync_jobs(runtime.app(), scheduler, grace_seconds=grace_seconds)


def sync_jobs(app: App, scheduler: BaseScheduler, *, grace_seconds: int = GRACE_SECONDS,
              now: datetime | None = None) -> int:
    """Add, replace and remove "reminder:<id>" jobs so they match the active rows; returns how many
    jobs changed. A job whose trigger is unchanged is left alone (its pending run time, perhaps a
    missed one to be run late, is kept). A one-off reminder without a job whose time is more than the
    grace window ago is deactivated (it was missed)."""
    now = now or app.services.clock()
    tz = app.services.tz
    with app.services.sessions() as session:
        rows = session.execute(select(Reminder.id, Reminder.trigger).where(Reminder.active.is_(True))).all()
    jobs = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    changed = 0
    missed: list[int] = []
    for reminder_id, trigger_data in rows:
        try:
            trigger = timephrase.from_dict(trigger_data)
        except (ValueError, KeyError, TypeError):
            log.error("reminder %s has an unreadable trigger %r; no job", reminder_id, trigger_data)
            continue
        wanted = timephrase.aps_trigger(trigger, tz)
        job = jobs.pop(job_id(reminder_id), None)
        if job is not None and repr(job.trigger) == repr(wanted):
            if job.misfire_grace_time != grace_seconds:
                scheduler.modify_job(job.id, misfire_grace_time=grace_seconds)
            continue
        if job is None and isinstance(trigger, Once) and trigger.at < now - timedelta(seconds=grace_seconds):
            missed.append(reminder_id)
            continue
        _add_job(scheduler, reminder_id, wanted, grace_seconds)
        changed += 1
    for stale in jobs:
        _remove_job(scheduler, stale)
        changed += 1
    if missed:
        _deactivate_missed(app, missed, now)
    if changed:
        log.info("reminder jobs synced: %s changed", changed)
    return changed


def _add_job(scheduler: BaseScheduler, reminder_id: int, trigger: Any, grace_seconds: int) -> None:
    scheduler.add_job(FIRE_REF, trigger=trigger, args=(reminder_id,), id=job_id(reminder_id),
                      name=f"提醒 #{reminder_id}", replace_existing=True, misfire_grace_time=grace_seconds,
                      coalesce=True, max_instances=1)


def _remove_job(scheduler: BaseScheduler, jid: str) -> None:
    from apscheduler.jobstores.base import JobLookupError

    try:
        scheduler.remove_job(jid)
    except JobLookupError:
        pass


def _deactivate_missed(app: App, reminder_ids: Sequence[int], now: datetime) -> None:
    with app.services.sessions.begin() as session:
        for reminder in session.scalars(select(Reminder).where(Reminder.id.in_(reminder_ids),
                                                               Reminder.active.is_(True))):
            log.warning("reminder %s (%r) was due at %s and missed by more than the grace window; "
                        "skipped, not sent", reminder.id, reminder.text[:40],
                        reminder.trigger.get("run_at"))
            reminder.active = False


def schedule_after_commit(session: Session, reminder_id: int, trigger: Trigger, tz: ZoneInfo) -> None:
    """Add the reminder's job once the session's transaction commits (no-op without a scheduler: the
    leader's sync adds it)."""
    scheduler = runtime.scheduler()
    if scheduler is None:
        return

    def added(_session: Session) -> None:
        try:
            _add_job(scheduler, reminder_id, timephrase.aps_trigger(trigger, tz), GRACE_SECONDS)
        except Exception:
            log.exception("adding the job of reminder %s failed; the sync will add it", reminder_id)

    event.listen(session, "after_commit", added, once=True)


def unschedule_after_commit(session: Session, reminder_id: int) -> None:
    scheduler = runtime.scheduler()
    if scheduler is None:
        return

    def removed(_session: Session) -> None:
        try:
            _remove_job(scheduler, job_id(reminder_id))
        except Exception:
            log.exception("removing the job of reminder %s failed; the sync will remove it", reminder_id)

    event.listen(session, "after_commit", removed, once=True)


def _on_missed(scheduler: BaseScheduler, ev: JobExecutionEvent) -> None:
    """A reminder job ran later than its grace window: APScheduler skipped it; say so and deactivate
    a missed one-off reminder (in a job, off the event loop)."""
    if not ev.job_id.startswith(JOB_PREFIX):
        return
    from jobs import outbox

    late = datetime.now(UTC) - ev.scheduled_run_time
    log.warning("reminder job %s: run time %s missed by %s, more than its grace window; skipped, not sent",
                ev.job_id, ev.scheduled_run_time.isoformat(), late)
    try:
        scheduler.add_job(MISSED_REF, "date", args=(int(ev.job_id.removeprefix(JOB_PREFIX)),
                                                    ev.scheduled_run_time.astimezone(UTC).isoformat()),
                          id=f"reminder-missed:{ev.job_id}", jobstore=outbox.WAKE_JOBSTORE, replace_existing=True)
    except Exception:
        log.exception("could not schedule the clean-up of missed %s; the sync will do it", ev.job_id)


def missed(reminder_id: int, run_time: str) -> None:
    """Scheduler entry point ("jobs.reminders:missed"): a one-off reminder whose time was missed is
    deactivated (a repeating one simply waits for its next time)."""
    app = runtime.app()
    at = datetime.fromisoformat(run_time)
    with app.services.sessions.begin() as session:
        reminder = session.get(Reminder, reminder_id)
        if reminder is None or not reminder.active:
            return
        try:
            trigger = timephrase.from_dict(reminder.trigger)
        except (ValueError, KeyError, TypeError):
            return
        if isinstance(trigger, Once) and abs((trigger.at - at).total_seconds()) < 1:
            reminder.active = False
            log.warning("one-off reminder %s (%r) due at %s was missed; deactivated", reminder_id,
                        reminder.text[:40], run_time)


# ---------------------------------------------------------------------------------------------
# `dutybot reminders list|reload`


def cli(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None,
        now: datetime | None = None) -> int:
    """Run `dutybot reminders list|reload`. A broken seeds file raises SeedError (printed by main)."""
    from bot.storage.db import make_engine, session_factory, upgrade

    out = out or sys.stdout
    logging.getLogger("alembic").setLevel(logging.WARNING)
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        if args.reminders_command == "reload":
            result = load_rules(sessions, settings.seeds_dir, tz, now)
            print("\n".join(reload_lines(result)), file=out)
        else:
            if not _rules_loaded(sessions):  # the bot never ran here: show the seeds' schedules too
                load_rules(sessions, settings.seeds_dir, tz, now)
            print("\n".join(list_lines(sessions, settings.seeds_dir, tz, now)), file=out)
        return 0
    finally:
        engine.dispose()


def _rules_loaded(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(Reminder.id).where(Reminder.kind == "rule").limit(1)) is not None


def reload_lines(result: LoadResult) -> list[str]:
    summary = (f"已重新读取 {FILE_NAME}：新增 {len(result.added)} 条，更新 {len(result.updated)} 条，"
               f"停用 {len(result.deactivated)} 条，未变 {result.unchanged} 条。")
    lines = [summary]
    for label, keys in (("新增", result.added), ("更新", result.updated), ("停用", result.deactivated)):
        if keys:
            lines.append(f"  {label}：{'、'.join(keys)}")
    lines.append(f"运行中的机器人会在 {SYNC_EVERY_SECONDS} 秒内按新的设置提醒。")
    return lines


def list_lines(sessions: sessionmaker[Session], seeds_dir: Path, tz: ZoneInfo, now: datetime) -> list[str]:
    """Every active reminder with its next run time (computed from the trigger), soonest first."""
    from bot.core.lifecycle import local_time

    is_workday = workday_test(seeds_dir)
    groups = groups_of(seeds_dir)
    with sessions() as session:
        rows = session.scalars(select(Reminder).where(Reminder.active.is_(True)).order_by(Reminder.id)).all()
        if not rows:
            return ["没有生效的提醒。规章定时提醒在 seeds/reminders.toml，改完运行 dutybot reminders reload。"]
        far = datetime.max.replace(tzinfo=UTC)
        timed = sorted(((upcoming(r, now, tz, is_workday), r) for r in rows),
                       key=lambda item: (item[0] or far, item[1].id))
        creators = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
        lines = [f"生效的提醒 {len(rows)} 条（时间为 {tz.key} 本地时间）："]
        for when, r in timed:
            trigger_text = _schedule_text(r, tz, now)
            next_text = local_time(when, tz, now) if when is not None else texts.RM_NO_NEXT
            if when is not None and when < now:
                next_text += "（已过，等待补发或作废）"
            origin = (f"规章 {r.rule_key}" if r.kind == "rule"
                      else f"临时，{creators.get(r.created_by or 0, '?')} 设")
            to = describe_audience(session, r.audience or {}, groups)
            lines.append(f"#{r.id}  下次 {next_text}  [{trigger_text}]  {origin}  → {to}")
            lines.append(f"      {r.text}" + (f"  （依据 {r.citation}）" if r.citation else ""))
        return lines


def _schedule_text(reminder: Reminder, tz: ZoneInfo, now: datetime) -> str:
    try:
        return timephrase.describe(timephrase.from_dict(reminder.trigger), tz, now)
    except (ValueError, KeyError, TypeError):
        return reminder.schedule

