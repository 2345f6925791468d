"""One received update → the inbox (polling and webhook share this).

`receive` returns only once the update is durably stored (or known to be none of ours), and raises if
the database cannot take it: the webhook then answers 5xx so Telegram sends it again, and the polling
handler tries again. A pressed inline button ("o<outbox id>.<index>") is looked up in the outbox,
checked to belong to the chat it was pressed in, and handed in as the button's reply text. Every
callback query is answered (the client's spinner stops); a stale button gets a short toast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError

from bot.channels.base import Intake
from bot.channels.telegram import texts
from bot.channels.telegram.convert import (
    CHANNEL,
    BotIdentity,
    Press,
    callback_press,
    intake_key,
    message_inbound,
    press_inbound,
)
from bot.channels.telegram.render import TEXT_LIMIT, utf16_len
from bot.core.messages import Button
from bot.outbox import buttons_of
from bot.storage.models import OutboxMessage

log = logging.getLogger(__name__)


class Receiver:
    def __init__(self, bot: Bot, intake: Intake, me: BotIdentity):
        self.bot = bot
        self.intake = intake
        self.me = me
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, update: Update) -> bool:
        """Store one update for the core; False when it was a redelivery or not for the bot."""
        if update.callback_query is not None:
            return await self._press(update)
        inbound = message_inbound(update, self.me)
        if inbound is None:
            return False
        return await self.intake.accept(inbound, intake_key(update.update_id))

    async def _press(self, update: Update) -> bool:
        query = update.callback_query
        assert query is not None
        press = callback_press(update)
        button = await asyncio.to_thread(self._button, press) if press is not None else None
        if press is None or button is None:
            log.info("stale or foreign button pressed in Telegram chat %s",
                     query.message.chat.id if query.message else "?")
            self._later(self._answer(query.id, texts.BUTTON_STALE))
            return False
        stored = await self.intake.accept(press_inbound(press, button.reply), intake_key(update.update_id))
        self._later(self._acknowledge(press, button, edit=stored))
        return stored

    def _button(self, press: Press) -> Button | None:
        with self.intake.sessions() as session:
            row = session.get(OutboxMessage, press.outbox_id)
            if row is None or row.channel != CHANNEL or row.chat != press.chat:
                return None  # unknown, or pressed in another chat than it was sent to
            buttons = buttons_of(row)
            return buttons[press.index] if press.index < len(buttons) else None

    async def _acknowledge(self, press: Press, button: Button, *, edit: bool) -> None:
        await self._answer(press.query_id, None)
        if not edit or button.reply.startswith("/") or not press.message_text:
            # Command buttons (ack, assign, show) stay: a manager may press another one later.
            return
        # An answer to a question: show which was chosen and take the buttons away (no double press).
        text = press.message_text + texts.BUTTON_CHOSEN.format(label=button.label)
        try:
            if utf16_len(text) <= TEXT_LIMIT:
                await self.bot.edit_message_text(text, chat_id=press.chat, message_id=press.message_id)
            else:
                await self.bot.edit_message_reply_markup(chat_id=press.chat, message_id=press.message_id)
        except TelegramError as err:
            log.info("could not mark the pressed button in Telegram chat %s: %s", press.chat, err.message)

    async def _answer(self, query_id: str, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text)
        except TelegramError as err:  # too old (a redelivery), or Telegram unreachable: cosmetic only
            log.info("answerCallbackQuery failed: %s", err.message)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Bot API calls that need not hold up the webhook's answer (or the next update)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, timeout: float = 5.0) -> None:
        """Let pending answers finish (briefly), then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
