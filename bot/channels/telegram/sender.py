"""Delivers outbox rows on Telegram through python-telegram-bot's Bot: text split at 4096 characters
(buttons on the last part), documents with sendDocument, a private chat's reply keyboard by role.

The outbox dispatcher paces by `limits` (Telegram: ~30 messages/s overall, ~1/s per chat, 20/min per
group) and retries by the DeliveryError raised here (see errors.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.error import RetryAfter, TelegramError

from bot.channels.telegram.errors import delivery_error, retry_seconds
from bot.channels.telegram.menu import Menus, reply_keyboard
from bot.channels.telegram.render import CAPTION_LIMIT, inline_keyboard, split_text, utf16_len
from bot.core.messages import Outbound
from bot.pacing import ChannelLimits, Window
from bot.storage.models import Person

log = logging.getLogger(__name__)


def is_group(chat: str) -> bool:
    """Group and supergroup ids are negative; private chats are the user's (positive) id."""
    return chat.startswith("-")


# Telegram: ~30 messages/s overall, ~1/s per chat, 20/min per group (429 + retry_after beyond, and a
# 429 stops the whole bot for a while). Overall sends are spaced evenly 35 ms apart (≈28.6/s) rather
# than in bursts of 30: arrival jitter then cannot squeeze 31 into one second (see bench.py).
LIMITS = ChannelLimits(
    overall=(Window(1, 0.035),),
    chat=(Window(1, 1.0),),
    group=(Window(1, 1.0), Window(20, 60.0)),
    is_group=is_group,
)
# A later part of a split message hit flood control: wait this long at most, then give up the row.
MAX_PART_WAIT = 30.0

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
# The least time between two Bot API sends as they actually leave (see Spacing).
MIN_GAP = 1 / 30


class Spacing:
    """Keeps actual sends at least `gap` apart. The outbox books send times in advance; when the event
    loop stalls (a slow database commit), sends booked before the stall leave together after it, and
    Telegram counts them in one second. This spreads such a bunch out again."""

    def __init__(self, gap: float = MIN_GAP):
        self.gap = gap
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)


class TelegramSender:
    name = "telegram"
    limits = LIMITS

    def __init__(self, bot: Bot, menus: Menus | None = None):
        self.bot = bot
        self.menus = menus
        self.spacing = Spacing()
        # The role of the person behind a private chat when the outbox row names nobody (e.g. the
        # welcome after /start CODE); set by the channel once it has the database.
        self.role_of_chat: Callable[[str], str | None] | None = None

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        try:
            await self._send(out, recipient)
        except TelegramError as err:
            raise delivery_error(err) from None

    async def _send(self, out: Outbound, recipient: Person | None) -> None:
        chat_id: int | str = int(out.to) if out.to.lstrip("-").isdigit() else out.to
        markup: Markup | None = inline_keyboard(out)
        if markup is None and not is_group(out.to):
            # A private chat keeps the keyboard of its person's role; someone no longer registered
            # (or never) gets it taken away.
            markup = reply_keyboard(await self._role(out.to, recipient)) or ReplyKeyboardRemove()
        document = out.document
        if document is not None and utf16_len(out.text) <= CAPTION_LIMIT and not out.buttons:
            # An export: the file with its text as the caption, one message.
            await self.spacing.wait()
            await self.bot.send_document(chat_id, InputFile(document.content, filename=document.name),
                                         caption=out.text or None, reply_markup=markup)
            return
        parts = split_text(out.text)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            await self._part(chat_id, part, markup if last else None, first=i == 0)
        if document is not None:
            await self._later(lambda: self.bot.send_document(
                chat_id, InputFile(document.content, filename=document.name)))

    async def _part(self, chat_id: int | str, text: str, markup: Markup | None, *, first: bool) -> None:
        if first:
            await self.spacing.wait()
            await self.bot.send_message(chat_id, text, reply_markup=markup)
        else:
            await self._later(lambda: self.bot.send_message(chat_id, text, reply_markup=markup))

    async def _later(self, call: Callable[[], Awaitable[object]]) -> None:
        """A call after the row's first message went out: a flood wait is sat out here rather than
        raised, which would send the first part again."""
        waited = 0.0
        while True:
            try:
                await self.spacing.wait()
                await call()
                return
            except RetryAfter as err:
                wait = retry_seconds(err)
                if waited + wait > MAX_PART_WAIT:
                    raise
                waited += wait
                await asyncio.sleep(wait)

    async def _role(self, chat: str, recipient: Person | None) -> str | None:
        if recipient is not None:
            role: str | None = recipient.role if recipient.active else None
        elif self.role_of_chat is not None:
            role = await asyncio.to_thread(self.role_of_chat, chat)
        else:
            role = None
        if self.menus is not None and role is not None and chat.isdigit():
            self.menus.want(chat, role)  # a new registration or a role change gets its menu
        return role
