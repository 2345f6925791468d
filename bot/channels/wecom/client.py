"""Async WeCom server-API client (httpx): access_token cache, error codes → clear errors.

The token is fetched behind one lock (single flight: N concurrent sends that all see an expired
token cause one gettoken), refreshed `REFRESH_MARGIN` seconds before it expires and when an API call
says it is invalid or expired (40014/42001; the call is retried once). Secrets and tokens travel only
in query strings, which nothing here logs; httpx's own request log line is redacted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from bot.logsafe import redact_at_source

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0
MAX_MEDIA_BYTES = 20 * 1024 * 1024  # bigger files need Range requests (830002); not for report photos
TOKEN_ERRORS = frozenset({40014, 42001})
# Wrong settings or admin-console setup: retrying cannot help, an admin must act.
CONFIG_ERRORS = frozenset({40001, 40013, 41004, 48002, 60020, 93000, 301002})
HINTS = {
    40001: "Secret 不对：请核对 WECOM_SECRET（应用管理 → 自建应用 → Secret）",
    40013: "CorpID 不对：请核对 WECOM_CORP_ID（我的企业 → 企业ID）",
    40014: "access_token 无效（会自动重新获取）",
    41004: "缺少 Secret：请设置 WECOM_SECRET",
    42001: "access_token 已过期（会自动重新获取）",
    45009: "发送太频繁，超过接口频率限制，稍后重试",
    45033: "接口并发调用超过限制，稍后重试",
    48002: "API 接口无权限：WECOM_SECRET 应该是这个自建应用的 Secret，不是通讯录同步等其他 Secret",
    60020: "服务器的出口 IP 不在应用的「企业可信IP」里：请在管理后台 → 应用管理 → 本应用 → 企业可信IP 中添加本机出口 IP",
    81013: "收件人全部无效或不在应用的可见范围：请在应用的可见范围里加上此人",
    93000: "群机器人 Webhook 地址无效：请核对 WECOM_ROBOT_WEBHOOKS 里的 key",
    301002: "access_token 与 WECOM_AGENT_ID 不属于同一个应用：请核对 WECOM_AGENT_ID 和 WECOM_SECRET",
    40007: "media_id 无效或已过期（3 天）",
    44004: "消息内容为空",
    45002: "消息内容超过长度限制",
    40058: "参数不合法（群机器人 markdown 超过 4096 字节）",
    -1: "企业微信系统繁忙，稍后重试",
}


# httpx logs every request URL at INFO; a URL here carries access_token= or a robot key=.
redact_at_source("httpx")


class WeComApiError(Exception):
    """WeCom answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str, api: str):
        super().__init__(f"{api}: errcode {errcode} ({errmsg[:120]})")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api

    @property
    def is_config(self) -> bool:
        return self.errcode in CONFIG_ERRORS

    def hint(self) -> str:
        return f"企业微信错误 {self.errcode}：{HINTS.get(self.errcode, self.errmsg[:120])}"


class WeComNetworkError(Exception):
    """No usable answer (connection, timeout, HTTP status, not JSON). Never carries the URL."""


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str


