"""Settings the channel refuses (Chinese messages, exit before anything starts), and the proxy setting
routing every Bot API call through an HTTP proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import build_app, serving
from bot.channels.base import ChannelConfigError
from bot.channels.telegram import build_channel
from tests.channels.telegram.support import WEBHOOK_SECRET, register, running, tg_settings
from tests.fakes.telegram_api import FakeTelegram


def refused(tmp_path: Path, fake: FakeTelegram, **values: object) -> str:
    with pytest.raises(ChannelConfigError) as err:
        build_channel(tg_settings(tmp_path, fake, **values))
    return str(err.value)


def test_webhook_needs_a_valid_secret_and_a_path(tmp_path: Path, fake: FakeTelegram) -> None:
    url = "https://bot.example.com/telegram/webhook"
    assert "TELEGRAM_WEBHOOK_SECRET" in refused(tmp_path, fake, telegram_webhook_url=url)
    message = refused(tmp_path, fake, telegram_webhook_url=url, telegram_webhook_secret="has space!")
    assert "只能包含字母、数字、_ 和 -" in message and "has space" not in message  # the secret is not echoed
    assert "长度 1–256" in refused(tmp_path, fake, telegram_webhook_url=url, telegram_webhook_secret="a" * 257)
    assert "要带一个路径" in refused(tmp_path, fake, telegram_webhook_url="https://bot.example.com",
                                  telegram_webhook_secret=WEBHOOK_SECRET)
    assert "要带一个路径" in refused(tmp_path, fake, telegram_webhook_url="https://bot.example.com/healthz",
                                  telegram_webhook_secret=WEBHOOK_SECRET)
    assert "完整地址" in refused(tmp_path, fake, telegram_webhook_url="bot.example.com/hook",
                              telegram_webhook_secret=WEBHOOK_SECRET)
    channel = build_channel(tg_settings(tmp_path, fake, telegram_webhook_url=url,
                                        telegram_webhook_secret="A-z_09" * 40))
    assert [r.path for r in channel.routes(None)] == ["/telegram/webhook"]  # type: ignore[arg-type, attr-defined]


def test_token_base_url_and_proxy_are_checked(tmp_path: Path, fake: FakeTelegram) -> None:
    message = refused(tmp_path, fake, telegram_bot_token="12345-not-a-token")
    assert "TELEGRAM_BOT_TOKEN 的格式不对" in message and "12345-not-a-token" not in message
    assert "TELEGRAM_API_BASE_URL" in refused(tmp_path, fake, telegram_api_base_url="api.telegram.org/bot")
    assert "TELEGRAM_PROXY_URL" in refused(tmp_path, fake, telegram_proxy_url="ftp://127.0.0.1:21")
    build_channel(tg_settings(tmp_path, fake, telegram_proxy_url="socks5://127.0.0.1:1080"))


def test_a_rejected_token_stops_the_start_with_a_clear_message(tmp_path: Path, fake: FakeTelegram,
                                                                searcher) -> None:  # type: ignore[no-untyped-def]
    settings = tg_settings(tmp_path, fake, telegram_bot_token="1234567890:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

    async def start() -> None:
        channel = build_channel(settings)
        app = build_app(settings, searcher=searcher, senders={"telegram": channel.sender})
        try:
            async with serving(app, [channel], scheduler=False):
                pass
        finally:
            app.engine.dispose()

    with pytest.raises(ChannelConfigError, match="不接受这个 TELEGRAM_BOT_TOKEN"):
        asyncio.run(start())


@contextlib.asynccontextmanager
async def http_proxy() -> AsyncIterator[tuple[int, list[str]]]:
    """A minimal forward HTTP proxy (absolute-form requests, keep-alive) that records what it forwarded."""
    seen: list[str] = []
    client = httpx.AsyncClient(timeout=30)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(length) if length else b""
                seen.append(target.rsplit("/", 1)[-1])
                keep = {k: v for k, v in headers.items() if k.lower() in ("content-type",)}
                upstream = await client.request(method, target, content=body, headers=keep)
                writer.write(f"HTTP/1.1 {upstream.status_code} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(upstream.content)}\r\n\r\n".encode() + upstream.content)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await client.aclose()


def test_the_proxy_carries_every_bot_api_call(tmp_path: Path, fake: FakeTelegram,
                                              searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> list[str]:
        async with http_proxy() as (port, seen):
            settings = tg_settings(tmp_path / "data", fake, telegram_proxy_url=f"http://127.0.0.1:{port}")
            register(settings, "张保安", "guard", 1001)
            async with running(settings, searcher, fake) as bot:
                await bot.say(fake.message(1001, "值班能喝酒吗"), 1001)
            return seen

    seen = asyncio.run(scenario())
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= set(seen)
    assert {c.method for c in fake.calls} <= set(seen)  # nothing went around the proxy
