"""What a chat channel (Telegram, WeCom) is to the rest of dutybot: a sender for the outbox, optional
HTTP routes on the shared web server, a start/stop pair, and the intake it hands received messages to.
Channels translate; the core decides."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot import inbox
from bot.core.messages import Inbound
from bot.dispatch import Sender

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.inbox import InboxWorker, Prepare


class ChannelConfigError(Exception):
    """A channel's settings are incomplete or contradictory; the message (Chinese) says which."""


@dataclass
class Intake:
    """Where a channel hands what it received: stored durably first (`accept`), handled after."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    worker: InboxWorker

    async def accept(self, msg: Inbound, key: str) -> bool:
        """Store a received message under its dedupe key; False for a redelivery already stored.
        Raises if it could not be stored: answer the channel's server with an error so it retries."""
        stored = await asyncio.to_thread(inbox.accept, self.sessions, msg, key, self.clock())
        if stored:
            self.worker.wake()
        return stored


class Channel(Protocol):
    name: str
    sender: Sender
    # Optional last step before the core sees a message (see bot.inbox.Prepare); None if not needed.
    prepare: Prepare | None

    def routes(self, intake: Intake) -> list[BaseRoute]:
        """HTTP routes this channel serves (webhook, callback); [] if none."""
        ...

    async def start(self, intake: Intake) -> None:
        """Begin receiving (polling, webhook registration, command menus)."""
        ...

    async def stop(self) -> None: ...
