"""A fake Telegram Bot API on 127.0.0.1: a real HTTP server (Starlette on uvicorn, in a thread with its
own event loop) that python-telegram-bot talks to through its `base_url`.

It answers what dutybot calls (getMe, getUpdates with offset and long-poll timeout, sendMessage,
sendDocument, editMessageText, editMessageReplyMarkup, answerCallbackQuery, setMyCommands,
deleteMyCommands, setWebhook, deleteWebhook, getWebhookInfo) the way Telegram does: HTTP status =
error code, `parameters.retry_after` on 429, form-encoded or multipart bodies. Tests control it:
inject updates, read the recorded calls, script errors for the next calls, mark chats as blocked,
switch on Telegram-like rate limits (30/s overall, 1/s per chat → 429 + retry_after).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "7351927468:AAH3kTq9ZxVb2LmN8pR4sW6yC1dF5gJ0eUo"
BOT_ID = 7351927468
BOT_USERNAME = "dutydesk_test_bot"

# Form fields that are plain strings even when they look like JSON ("123" as a text stays a text).
_RAW_FIELDS = frozenset({"text", "caption", "callback_query_id", "url", "secret_token", "inline_message_id"})
_SENDS = frozenset({"sendmessage", "senddocument", "sendphoto"})
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str  # as the Bot API spells it: "sendMessage"
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field → (filename, content)
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when the call arrived


@dataclass
class Scripted:
    status: int
    description: str
    retry_after: int | None
    methods: frozenset[str] | None  # lower-case method names; None: any method but getUpdates/getMe


class FakeTelegramError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


class FakeTelegram:
    def __init__(self, token: str = TOKEN, *, bot_id: int = BOT_ID, username: str = BOT_USERNAME):
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "值班助手", "username": username,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.blocked: set[int] = set()  # chats that blocked the bot: 403 on sends
        self.missing: set[int] = set()  # chats that do not exist: 400 "chat not found"
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}  # scope key → commands
        self.sent_ok = 0  # sends answered 200 (the bench counts deliveries with it)
        self.rejected_429 = 0
        # Telegram-like flood control: None = off. Sends over it get 429 + retry_after.
        self.overall_per_second: int | None = None
        self.per_chat_per_second: int | None = None
        self._lock = threading.Lock()
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000
        self._next_message_id: dict[int, int] = {}
        self._script: deque[Scripted] = deque()
        self._overall: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # --- lifecycle

    def start(self) -> FakeTelegram:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", access_log=False,
                                log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="fake-telegram", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Telegram server did not start")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._arrived = asyncio.Event()
            assert self._server is not None
            await self._server.serve()

        asyncio.run(serve())

    def stop(self) -> None:
        self._closing = True
        self._wake()  # long polls still waiting answer now, so the server can shut down at once
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL is set to: python-telegram-bot appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    # --- test control

    def inject(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._lock:
            self._next_update_id += 1
            update = {"update_id": self._next_update_id, **update}
            self._updates.append(update)
        self._wake()
        return int(update["update_id"])

    def next_update_id(self) -> int:
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id

    def fail_next(self, n: int, status: int, description: str, *, retry_after: int | None = None,
                  methods: Iterable[str] | None = None) -> None:
        """The next `n` matching calls fail with this status (e.g. 429, 403, 500)."""
        wanted = frozenset(m.lower() for m in methods) if methods is not None else None
        with self._lock:
            self._script.extend(Scripted(status, description, retry_after, wanted) for _ in range(n))

    def set_rate_limits(self, overall_per_second: int | None = 30, per_chat_per_second: int | None = 1) -> None:
        with self._lock:
            self.overall_per_second, self.per_chat_per_second = overall_per_second, per_chat_per_second
            self._overall.clear()
            self._per_chat.clear()

    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method.lower() == method.lower() and (c.status == 200 or not ok_only)]

    def texts_to(self, chat_id: int | str) -> list[str]:
        """Texts of the messages delivered to a chat (sendMessage, and sendDocument captions)."""
        chat = int(chat_id)
        return [str(c.params.get("text", c.params.get("caption", "")))
                for c in self.calls_to("sendMessage") + self.calls_to("sendDocument")
                if c.params.get("chat_id") == chat]

    def messages_to(self, chat_id: int | str) -> list[Call]:
        chat = int(chat_id)
        return [c for c in self.calls_to("sendMessage") if c.params.get("chat_id") == chat]

    def documents_to(self, chat_id: int | str) -> list[tuple[str, bytes]]:
        chat = int(chat_id)
        return [c.files["document"] for c in self.calls_to("sendDocument") if c.params.get("chat_id") == chat]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block (a thread, not the event loop) until the condition holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("fake Telegram: condition not reached")
            time.sleep(0.01)

    # --- update builders (shapes as the Bot API sends them)

    @staticmethod
    def user(user_id: int, first_name: str = "测试", username: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
        if username:
            user["username"] = username
        return user

    @staticmethod
    def chat(chat_id: int, kind: str = "private", title: str = "值班群") -> dict[str, Any]:
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": "测试"}
        return {"id": chat_id, "type": kind, "title": title}

    def message(self, from_id: int, text: str | None = None, *, chat_id: int | None = None,
                chat_type: str = "private", **extra: Any) -> dict[str, Any]:
        chat = chat_id if chat_id is not None else from_id
        with self._lock:
            mid = self._next_message_id.get(chat, 0) + 1
            self._next_message_id[chat] = mid
        msg: dict[str, Any] = {"message_id": mid, "date": int(time.time()), "chat": self.chat(chat, chat_type),
                               "from": self.user(from_id)}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                head = text.split(" ", 1)[0]
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}]
        msg.update(extra)
        return {"message": msg}

    def photo_message(self, from_id: int, file_id: str, caption: str | None = None, **extra: Any) -> dict[str, Any]:
        sizes = [{"file_id": f"{file_id}-s", "file_unique_id": "u1", "width": 90, "height": 90, "file_size": 1200},
                 {"file_id": file_id, "file_unique_id": "u2", "width": 1280, "height": 960, "file_size": 98000}]
        if caption is not None:
            extra["caption"] = caption
        return self.message(from_id, None, photo=sizes, **extra)

    def location_message(self, from_id: int, lat: float, lon: float) -> dict[str, Any]:
        return self.message(from_id, None, location={"latitude": lat, "longitude": lon})

    def callback(self, from_id: int, data: str, message: Call | dict[str, Any], *,
                 query_id: str | None = None) -> dict[str, Any]:
        """A press on an inline button of a message the bot sent (a recorded sendMessage or its result)."""
        result = message.params.get("_result") if isinstance(message, Call) else message
        assert isinstance(result, dict)
        return {"callback_query": {"id": query_id or f"cq{self.next_update_id()}", "from": self.user(from_id),
                                   "chat_instance": "ci-1", "data": data, "message": result}}

    # --- the server

    def _wake(self) -> None:
        loop, event = self._loop, self._arrived
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        try:
            result = await self._answer(method.lower(), params, files)
        except FakeTelegramError as err:
            call.status = err.status
            if method.lower() != "getupdates":
                with self._lock:
                    self.calls.append(call)
            return _error(err.status, err.description, err.retry_after)
        if method.lower() != "getupdates" or result:
            if isinstance(result, dict):
                call.params["_result"] = result
            with self._lock:
                self.calls.append(call)
        return JSONResponse({"ok": True, "result": result})

    async def _answer(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._scripted(method, params)
        if method == "getupdates":
            return await self._get_updates(params)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise FakeTelegramError(404, "Not Found")
        return handler(params, files)

    def _scripted(self, method: str, params: dict[str, Any]) -> None:
        """The first scripted error meant for this method, if any; then flood control for sends."""
        with self._lock:
            for s in self._script:
                if (method in s.methods) if s.methods is not None else method not in ("getme", "getupdates"):
                    self._script.remove(s)
                    if s.status == 429:
                        self.rejected_429 += 1
                    raise FakeTelegramError(s.status, s.description, s.retry_after)
            if method in _SENDS:
                self._flood_control(int(params.get("chat_id") or 0))

    def _flood_control(self, chat: int) -> None:
        """Sliding one-second windows, as Telegram's (approximate) limits; caller holds the lock."""
        if self.overall_per_second is None and self.per_chat_per_second is None:
            return
        now = time.monotonic()
        while self._overall and now - self._overall[0] >= 1.0:
            self._overall.popleft()
        mine = self._per_chat.setdefault(chat, deque())
        while mine and now - mine[0] >= 1.0:
            mine.popleft()
        waits = []
        if self.overall_per_second is not None and len(self._overall) >= self.overall_per_second:
            waits.append(1.0 - (now - self._overall[0]))
        if self.per_chat_per_second is not None and len(mine) >= self.per_chat_per_second:
            waits.append(1.0 - (now - mine[0]))
        if waits:
            self.rejected_429 += 1
            wait = max(1, math.ceil(max(waits)))
            raise FakeTelegramError(429, f"Too Many Requests: retry after {wait}", wait)
        self._overall.append(now)
        mine.append(now)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise FakeTelegramError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                         "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(100, int(params.get("limit") or 100))
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        assert self._arrived is not None
        while True:
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
                ready = self._updates[:limit]
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                pass

    # --- methods

    def _m_getme(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self.bot

    def _chat_ok(self, chat: int) -> None:
        if chat in self.missing:
            raise FakeTelegramError(400, "Bad Request: chat not found")
        if chat in self.blocked:
            raise FakeTelegramError(403, "Forbidden: bot was blocked by the user")

    def _new_message(self, chat: int, **content: Any) -> dict[str, Any]:
        with self._lock:
            mid = self._next_message_id.get(chat, 0) + 1
            self._next_message_id[chat] = mid
            self.sent_ok += 1
        kind = "private" if chat > 0 else "supergroup"
        return {"message_id": mid, "date": int(time.time()), "chat": self.chat(chat, kind), "from": self.bot,
                **{k: v for k, v in content.items() if v is not None}}

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat = int(params["chat_id"])
        text = str(params.get("text", ""))
        if not text.strip():
            raise FakeTelegramError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise FakeTelegramError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        self._chat_ok(chat)
        inline = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        return self._new_message(chat, text=text, reply_markup=inline)

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat = int(params["chat_id"])
        if "document" not in files:
            raise FakeTelegramError(400, "Bad Request: there is no document in the request")
        caption = params.get("caption")
        if caption is not None and utf16_len(str(caption)) > 1024:
            raise FakeTelegramError(400, "Bad Request: message caption is too long")
        _check_markup(params.get("reply_markup"))
        self._chat_ok(chat)
        name, content = files["document"]
        doc = {"file_id": f"doc-{len(self.calls)}", "file_unique_id": "d", "file_name": name,
               "file_size": len(content)}
        return self._new_message(chat, document=doc, caption=caption)

    def _m_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, mid = int(params["chat_id"]), int(params["message_id"])
        with self._lock:
            if mid > self._next_message_id.get(chat, 0):
                raise FakeTelegramError(400, "Bad Request: message to edit not found")
        return {"message_id": mid, "date": int(time.time()), "chat": self.chat(chat), "text": params.get("text", "")}

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        if utf16_len(str(params.get("text", ""))) > 4096:
            raise FakeTelegramError(400, "Bad Request: message is too long")
        return self._m_edit(params)

    def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._m_edit(params)

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise FakeTelegramError(400, "Bad Request: text is too long")
        return True

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise FakeTelegramError(400, "Bad Request: commands must be a list of at most 100")
        for c in commands:
            if not _COMMAND.match(str(c.get("command", ""))) or not 1 <= len(str(c.get("description", ""))) <= 256:
                raise FakeTelegramError(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "chat":
            self._chat_ok(int(scope["chat_id"]))
        with self._lock:
            self.commands[_scope_key(scope)] = commands
        return True

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        with self._lock:
            self.commands.pop(_scope_key(params.get("scope") or {"type": "default"}), None)
        return True

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise FakeTelegramError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("http://127.0.0.1", "https://")):
            raise FakeTelegramError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        with self._lock:
            self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        return True

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = {}
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        return True


def _scope_key(scope: dict[str, Any]) -> str:
    return f"chat:{scope['chat_id']}" if scope.get("type") == "chat" else str(scope.get("type"))


def _check_markup(markup: Any) -> None:
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise FakeTelegramError(400, "Bad Request: BUTTON_DATA_INVALID")


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


def _decode(key: str, value: str) -> Any:
    if key in _RAW_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Form-encoded, multipart (files) or JSON bodies, plus the query string, as python-telegram-bot sends."""
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query_params.items()}
    files: dict[str, tuple[str, bytes]] = {}
    if ctype.startswith("application/json") and body:
        params.update(json.loads(body))
    elif ctype.startswith("multipart/form-data"):
        parsed = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                files[str(name)] = (filename, payload)
            else:
                params[str(name)] = _decode(str(name), payload.decode())
    elif body:
        params.update({k: _decode(k, v) for k, v in parse_qsl(body.decode(), keep_blank_values=True)})
    # A file sent by reference ("attach://name") keeps its field name.
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            files[key] = files.pop(value[9:])
            del params[key]
    return params, files
