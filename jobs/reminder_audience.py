"""Who a reminder goes to.

Audience (`recipients`), at the scheduled time, never inactive people or console identities:
  {"role": "guard"} or {"role": ["guard", "clerk"]}  — the people of those roles;
  {"on_duty": true}   — the people on a shift at that moment (jobs.roster.on_duty: ShiftAssignment
                        rows with starts_at ≤ t < ends_at);
  {"group": "managers"} — a group of seeds/reminders.toml (`[group.managers]` with `roles` and/or
                        `names`), sent to each member. When the Telegram and WeCom channels exist, a
                        group will also be able to name its group chat (a WeCom group robot webhook,
                        a Telegram group chat id): that goes in `_group_members`/`fire_at`, which then
                        sends one message to the chat instead of one to each member.
  {"person_ids": [3, 7]} — those people.
  {"robot": "经理群"} — not people: one message to that WeCom group robot's chat (jobs.reminders.fire_at).
Keys combine (union). Nobody to tell → the admins are told that the reminder went to nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.core import texts
from bot.core.identity import ROLE_NAMES
from bot.storage.models import ROLES, Person, Reminder
from jobs.reminder_seeds import FILE_NAME, Group
from jobs.roster import on_duty

log = logging.getLogger(__name__)


def _as_list(value: Any) -> list[Any]:
    if value is None or value is False:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
    for name in _as_list(audience.get("robot")):
        parts.append(texts.RM_ROBOT.format(name=name))
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
