"""`/start [CODE]`: welcome back a registered person, or register / bind an account with an invite code.

Public (strangers may use it); it replaces general.start in the routes merge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import staff
from bot.core import texts
from bot.core.context import Ctx
from bot.core.router import Route

if TYPE_CHECKING:
    from bot.core.dialogs import Step


def start(ctx: Ctx, args: str) -> None:
    code = args.strip()
    if ctx.person is not None:
        _registered(ctx, code)
        return
    if not code:
        ctx.reply(texts.STRANGER)
        return
    if ctx.msg.is_group:
        ctx.reply(texts.INVITE_IN_GROUP)
        return
    msg = ctx.msg
    result = staff.redeem(ctx.session, channel=msg.channel, external_id=msg.sender, chat_id=msg.chat,
                          code=code, now=ctx.now, sender_name=msg.sender_name)
    if result.outcome == "throttled":
        ctx.reply(texts.INVITE_THROTTLED)
        return
    if result.outcome == "deactivated":
        ctx.reply(texts.ACCOUNT_DEACTIVATED)
        return
    if result.outcome == "invalid":
        ctx.reply(texts.INVITE_INVALID)
        return
    person = result.person
    assert person is not None
    role = staff.role_label(person.role)
    channel = staff.channel_label(msg.channel)
    if result.outcome == "created":
        ctx.reply(texts.REGISTERED.format(name=person.name, role=role) + "\n\n" + texts.help_for(person.role))
        note = texts.ADMIN_REGISTERED.format(name=person.name, role=role, channel=channel)
    else:
        ctx.reply(texts.BOUND.format(channel=channel, name=person.name, role=role) + "\n\n"
                  + texts.help_for(person.role))
        note = texts.ADMIN_BOUND.format(name=person.name, role=role, channel=channel)
    for admin in staff.admins_to_tell(ctx.session, except_id=person.id):
        ctx.notify(admin, note)


def _registered(ctx: Ctx, code: str) -> None:
    person = ctx.person
    assert person is not None
    role = staff.role_label(person.role)
    if not code:
        ctx.reply(texts.WELCOME_BACK.format(name=person.name, role=role))
        return
    # A registered account never consumes a code: the code stays good for the account it was meant for.
    invite = staff.valid_invite(ctx.session, code, ctx.now)
    if invite is not None and invite.person_id == person.id:
        ctx.reply(texts.ALREADY_BOUND.format(name=person.name, role=role))
        return
    ctx.reply(texts.ALREADY_REGISTERED.format(name=person.name, role=role))


ROUTES: dict[str, Route] = {"start": Route(start, public=True)}
DIALOGS: dict[str, Step] = {}
