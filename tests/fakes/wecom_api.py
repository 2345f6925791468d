"""A fake WeCom server API on 127.0.0.1 (a real HTTP server in a thread): gettoken, message/send,
media/get, media/upload and the group robots' webhook/send, with the error behaviour that matters
(expired tokens, frequency limits, untrusted IP, JSON errors with HTTP 200, byte limits)."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID = "ww1436e0e65a779aee"
SECRET = "app-secret-Zq8vK2mN4pR7sT1w"


@dataclass
class FakeWeCom:
    corp_id: str = CORP_ID
    secret: str = SECRET
    robot_keys: set[str] = field(default_factory=set)
    expires_in: int = 7200
    sent: list[dict[str, Any]] = field(default_factory=list)  # message/send payloads accepted
    robot_sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (key, payload)
    uploads: list[bytes] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    token_calls: int = 0
    # errcodes message/send (or webhook/send) answers next, one per call, before working normally.
    send_errors: deque[int] = field(default_factory=deque)
    robot_errors: deque[int] = field(default_factory=deque)
    gettoken_error: int | None = None
    requests: list[str] = field(default_factory=list)  # "GET /cgi-bin/gettoken", ...

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, bool] = {}  # token → still valid
        self._server: ThreadingHTTPServer | None = None

    # --- control

    def expire_tokens(self) -> None:
        """Every issued token is now expired (42001) — as if WeCom invalidated it early."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, False)

    def texts_to(self, userid: str) -> list[str]:
        with self._lock:
            return [p["text"]["content"] for p in self.sent if p.get("touser") == userid and p["msgtype"] == "text"]

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeWeCom:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many concurrent sends must not be refused at connect

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeWeCom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the API

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(req.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        api = url.path.removeprefix("/cgi-bin/")
        with self._lock:
            self.requests.append(f"{method} {url.path}")
            result = self._route(method, api, query, body)
        if isinstance(result, tuple):  # a file
            content, ctype = result
            req.send_response(200)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Disposition", 'attachment; filename="photo.jpg"')
            req.send_header("Content-Length", str(len(content)))
            req.end_headers()
            req.wfile.write(content)
            return
        data = json.dumps(result).encode()
        req.send_response(200)  # WeCom answers errors with HTTP 200 and an errcode
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _route(self, method: str, api: str, q: dict[str, str], body: bytes) -> Any:
        if api == "gettoken":
            self.token_calls += 1
            if self.gettoken_error is not None:
                return _err(self.gettoken_error)
            if q.get("corpid") != self.corp_id:
                return _err(40013)
            if q.get("corpsecret") != self.secret:
                return _err(40001)
            token = f"tok{self.token_calls:04d}-" + "x" * 40
            self._tokens[token] = True
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
        if api == "webhook/send":
            return self._robot(q.get("key", ""), body)
        access = q.get("access_token")
        if not access:
            return _err(41001)
        if access not in self._tokens:
            return _err(40014)
        if not self._tokens[access]:
            return _err(42001)
        if api == "message/send" and method == "POST":
            return self._send(json.loads(body))
        if api == "media/get":
            media = self.media.get(q.get("media_id", ""))
            return media if media is not None else _err(40007)
        if api == "media/upload" and method == "POST":
            self.uploads.append(body)
            return {"errcode": 0, "errmsg": "ok", "type": "file", "media_id": f"up{len(self.uploads)}"}
        return _err(40035)

    def _send(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.send_errors:
            return _err(self.send_errors.popleft())
        kind = payload.get("msgtype")
        if kind in ("text", "markdown"):
            content = payload[kind].get("content", "")
            if not content:
                return _err(44004)
            if len(content.encode()) > 2048:
                return _err(45002)
        self.sent.append(payload)
        return {"errcode": 0, "errmsg": "ok", "msgid": f"m{len(self.sent)}"}

    def _robot(self, key: str, body: bytes) -> dict[str, Any]:
        if key not in self.robot_keys:
            return _err(93000)
        if self.robot_errors:
            return _err(self.robot_errors.popleft())
        payload = json.loads(body)
        kind = payload.get("msgtype")
        content = payload.get(kind, {}).get("content", "")
        if kind == "markdown" and len(content.encode()) > 4096:
            return _err(40058)
        if kind == "text" and len(content.encode()) > 2048:
            return _err(45002)
        self.robot_sent.append((key, payload))
        return {"errcode": 0, "errmsg": "ok"}


def _err(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": f"fake error {code}"}
