"""The long-lived parts the core works with, built once by bot.app and handed to every handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from bot.core.handlers.ask import QuestionAnswerer
    from bot.settings import Settings


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    searcher: QuestionAnswerer
    sessions: sessionmaker[Session]
    # Injectable so tests decide what "now" is; always timezone-aware.
    clock: Callable[[], datetime] = system_clock
    # Channels that can deliver right now ("console", "telegram", "wecom"), in order of preference.
    active_channels: tuple[str, ...] = ("console",)
    # Called after a transaction put messages in the outbox (wakes the dispatcher).
    on_outbox: Callable[[], None] = field(default=lambda: None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)
