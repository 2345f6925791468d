"""Helpers for the Telegram tests: settings pointing python-telegram-bot at the fake Bot API, people
with Telegram accounts, and a running dutybot whose inbox and outbox the test drives."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.app import Serving, build_app, serving
from bot.channels.telegram import build_channel
from bot.channels.telegram.channel import TelegramChannel
from bot.core.services import system_clock
from bot.channels.telegram.sender import is_group
from bot.dispatch import Backoff
from bot.pacing import ChannelLimits, Pacer, Window
from bot.settings import Settings
from bot.staff import add_person
from bot.storage.db import make_engine, session_factory, upgrade
from bot.storage.models import InboxMessage, Record
from tests.conftest import SEEDS
from tests.support import settle
from tests.fakes.telegram_api import Call, FakeTelegram

WEBHOOK_SECRET = "s3cr3t-Webhook_token-42"
WEBHOOK_PATH = "/telegram/hook"
# Telegram's limits scaled down 20× so a dialog does not wait a second per reply (the bench runs the real ones).
FAST_LIMITS = ChannelLimits(overall=(Window(30, 0.05),), chat=(Window(1, 0.05),), group=(Window(20, 3.0),),
                            is_group=is_group)


def tg_settings(data_dir: Path, fake: FakeTelegram, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(seeds_dir=SEEDS, data_dir=data_dir, http_port=0, telegram_bot_token=fake.token,
                                  telegram_api_base_url=fake.base_url)
    values.update(extra)
    return Settings.explicit(**values)


def webhook_settings(data_dir: Path, fake: FakeTelegram, **extra: Any) -> Settings:
    return tg_settings(data_dir, fake, telegram_webhook_url=f"https://bot.example.com{WEBHOOK_PATH}",
                       telegram_webhook_secret=WEBHOOK_SECRET, **extra)


def register(settings: Settings, name: str, role: str, telegram_id: int, level: int | None = None) -> int:
    engine = make_engine(settings.db_url)
    upgrade(engine)
    try:
        with session_factory(engine).begin() as session:
            person = add_person(session, name=name, role=role, now=datetime.now(UTC), telegram_id=telegram_id,
                                level=level)
            return person.id
    finally:
        engine.dispose()


def buttons_of(call: Call) -> list[tuple[str, str]]:
    """(label, callback_data) of a recorded message's inline keyboard."""
    markup = call.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


def data_for(call: Call, label: str) -> str:
    return next(data for text, data in buttons_of(call) if text == label)


@dataclass
class Running:
    serving: Serving
    channel: TelegramChannel
    fake: FakeTelegram

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.serving.app

    async def settle(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Handle the inbox and deliver the outbox until `done()` (or fail after `timeout`)."""
        await settle(self.serving, done, timeout)

    async def say(self, update: dict[str, Any], chat: int, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Inject an update and wait for `count` more messages to `chat`; returns the new ones."""
        before = len(self.fake.messages_to(chat))
        self.fake.inject(update)
        await self.settle(lambda: len(self.fake.messages_to(chat)) >= before + count, timeout)
        return self.fake.messages_to(chat)[before:]

    async def press(self, user: int, message: Call, label: str, *, chat: int | None = None) -> list[Call]:
        """Press an inline button of a message the bot sent; returns the answers that follow."""
        return await self.say(self.fake.callback(user, data_for(message, label), message), chat or user)

    def inbox_rows(self) -> int:
        with self.app.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)

    def records(self) -> list[Record]:
        with self.app.services.sessions() as session:
            return list(session.scalars(select(Record).order_by(Record.id)).all())

    async def web(self) -> httpx.AsyncClient:
        assert self.serving.web is not None
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.serving.web.port}")


@contextlib.asynccontextmanager
async def running(settings: Settings, searcher: Any, fake: FakeTelegram, *,
                  clock: Callable[[], datetime] = system_clock, real_limits: bool = False,
                  **options: Any) -> AsyncIterator[Running]:
    """dutybot with the Telegram channel against the fake; a short long-poll keeps stopping quick."""
    channel = build_channel(settings, poll_timeout=0.3, menu_pace=0.0, **options)
    app = build_app(settings, searcher=searcher, senders={"telegram": channel.sender}, clock=clock)
    app.dispatcher.backoff = Backoff(base=0.05, factor=1.0, cap=0.05)  # retries due at once
    if not real_limits:
        app.dispatcher.pacer = Pacer({"telegram": FAST_LIMITS})
    try:
        async with serving(app, [channel], scheduler=False) as served:
            yield Running(served, channel, fake)
    finally:
        app.engine.dispose()
