"""The Telegram channel: python-telegram-bot's Application receives (polling, or our webhook route),
its Bot sends (TelegramSender), and dutybot's core never sees a Telegram object.

- Polling (default): the Updater long-polls getUpdates; one handler hands each update to the inbox,
  one at a time (concurrent_updates off), retrying while the database is away.
- Webhook (TELEGRAM_WEBHOOK_URL): setWebhook with the secret token at start; the route on the shared
  web server stores each update before answering 200 (webhook.py). Stopping leaves the webhook set,
  so Telegram keeps the updates that arrive during a restart.
- Everything goes to TELEGRAM_API_BASE_URL (token appended) and through TELEGRAM_PROXY_URL if set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.channels.base import ChannelConfigError, Intake
from bot.channels.telegram.convert import CHANNEL, BotIdentity
from bot.channels.telegram.menu import Menus
from bot.channels.telegram.receive import Receiver
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.webhook import webhook_route
from bot.logsafe import add_secrets, redact_at_source
from bot.storage.models import Account, Person

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.settings import Settings

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
# Senders of 8 chats at once, plus menus and callback answers.
POOL_SIZE = 16


class TelegramChannel:
    name = CHANNEL
    prepare = None

    def __init__(self, settings: Settings, *, poll_timeout: float = 10.0, poll_interval: float = 0.0,
                 menu_pace: float = 0.5):
        assert settings.telegram_bot_token is not None
        token = settings.telegram_bot_token.get_secret_value().strip()
        hide_token_in_logs(token)
        self.webhook_url = settings.telegram_webhook_url
        secret = settings.telegram_webhook_secret
        self.webhook_secret = secret.get_secret_value() if secret is not None else None
        self.poll_timeout = poll_timeout
        self.poll_interval = poll_interval
        self.application = build_application(settings, token, polling=self.webhook_url is None)
        self.bot = self.application.bot
        self.menus = Menus(self.bot, settings.data_dir / "telegram-menus.json", pace=menu_pace)
        self.sender = TelegramSender(self.bot, self.menus)
        self.receiver: Receiver | None = None
        self._stopping = asyncio.Event()

    @property
    def polling(self) -> bool:
        return self.webhook_url is None

    def routes(self, intake: Intake) -> list[BaseRoute]:
        if self.webhook_url is None:
            return []
        assert self.webhook_secret is not None
        path = urlsplit(self.webhook_url).path
        return [webhook_route(path, self.webhook_secret, self.bot, lambda: self.receiver)]

    async def start(self, intake: Intake) -> None:
        self._stopping = asyncio.Event()
        await self._initialize()
        try:
            await self._start(intake)
        except BaseException:
            await self._shutdown()
            raise

    async def _initialize(self) -> None:
        """getMe: proves the token and the way to the Bot API before anything else starts."""
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ChannelConfigError(
                "Telegram 不接受这个 TELEGRAM_BOT_TOKEN（已失效或抄错了）。请在 @BotFather 里用 /token 重新获取。"
            ) from None
        except NetworkError as err:
            raise ChannelConfigError(
                f"连接不上 Telegram Bot API（{type(err).__name__}）。请检查网络、TELEGRAM_PROXY_URL 和 "
                "TELEGRAM_API_BASE_URL。") from None

    async def _start(self, intake: Intake) -> None:
        bot = self.bot
        self.receiver = Receiver(bot, intake, BotIdentity(bot.id, bot.username))
        self.sender.role_of_chat = partial(role_of_chat, intake.sessions)
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        await self.application.start()
        if self.webhook_url is not None:
            try:
                await bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                      allowed_updates=list(ALLOWED_UPDATES), max_connections=40)
            except BadRequest as err:
                raise ChannelConfigError(
                    f"Telegram 拒绝了 TELEGRAM_WEBHOOK_URL（{err.message}）。Webhook 地址必须是公网可访问的 "
                    "https 地址，端口 443、80、88 或 8443。") from None
            log.info("Telegram webhook registered; updates arrive at %s", urlsplit(self.webhook_url).path)
        else:
            updater = self.application.updater
            assert updater is not None
            await updater.start_polling(poll_interval=self.poll_interval, timeout=self.poll_timeout,
                                        allowed_updates=list(ALLOWED_UPDATES), error_callback=self._poll_error)
            log.info("Telegram polling started as @%s", bot.username)
        await self._start_menus(intake.sessions)

    async def _start_menus(self, sessions: sessionmaker[Session]) -> None:
        try:
            await self.menus.set_default()
        except TelegramError as err:  # cosmetic: the bot works without its menu
            log.warning("setting the default Telegram command menu failed: %s", err.message)
        self.menus.sync(await asyncio.to_thread(people_chats, sessions))
        self.menus.start()

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Polling: store the update; while the database is away, keep trying (later updates wait,
        so the order holds) until it is back or the channel stops."""
        receiver = self.receiver
        assert receiver is not None
        delay = 0.5
        while True:
            try:
                await receiver.receive(update)
                return
            except Exception:
                log.exception("Telegram update %s could not be stored; retrying", update.update_id)
            if self._stopping.is_set():
                log.error("Telegram update %s not stored before stopping", update.update_id)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update handling failed", exc_info=context.error)

    @staticmethod
    def _poll_error(err: TelegramError) -> None:
        if isinstance(err, Conflict):
            log.error("another process polls Telegram with this bot token (%s); run one dutybot per token",
                      err.message)
        else:
            log.warning("polling Telegram failed (%s: %s); retrying", type(err).__name__, err.message)

    async def stop(self) -> None:
        self._stopping.set()
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self.application.running:
            await self.application.stop()
        await self.menus.stop()
        if self.receiver is not None:
            await self.receiver.close()
        await self.application.shutdown()
        self.receiver = None


