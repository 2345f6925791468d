"""No log line ever carries the bot token: every record of an end-to-end run (start, polling, sends,
flood control, server errors, a blocked user, a rejected token, stop) is captured raw, before any
formatter could redact it, and searched for the token and its secret half."""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path

import pytest

from bot.app import build_app, serving
from bot.channels.base import ChannelConfigError
from bot.channels.telegram import build_channel
from tests.channels.telegram.support import register, running, tg_settings
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name} {record.getMessage()}"
        if record.exc_info:
            line += "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(line)


def test_the_token_never_reaches_a_log_record(tmp_path: Path, fake: FakeTelegram, searcher) -> None:  # type: ignore[no-untyped-def]
    settings = tg_settings(tmp_path / "data", fake)
    register(settings, "张保安", "guard", 1001)
    register(settings, "王管理员", "admin", 3001)
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        async def scenario() -> None:
            async with running(settings, searcher, fake) as bot:
                await bot.say(fake.message(1001, "值班能喝酒吗"), 1001)
                fake.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1, methods=["sendMessage"])
                fake.fail_next(1, 502, "Bad Gateway", methods=["sendMessage"])
                await bot.say(fake.message(1001, "几点关大门"), 1001, timeout=15)
                fake.fail_next(2, 500, "Internal Server Error", methods=["getUpdates"])
                fake.blocked.add(1001)
                fake.inject(fake.message(1001, "/help"))
                await bot.settle(lambda: any("张保安" in t for t in fake.texts_to(3001)), timeout=15)

            wrong = tg_settings(tmp_path / "data", fake, telegram_bot_token="999999999:" + "B" * 35)
            channel = build_channel(wrong)
            app = build_app(wrong, searcher=searcher, senders={"telegram": channel.sender})
            try:
                with pytest.raises(ChannelConfigError):
                    async with serving(app, [channel], scheduler=False):
                        pass
            finally:
                app.engine.dispose()

        asyncio.run(scenario())
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    assert len(capture.lines) > 50  # the run did log (httpx request lines, PTB debug, dutybot)
    assert any("sendMessage" in line for line in capture.lines)
    secret_half = fake.token.split(":", 1)[1]
    leaks = [line for line in capture.lines if secret_half in line or "B" * 35 in line]
    assert leaks == []
