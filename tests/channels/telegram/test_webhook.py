"""End to end in webhook mode: setWebhook with the secret at start, the route on the shared web server
checks the secret in constant time, stores the update before answering 200, and dedupes retries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.settings import Settings
from tests.channels.telegram.support import WEBHOOK_PATH, WEBHOOK_SECRET, Running, register, running, webhook_settings
from tests.fakes.telegram_api import FakeTelegram

GUARD = 1001


async def post(http: httpx.AsyncClient, body: dict[str, Any] | bytes, secret: str | None = WEBHOOK_SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (await http.post(WEBHOOK_PATH, content=content, headers=headers)).status_code


def update(fake: FakeTelegram, payload: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": fake.next_update_id(), **payload}


@pytest.fixture()
def hooked(tmp_path: Path, fake: FakeTelegram, db_url: str) -> Settings:
    settings = webhook_settings(tmp_path / "data", fake, database_url=db_url)
    register(settings, "张保安", "guard", GUARD)
    return settings


def test_secret_checked_update_stored_before_200_and_retries_answered_once(
        hooked: Settings, fake: FakeTelegram, searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario(bot: Running, http: httpx.AsyncClient) -> None:
        question = update(fake, fake.message(GUARD, "值班能喝酒吗"))
        assert await post(http, question, secret=None) == 403
        assert await post(http, question, secret="wrong-secret") == 403
        assert await post(http, question, secret=WEBHOOK_SECRET + "x") == 403
        assert bot.inbox_rows() == 0  # nothing processed

        assert await post(http, question) == 200
        assert bot.inbox_rows() == 1  # durably stored when 200 was answered
        assert await post(http, question) == 200  # Telegram's retry
        await bot.settle(lambda: len(fake.messages_to(GUARD)) >= 1)
        await asyncio.sleep(0.1)
        await bot.settle(lambda: True)
        [answer] = fake.messages_to(GUARD)
        assert "《" in answer.params["text"]
        assert bot.inbox_rows() == 1

        assert await post(http, b"{not json") == 400
        assert await post(http, {"no_update_id": 1}) == 400
        assert (await http.get("/healthz")).status_code == 200

    asyncio.run(_with_web(hooked, searcher, fake, scenario))
    hook = fake.webhook
    assert hook["url"] == f"https://bot.example.com{WEBHOOK_PATH}" and hook["secret_token"] == WEBHOOK_SECRET
    assert hook["allowed_updates"] == ["message", "callback_query"]
    assert fake.calls_to("getUpdates") == [] and fake.calls_to("deleteWebhook") == []


def test_a_database_failure_answers_500_so_telegram_resends(tmp_path: Path, fake: FakeTelegram,
                                                            searcher) -> None:  # type: ignore[no-untyped-def]
    settings = webhook_settings(tmp_path / "data", fake)
    register(settings, "张保安", "guard", GUARD)

    async def scenario(bot: Running, http: httpx.AsyncClient) -> None:
        question = update(fake, fake.message(GUARD, "值班能喝酒吗"))
        with bot.app.engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        assert await post(http, question) == 500
        with bot.app.engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        assert await post(http, question) == 200
        await bot.settle(lambda: len(fake.messages_to(GUARD)) == 1)

    asyncio.run(_with_web(settings, searcher, fake, scenario))


def test_a_button_press_through_the_webhook(tmp_path: Path, fake: FakeTelegram,
                                            searcher) -> None:  # type: ignore[no-untyped-def]
    settings = webhook_settings(tmp_path / "data", fake)
    register(settings, "张保安", "guard", GUARD)

    async def scenario(bot: Running, http: httpx.AsyncClient) -> None:
        assert await post(http, update(fake, fake.message(GUARD, "上报"))) == 200
        await bot.settle(lambda: len(fake.messages_to(GUARD)) == 1)
        assert await post(http, update(fake, fake.message(GUARD, "东门有人翻墙"))) == 200
        await bot.settle(lambda: len(fake.messages_to(GUARD)) == 2)
        where = fake.messages_to(GUARD)[-1]
        data = where.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        press = update(fake, fake.callback(GUARD, data, where))
        assert await post(http, press) == 200
        assert await post(http, press) == 200  # retried: one answer
        await bot.settle(lambda: len(fake.messages_to(GUARD)) == 3)
        assert "紧急程度" in fake.messages_to(GUARD)[-1].params["text"]
        await bot.settle(lambda: len(fake.calls_to("answerCallbackQuery")) >= 1)

    asyncio.run(_with_web(settings, searcher, fake, scenario))
    assert len(fake.messages_to(GUARD)) == 3


async def _with_web(settings: Settings, searcher: Any, fake: FakeTelegram, scenario: Any) -> None:
    async with running(settings, searcher, fake) as bot:
        async with await bot.web() as http:
            await scenario(bot, http)
