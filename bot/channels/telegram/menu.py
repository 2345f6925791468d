"""What a Telegram user sees besides messages: the command menu ("/" list, setMyCommands) and the reply
keyboard of Chinese buttons for people who never type commands.

- Strangers and everyone by default: /start and /help. Each registered person's private chat gets the
  commands of their role (BotCommandScopeChat), kept in step by `Menus` in the background: at start
  for everyone, and whenever a message goes to a chat whose role menu is not set yet (a new
  registration, a role change). What was set is remembered in DATA_DIR so a restart does not repeat it.
- The reply keyboard's buttons are the core's own Chinese command words (bot/core/commands.py), so a
  pressed button's text is simply a command the core understands.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.channels.telegram.errors import retry_seconds
from bot.core.commands import BY_NAME, COMMANDS, parse

log = logging.getLogger(__name__)

# Commands a stranger can use; every registered person's menu starts from their role's routes.
PUBLIC = ("start", "help")
# Not in a registered person's menu: registering again is not a thing they need to find.
HIDDEN = frozenset({"start"})
# Most used first; the rest follow in the command table's order.
FIRST = ("report", "complain", "handover", "checkin", "ok", "open", "ack", "assign", "export", "ask", "status")
STRANGER_SUMMARY = {"start": "用邀请码注册：/start 邀请码", "help": "查看我能做什么"}

# The reply keyboard by role: command words of bot/core/commands.py (checked by a test and below).
KEYBOARDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "guard": (("上报", "签到", "平安"), ("交接班", "值班表", "帮助")),
    "clerk": (("投诉", "签到", "交接班"), ("查询", "值班表", "帮助")),
    "manager": (("待办", "上报", "投诉"), ("导出", "值班表", "帮助")),
    "admin": (("待办", "上报", "投诉"), ("导出", "值班表", "帮助")),
}
PLACEHOLDER = "直接输入问题，或点下面的按钮"


def may_use(role: str | None, command: str) -> bool:
    """Whether the core lets this role run the command (None: a stranger)."""
    from bot.core.handlers.routes import ROUTES

    route = ROUTES.get(command)
    if route is None:
        return False
    if role is None:
        return route.public
    return route.roles is None or role in route.roles


def command_names(role: str | None) -> list[str]:
    if role is None:
        return [name for name in PUBLIC if may_use(None, name)]
    names = [c.name for c in COMMANDS if c.name not in HIDDEN and may_use(role, c.name)]
    return sorted(names, key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), names.index(n)))


def commands_for(role: str | None) -> list[BotCommand]:
    if role is None:
        return [BotCommand(n, STRANGER_SUMMARY.get(n) or BY_NAME[n].summary) for n in command_names(None)]
    return [BotCommand(n, BY_NAME[n].summary or n) for n in command_names(role)]


def keyboard_words(role: str | None) -> list[list[str]]:
    """The role's buttons, leaving out any word the core would not run for that role."""
    rows = KEYBOARDS.get(role or "", ())
    kept = [[w for w in row if (p := parse(w)).command and may_use(role, p.command)] for row in rows]
    return [row for row in kept if row]


def reply_keyboard(role: str | None) -> ReplyKeyboardMarkup | None:
    rows = keyboard_words(role)
    if not rows:
        return None
    return ReplyKeyboardMarkup([[KeyboardButton(w) for w in row] for row in rows], resize_keyboard=True,
                               is_persistent=True, input_field_placeholder=PLACEHOLDER)


def _version() -> str:
    """Changes when any role's command list changes, so stored menus are set again."""
    table = {role or "": [(c.command, c.description) for c in commands_for(role)] for role in (None, *KEYBOARDS)}
    return hashlib.sha256(json.dumps(table, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


class Menus:
    """Sets chat-scoped command menus in the background, gently (they share Telegram's limits with the
    outbox), and remembers what was set."""

    def __init__(self, bot: Bot, state_path: Path | None, *, pace: float = 0.5):
        self.bot = bot
        self.state_path = state_path
        self.pace = pace
        self.version = _version()
        self._set: dict[str, str] = self._load()  # chat → role whose menu it has
        self._wanted: dict[str, str | None] = {}  # chat → role (None: back to the default menu)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _load(self) -> dict[str, str]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if state.get("version") != self.version:
            return {}
        return {str(k): str(v) for k, v in state.get("chats", {}).items()}

    def _save(self) -> None:
        if self.state_path is None:
            return
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": self.version, "chats": self._set}), encoding="utf-8")
            tmp.replace(self.state_path)
        except OSError:
            log.warning("could not save the Telegram menu state to %s", self.state_path)

    async def set_default(self) -> None:
        """The menu everyone without a chat-scoped one sees (strangers: /start, /help)."""
        await self.bot.set_my_commands(commands_for(None), scope=BotCommandScopeDefault())

    def want(self, chat: str, role: str | None) -> None:
        """Make this private chat's menu the role's (None: the default); cheap when it already is."""
        if self._set.get(chat) == role or (role is None and chat not in self._set):
            self._wanted.pop(chat, None)
            return
        if self._wanted.get(chat, "?") == role:
            return
        self._wanted[chat] = role
        self._wake.set()

    def sync(self, people: Iterable[tuple[str, str]]) -> None:
        """Everyone's menu as it should be: (chat, role) of each active person; others back to default."""
        wanted = dict(people)
        for chat, role in wanted.items():
            self.want(chat, role)
        for chat in list(self._set):
            if chat not in wanted:
                self.want(chat, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-menus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._save()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every wanted menu is set (tests)."""
        async with asyncio.timeout(timeout):
            while self._wanted:
                await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._wanted:
                chat, role = next(iter(self._wanted.items()))
                delay = await self._apply(chat, role)
                await asyncio.sleep(delay)
            self._save()

    async def _apply(self, chat: str, role: str | None) -> float:
        """Set one chat's menu; returns how long to wait before the next call."""
        try:
            scope = BotCommandScopeChat(int(chat))
            if role is None:
                await self.bot.delete_my_commands(scope=scope)
                self._set.pop(chat, None)
            else:
                await self.bot.set_my_commands(commands_for(role), scope=scope)
                self._set[chat] = role
        except RetryAfter as err:
            return retry_seconds(err)  # keep it wanted; try again after the flood wait
        except (BadRequest, Forbidden) as err:  # never started the bot, or blocked it: nothing to set
            log.info("no command menu for Telegram chat %s: %s", chat, err.message)
        except (TelegramError, ValueError) as err:
            # Telegram unreachable: given up for now; the next message to the chat asks again.
            log.warning("setting the command menu of Telegram chat %s failed (%s)", chat, type(err).__name__)
        if self._wanted.get(chat, "?") == role:
            del self._wanted[chat]
        return self.pace

