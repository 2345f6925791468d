"""The channel-neutral core: an inbound message in, the messages to send out (via the outbox).

One transaction per message: the dedupe key of the inbound message, whatever the handler stores and
every reply or notification it produces are committed together, or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import outbox
from bot.core import dialogs, identity, texts
from bot.core.commands import parse
from bot.core.context import Ctx
from bot.core.messages import Inbound, Outbound
from bot.core.services import Services
from bot.outbox import UNREACHABLE
from bot.storage.models import SeenInbound

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, str], None]

# Commands that, typed as Chinese words, still leave an unfinished dialog.
DIALOG_EXIT_COMMANDS = frozenset({"cancel", "help"})


@dataclass(frozen=True)
class Route:
    handler: Handler
    # Roles allowed; None means every registered person.
    roles: frozenset[str] | None = None
    # Unregistered senders may use it (help, start with an invite code).
    public: bool = False


def _routes() -> dict[str, Route]:
    from bot.core.handlers import routes

    return routes.ROUTES


class Core:
    def __init__(self, services: Services, routes: dict[str, Route] | None = None):
        self.services = services
        self._routes = routes if routes is not None else _routes()

    def handle(self, msg: Inbound) -> list[Outbound]:
        """Handle one message and return what was queued for the sender. Never raises."""
        try:
            with self.services.sessions.begin() as session:
                ctx = self._handle_in(session, msg)
                if ctx is None:
                    return []
                self.queue_outgoing(session, ctx)
        except IntegrityError:
            # A concurrent delivery of the same message may have won the dedupe race: it answers.
            if msg.message_id and self._seen(msg):
                log.info("duplicate %s message %s dropped", msg.channel, msg.message_id)
                return []
            log.exception("handling a %s message failed", msg.channel)
            return self._fail(msg)
        except Exception:
            log.exception("handling a %s message failed", msg.channel)
            return self._fail(msg)
        self.services.on_outbox()
        return ctx.replies

    @staticmethod
    def _dedupe_key(msg: Inbound) -> str:
        return f"{msg.channel}:{msg.chat}:{msg.message_id}"

    def _seen(self, msg: Inbound) -> bool:
        with self.services.sessions() as session:
            return session.get(SeenInbound, self._dedupe_key(msg)) is not None

    def _handle_in(self, session: Session, msg: Inbound) -> Ctx | None:
        now = self.services.clock()
        if msg.message_id:
            key = self._dedupe_key(msg)
            if session.get(SeenInbound, key) is not None:
                log.info("duplicate %s message %s dropped", msg.channel, msg.message_id)
                return None
            session.add(SeenInbound(key=key, at=now))
            session.flush()
        person = identity.resolve(session, msg)
        ctx = Ctx(msg=msg, session=session, person=person, now=now, services=self.services)
        self._dispatch(ctx)
        return ctx

    def _dispatch(self, ctx: Ctx) -> None:
        parsed = parse(ctx.msg.text)
        dialog = dialogs.current(ctx) if ctx.person is not None else None
        if dialog is not None:
            # Inside a dialog a lone word such as "收到" is an answer, not the /ack command; a slash
            # command, a command word with arguments ("上报 南门有人打架"), 取消 or 帮助 leave it.
            lone_word = (parsed.command is not None and not parsed.raw_command.startswith("/")
                         and not parsed.args and parsed.command not in DIALOG_EXIT_COMMANDS)
            if parsed.command is None or lone_word:
                dialogs.resume(ctx, dialog)
                return
            dialogs.abandon(ctx, dialog)
            if parsed.command == "cancel":
                return
        name = parsed.command or "ask"
        if parsed.command is None and ctx.msg.attachments and not parsed.args:
            name = "attachment"  # a bare photo or location; with a caption it goes the ask path
        route = self._routes.get(name)
        if ctx.person is None and (route is None or not route.public):
            identity.refuse_stranger(ctx)  # strangers learn nothing about the commands
            return
        if route is None:
            ctx.reply(texts.UNKNOWN_COMMAND.format(command=parsed.raw_command[:30] or name))
            return
        if route.roles is not None and (ctx.person is None or ctx.person.role not in route.roles):
            ctx.reply(texts.NOT_ALLOWED)
            return
        route.handler(ctx, parsed.args)

    def queue_outgoing(self, session: Session, ctx: Ctx) -> None:
        """Put a context's replies and notifications in the outbox (also used by scheduled jobs)."""
        for out in ctx.replies:
            outbox.enqueue(session, out, now=ctx.now, person_id=ctx.person.id if ctx.person else None)
        for person, text, buttons, key in ctx.notifications:
            where = outbox.address(person, self.services.active_channels)
            if where is None:
                log.warning("person %s has no reachable channel; notification kept as failed", person.id)
                where = (UNREACHABLE, "")
            out = Outbound(channel=where[0], to=where[1], text=text, buttons=buttons)
            outbox.enqueue(session, out, now=ctx.now, person_id=person.id, dedupe_key=key)
        for out, key in ctx.posts:
            outbox.enqueue(session, out, now=ctx.now, dedupe_key=key)

    def _fail(self, msg: Inbound) -> list[Outbound]:
        """Nothing of the failed message was stored; still tell the sender, through the outbox."""
        out = Outbound(channel=msg.channel, to=msg.chat, text=texts.INTERNAL_ERROR)
        try:
            with self.services.sessions.begin() as session:
                outbox.enqueue(session, out, now=self.services.clock())
        except Exception:
            log.exception("could not queue the error reply")
            return []
        self.services.on_outbox()
        return [out]
