"""What a handler gets: the message, the sender as a person, a database session, the clock, and
two ways to speak — a reply to the sender and a notification to someone else. Both go to the outbox
in the same transaction as whatever the handler stored, so an acknowledged record and its reply are
committed together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.messages import Button, Document, Inbound, Outbound
from bot.storage.models import Person

if TYPE_CHECKING:
    from bot.core.services import Services


@dataclass
class Ctx:
    msg: Inbound
    session: Session
    person: Person | None
    now: datetime
    services: Services
    replies: list[Outbound] = field(default_factory=list)
    # (person, text, buttons, dedupe key) for people other than the sender.
    notifications: list[tuple[Person, str, tuple[Button, ...], str | None]] = field(default_factory=list)
    # Messages to a chat rather than a person (a WeCom group robot): (Outbound, dedupe key).
    posts: list[tuple[Outbound, str | None]] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        return self.services.tz

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    def reply(self, text: str, buttons: Sequence[Button] = (), document: Document | None = None) -> None:
        self.replies.append(Outbound(self.msg.channel, self.msg.chat, text, tuple(buttons), document))

    def notify(
        self, person: Person, text: str, buttons: Sequence[Button] = (), dedupe_key: str | None = None
    ) -> None:
        self.notifications.append((person, text, tuple(buttons), dedupe_key))

    def post(self, channel: str, chat: str, text: str, dedupe_key: str | None = None) -> None:
        """Say something in a group chat (e.g. "robot:经理群" on WeCom), not to one person."""
        self.posts.append((Outbound(channel, chat, text), dedupe_key))