class WeComClient:
    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ):
        self.base = base_url.rstrip("/") + "/cgi-bin/"
        self.corp_id = corp_id
        self._secret = secret
        self.http = http or httpx.AsyncClient(timeout=timeout)
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0  # how many times gettoken was called (tests, benchmark)

    async def close(self) -> None:
        await self.http.aclose()

    # --- access_token

    def _fresh(self, stale: str | None) -> bool:
        return self._token is not None and self._token != stale and self.clock() < self._expires_at

    async def token(self, stale: str | None = None) -> str:
        """A valid token; `stale` is one an API call just rejected (refetched unless already replaced)."""
        if self._fresh(stale):
            return self._token  # type: ignore[return-value]
        async with self._lock:
            if self._fresh(stale):  # another task refreshed it while we waited
                return self._token  # type: ignore[return-value]
            credentials = {"corpid": self.corp_id, "corpsecret": self._secret}
            data = await self._json("GET", "gettoken", params=credentials)
            token, expires_in = data.get("access_token"), data.get("expires_in", 7200)
            if not isinstance(token, str) or not token:
                raise WeComNetworkError("gettoken answered without a token")
            self.refreshes += 1
            self._token = token
            self._expires_at = self.clock() + max(60.0, float(expires_in) - REFRESH_MARGIN)
            log.info("WeCom access token fetched (valid %s s)", expires_in)
            return token

    # --- calls

    async def call(self, method: str, api: str, *, params: dict[str, str] | None = None,
                   json: Any = None, files: Any = None) -> dict[str, Any]:
        """One API call with the token; on 40014/42001 a new token and one retry."""
        token = await self.token()
        try:
            return await self._json(method, api, params={**(params or {}), "access_token": token},
                                    json=json, files=files)
        except WeComApiError as err:
            if err.errcode not in TOKEN_ERRORS:
                raise
            log.info("WeCom said the access token is %s; fetching a new one",
                     "expired" if err.errcode == 42001 else "invalid")
            token = await self.token(stale=token)
            return await self._json(method, api, params={**(params or {}), "access_token": token},
                                    json=json, files=files)

    async def send_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "message/send", json=payload)

    async def upload(self, kind: str, name: str, content: bytes) -> str:
        """A temporary media (3 days), e.g. an export file to send; returns its media_id."""
        files = {"media": (name, content)}
        data = await self.call("POST", "media/upload", params={"type": kind}, files=files)
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeComNetworkError("media/upload answered without a media_id")
        return media_id

    async def get_media(self, media_id: str) -> Media:
        """A received file's bytes. WeCom reports errors as JSON, often with HTTP 200."""
        for attempt in (1, 2):
            token = await self.token()
            query = {"access_token": token, "media_id": media_id}
            response = await self._request("GET", "media/get", params=query)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            is_json = kind in ("application/json", "text/plain", "text/json") or response.content[:1] == b"{"
            if is_json:
                err = _api_error(_decode(response), "media/get")
                if err is None:
                    raise WeComNetworkError("media/get answered JSON without a file")
                if err.errcode in TOKEN_ERRORS and attempt == 1:
                    await self.token(stale=token)
                    continue
                raise err
            if len(response.content) > MAX_MEDIA_BYTES:
                raise WeComNetworkError("media too large")
            return Media(response.content, kind or "application/octet-stream")
        raise WeComNetworkError("media/get failed")  # not reached

    async def post_json(self, url: str, payload: dict[str, Any], api: str) -> dict[str, Any]:
        """POST to a full URL (a group robot's webhook), same error handling, no token."""
        response = await self._send("POST", url, json=payload)
        data = _decode(response)
        err = _api_error(data, api)
        if err is not None:
            raise err
        return data

    # --- plumbing

    async def _json(self, method: str, api: str, **kwargs: Any) -> dict[str, Any]:
        data = _decode(await self._request(method, api, **kwargs))
        err = _api_error(data, api)
        if err is not None:
            raise err
        return data

    async def _request(self, method: str, api: str, **kwargs: Any) -> httpx.Response:
        return await self._send(method, self.base + api, **kwargs)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as err:  # its text may hold the URL (and so a token): keep only the type
            raise WeComNetworkError(type(err).__name__) from None
        except RuntimeError:  # the client was closed (the channel stopped while the outbox still ran)
            raise WeComNetworkError("client closed") from None
        if response.status_code != 200:
            raise WeComNetworkError(f"HTTP {response.status_code}")
        return response


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise WeComNetworkError("answer is not JSON") from None
    if not isinstance(data, dict):
        raise WeComNetworkError("answer is not a JSON object")
    return data


def _api_error(data: dict[str, Any], api: str) -> WeComApiError | None:
    code = data.get("errcode", 0)
    if not isinstance(code, int) or code == 0:
        return None
    return WeComApiError(code, str(data.get("errmsg", "")), api)


def client_from_settings(settings: Settings, http: httpx.AsyncClient | None = None) -> WeComClient:
    secret = settings.wecom_secret.get_secret_value() if settings.wecom_secret else ""
    return WeComClient(settings.wecom_api_base_url, settings.wecom_corp_id or "", secret, http=http)
