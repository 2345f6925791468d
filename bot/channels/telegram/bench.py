"""Benchmark: a reminder broadcast to N staff on Telegram, delivered by the real outbox Dispatcher, the
TelegramSender and python-telegram-bot's Bot, against the fake Bot API enforcing Telegram-like flood
limits (30 messages/s overall, 1/s per chat; over them it answers 429 with retry_after).

    python -m bot.channels.telegram.bench [--recipients 500] [--no-baseline]

Prints the delivery time and count next to the ideal (N at 30/s) and, as a baseline measured in the
same run, the same broadcast with pacing switched off (the sender's limits and spacing): then only
Telegram's 429s slow it down. (Real Telegram answers such floods with much longer retry_after than
the fake's 1 s, so the baseline is kinder than life.)
Run from the repository root: it imports the fake server from tests/fakes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.telegram import build_channel
from bot.channels.telegram.sender import Spacing
from bot.core.messages import Button, Outbound
from bot.outbox import enqueue
from bot.settings import PROJECT_ROOT, Settings
from bot.storage.models import Account, OutboxMessage, Person

OVERALL_PER_SECOND = 30
FIRST_ID = 50_000_001


@dataclass
class Result:
    label: str
    delivered: int
    rejected_429: int
    seconds: float


async def _broadcast(recipients: int, paced: bool, data_dir: Path) -> Result:
    from tests.fakes.telegram_api import FakeTelegram

    fake = FakeTelegram().start()
    fake.set_rate_limits(OVERALL_PER_SECOND, 1)
    try:
        settings = Settings.explicit(seeds_dir=PROJECT_ROOT / "seeds", data_dir=data_dir,
                                     telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)
        channel = build_channel(settings)
        if not paced:  # neither the outbox's pacing nor the sender's spacing: Telegram's 429s decide
            channel.sender.limits = None  # type: ignore[assignment]
            channel.sender.spacing = Spacing(0.0)
        app = build_app(settings, searcher=_NoQuestions(), senders={"telegram": channel.sender})
        now = datetime.now(UTC)
        with app.services.sessions.begin() as session:
            for i in range(recipients):
                person = Person(name=f"保安{i:03d}", role="guard", created_at=now)
                session.add(person)
                session.flush()
                chat = str(FIRST_ID + i)
                session.add(Account(person_id=person.id, channel="telegram", external_id=chat, chat_id=chat))
                enqueue(session, Outbound("telegram", chat, f"【提醒】保安{i:03d}，21:00 前关闭大门并巡查一遍。",
                                          (Button("收到", "/ok"),)), now=now, person_id=person.id)
        await channel.bot.initialize()
        try:
            started = time.monotonic()
            deadline = started + 60 + recipients  # never hang
            while _unsent(app) and time.monotonic() < deadline:
                if await app.dispatcher.run_once() == 0:
                    await asyncio.sleep(0.05)
            seconds = time.monotonic() - started
        finally:
            await channel.bot.shutdown()
            app.engine.dispose()
        label = "paced (outbox limits + send spacing)" if paced else "baseline: no pacing (429s only)"
        return Result(label, fake.sent_ok, fake.rejected_429, seconds)
    finally:
        fake.stop()


def _unsent(app: App) -> int:
    with app.services.sessions() as session:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        return int(session.scalar(query) or 0)


class _NoQuestions:
    """The broadcast asks nothing; skip building the rules index."""

    def ask(self, question: str, k: int = 3):  # type: ignore[no-untyped-def]
        raise AssertionError("the benchmark asks no questions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Telegram broadcast delivery benchmark against the fake Bot API")
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--no-baseline", action="store_true", help="skip the unpaced baseline run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("bot.dispatch", "httpx"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)  # the baseline's 429 retries are expected
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(asyncio.run(_broadcast(args.recipients, True, Path(tmp) / "paced")))
        if not args.no_baseline:
            results.append(asyncio.run(_broadcast(args.recipients, False, Path(tmp) / "unpaced")))
    ideal = args.recipients / OVERALL_PER_SECOND
    print(f"Broadcast to {args.recipients} Telegram chats; fake Bot API enforcing {OVERALL_PER_SECOND}/s overall "
          "and 1/s per chat (429 + retry_after beyond)")
    print(f"{'':40} {'delivered':>9} {'429s':>6} {'seconds':>8} {'vs ideal':>9}")
    print(f"{'ideal (N at 30/s)':40} {args.recipients:>9} {0:>6} {ideal:>8.1f} {1.0:>8.2f}x")
    for r in results:
        print(f"{r.label:40} {r.delivered:>9} {r.rejected_429:>6} {r.seconds:>8.1f} {r.seconds / ideal:>8.2f}x")
    lost = [r for r in results if r.delivered != args.recipients]
    return 1 if lost else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repo root, for tests.fakes
    sys.exit(main())
