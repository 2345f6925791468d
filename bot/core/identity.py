"""Who is speaking: channel accounts → people; console identities; the polite refusal for strangers."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import texts
from bot.core.context import Ctx
from bot.core.messages import Inbound
from bot.storage.models import ROLES, Account, Person

log = logging.getLogger(__name__)

CONSOLE = "console"
ROLE_NAMES = {"guard": "保安", "clerk": "客服", "manager": "经理", "admin": "管理员"}


def resolve(session: Session, msg: Inbound) -> Person | None:
    account = session.scalar(
        select(Account).where(Account.channel == msg.channel, Account.external_id == msg.sender)
    )
    if account is None or not account.person.active:
        return None
    if account.blocked:
        account.blocked = False  # they wrote to us again, so they can be reached again
    return account.person


def refuse_stranger(ctx: Ctx) -> None:
    log.warning("message from unregistered %s account %s refused", ctx.msg.channel, ctx.msg.sender)
    ctx.reply(texts.STRANGER)


class UnknownIdentity(LookupError):
    """`--as` named nobody (or several people)."""


def console_identity(session: Session, as_: str | None) -> Account:
    """The console account to speak as: the local admin, a console identity of a role, or a person.

    Console identities are marked `is_console`: they never receive escalations, rosters or reminders.
    """
    if as_ is None or as_ in ROLES:
        role = as_ or "admin"
        external_id = f"console:{role}"
        account = _account(session, external_id)
        if account is None:
            person = Person(name=f"控制台{ROLE_NAMES[role]}", role=role, is_console=True)
            account = Account(person=person, channel=CONSOLE, external_id=external_id, chat_id=CONSOLE)
            session.add(account)
            session.flush()
        return account
    people = session.scalars(select(Person).where(Person.name == as_, Person.active.is_(True))).all()
    if len(people) != 1:
        raise UnknownIdentity(as_)
    person = people[0]
    external_id = f"console:person:{person.id}"
    account = _account(session, external_id)
    if account is None:
        account = Account(person=person, channel=CONSOLE, external_id=external_id, chat_id=CONSOLE)
        session.add(account)
        session.flush()
    return account


def _account(session: Session, external_id: str) -> Account | None:
    return session.scalar(
        select(Account).where(Account.channel == CONSOLE, Account.external_id == external_id)
    )
