"""Telegram: python-telegram-bot 22 in polling or webhook mode, behind dutybot's inbox and outbox.

Modules: convert (update → Inbound), render (split text, inline keyboards), menu (command menus,
reply keyboards), errors (PTB errors → DeliveryError), sender (outbox delivery), receive (update →
inbox, button presses), webhook (the Starlette route), channel (the Channel), bench (broadcast timing).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.channels.base import ChannelConfigError

if TYPE_CHECKING:
    from bot.channels.telegram.channel import TelegramChannel
    from bot.settings import Settings

_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# Paths the shared web server already serves.
_RESERVED_PATHS = ("/healthz",)


def build_channel(settings: Settings, **options: Any) -> TelegramChannel:
    """The Telegram channel from the settings; ChannelConfigError (Chinese) when they do not add up.
    `options` go to TelegramChannel (tests: a short long-poll timeout)."""
    from bot.channels.telegram.channel import TelegramChannel

    check_settings(settings)
    return TelegramChannel(settings, **options)


def check_settings(settings: Settings) -> None:
    token = settings.telegram_bot_token.get_secret_value().strip() if settings.telegram_bot_token else ""
    if not _TOKEN.match(token):
        raise ChannelConfigError(
            "TELEGRAM_BOT_TOKEN 的格式不对：应该像 123456789:AAH…（@BotFather 给的完整 token，数字、冒号、"
            "再加一串字母数字）。")
    base = urlsplit(settings.telegram_api_base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ChannelConfigError(
            "TELEGRAM_API_BASE_URL 应该是 http(s) 地址，例如 https://api.telegram.org/bot（token 会自动接在后面）。")
    if settings.telegram_proxy_url is not None:
        proxy = urlsplit(settings.telegram_proxy_url.get_secret_value())
        if proxy.scheme not in _PROXY_SCHEMES or not proxy.netloc:
            raise ChannelConfigError(
                "TELEGRAM_PROXY_URL 应该是代理地址，例如 http://127.0.0.1:7890 或 socks5://127.0.0.1:1080"
                f"（支持 {'、'.join(_PROXY_SCHEMES)}）。")
    if settings.telegram_webhook_url is None:
        return
    url = urlsplit(settings.telegram_webhook_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ChannelConfigError(
            "TELEGRAM_WEBHOOK_URL 应该是 Telegram 能访问到的完整地址，例如 https://bot.example.com/telegram/webhook。")
    if url.path in ("", "/") or url.path in _RESERVED_PATHS:
        raise ChannelConfigError(
            "TELEGRAM_WEBHOOK_URL 要带一个路径（本机按这个路径接收），例如 https://bot.example.com/telegram/webhook"
            f"（现在的路径是“{url.path or '/'}”）。")
    if settings.wecom_enabled and url.path == settings.wecom_callback_path:
        raise ChannelConfigError("TELEGRAM_WEBHOOK_URL 的路径和 WECOM_CALLBACK_PATH 相同，请给两者不同的路径。")
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if not secret:
        raise ChannelConfigError(
            "设置了 TELEGRAM_WEBHOOK_URL 就必须同时设置 TELEGRAM_WEBHOOK_SECRET（1–256 位字母、数字、_ 或 -），"
            "否则任何人都能冒充 Telegram 给机器人发消息。可以用 `openssl rand -hex 32` 生成一个。")
    if not _SECRET.match(secret):
        raise ChannelConfigError(
            f"TELEGRAM_WEBHOOK_SECRET 只能包含字母、数字、_ 和 -，长度 1–256（现在是 {len(secret)} 个字符，"
            "含有不允许的字符或太长）。可以用 `openssl rand -hex 32` 生成一个。")


__all__ = ["build_channel", "check_settings"]