def build_application(settings: Settings, token: str, *, polling: bool) -> Application:  # type: ignore[type-arg]
    proxy = settings.telegram_proxy_url.get_secret_value() if settings.telegram_proxy_url else None
    request = HTTPXRequest(connection_pool_size=POOL_SIZE, proxy=proxy, connect_timeout=10.0, read_timeout=15.0,
                           write_timeout=20.0, pool_timeout=10.0)
    builder = (Application.builder().token(token).base_url(settings.telegram_api_base_url).request(request)
               .concurrent_updates(False).job_queue(None))
    if polling:
        # getUpdates has its own connection; PTB adds the long-poll timeout to the read timeout.
        builder = builder.get_updates_request(HTTPXRequest(connection_pool_size=1, proxy=proxy,
                                                           connect_timeout=10.0, read_timeout=10.0))
    else:
        builder = builder.updater(None)
    return builder.build()


def role_of_chat(sessions: sessionmaker[Session], chat: str) -> str | None:
    """The role of the active person whose Telegram private chat this is, if any."""
    with sessions() as session:
        account = session.scalar(select(Account).where(Account.channel == CHANNEL, Account.chat_id == chat))
        if account is None or not account.person.active:
            return None
        return account.person.role


def people_chats(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(chat, role) of every active person reachable on Telegram: whose menus to keep."""
    with sessions() as session:
        rows = session.execute(
            select(Account.chat_id, Person.role).join(Person, Account.person_id == Person.id)
            .where(Account.channel == CHANNEL, Account.blocked.is_(False), Person.active.is_(True))
        ).all()
    return [(chat, role) for chat, role in rows if chat.isdigit()]


def hide_token_in_logs(token: str) -> None:
    """Redact the token in records of every logger that could see a Bot API URL: httpx, httpcore and
    python-telegram-bot's own (its Bot logs the full URL at DEBUG when it is created)."""
    add_secrets([token])
    names = {"httpx", "httpcore", "telegram", "telegram.Bot", "telegram.ext", "telegram.ext.ExtBot",
             "telegram.ext.Updater", "telegram.ext.Application", "telegram.request.HTTPXRequest"}
    names.update(name for name in logging.root.manager.loggerDict if name.startswith(("telegram", "httpx", "httpcore")))
    redact_at_source(*sorted(names))
