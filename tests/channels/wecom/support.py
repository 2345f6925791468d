"""Helpers for the WeCom tests: settings pointing at the fake API, signed callbacks, a running dutybot."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.app import Serving, build_app, serving
from bot.channels.wecom import build_channel
from bot.channels.wecom.channel import WeComChannel
from bot.channels.wecom.crypto import WeComCrypto
from bot.channels.wecom.xml import envelope, message
from bot.settings import Settings
from bot.staff import add_person
from bot.storage.models import InboxMessage
from tests.conftest import SEEDS
from tests.support import settle
from tests.fakes.wecom_api import CORP_ID, SECRET, FakeWeCom

# Tencent's published sample configuration (callback/Sample.py @27220fb).
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
AGENT_ID = 1000002
ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
PATH = "/wecom/callback"


def wecom_settings(data_dir: Path, fake: FakeWeCom, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        seeds_dir=SEEDS, data_dir=data_dir, http_port=0, wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY, wecom_api_base_url=fake.base_url,
        wecom_robot_webhooks=f'{{"经理群": "{ROBOT_KEY}"}}',
    )
    values.update(extra)
    return Settings.explicit(**values)


class Signer:
    """Builds what WeCom would POST: an encrypted, signed callback for the given message fields."""

    def __init__(self, token: str = TOKEN, key: str = AES_KEY, corp_id: str = CORP_ID):
        self.crypto = WeComCrypto(token, key, corp_id)
        self.corp_id = corp_id
        self._n = 0

    def post(self, fields: dict[str, str]) -> tuple[dict[str, str], str]:
        self._n += 1
        encrypt = self.crypto.encrypt(message(fields).encode())
        timestamp, nonce = str(int(time.time())), f"n{self._n}"
        params = {"msg_signature": self.crypto.sign(timestamp, nonce, encrypt), "timestamp": timestamp,
                  "nonce": nonce}
        return params, envelope(self.corp_id, encrypt, str(AGENT_ID))


_MSG_ID = [7000000000000000000]


def text_msg(user: str, content: str, msg_id: str | None = None, **extra: str) -> dict[str, str]:
    if msg_id is None:
        _MSG_ID[0] += 1
        msg_id = str(_MSG_ID[0])
    return {"ToUserName": CORP_ID, "FromUserName": user, "CreateTime": str(int(time.time())), "MsgType": "text",
            "Content": content, "MsgId": msg_id, "AgentID": str(AGENT_ID), **extra}


def event(user: str, name: str, key: str = "", create_time: str = "1764200000", **extra: str) -> dict[str, str]:
    return {"ToUserName": CORP_ID, "FromUserName": user, "CreateTime": create_time, "MsgType": "event",
            "Event": name, "EventKey": key, "AgentID": str(AGENT_ID), **extra}


@dataclass
class Running:
    serving: Serving
    channel: WeComChannel
    http: httpx.AsyncClient
    fake: FakeWeCom
    signer: Signer

    async def post(self, fields: dict[str, str]) -> httpx.Response:
        params, body = self.signer.post(fields)
        return await self.http.post(PATH, params=params, content=body.encode())

    async def settle(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Handle the inbox and deliver the outbox until `done()` (or fail after `timeout`)."""
        await settle(self.serving, done, timeout)

    def inbox_rows(self) -> int:
        with self.serving.app.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


def register(settings: Settings, name: str, role: str, userid: str, level: int | None = None) -> None:
    from bot.storage.db import make_engine, session_factory, upgrade

    engine = make_engine(settings.db_url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        add_person(session, name=name, role=role, now=datetime.now(UTC), wecom_userid=userid, level=level)
    engine.dispose()


@contextlib.asynccontextmanager
async def running(settings: Settings, searcher: Any, fake: FakeWeCom,
                  channel: WeComChannel | None = None) -> AsyncIterator[Running]:
    """dutybot with the WeCom channel on an ephemeral port; the test drives inbox and outbox."""
    channel = channel or build_channel(settings)
    app = build_app(settings, searcher=searcher, senders={"wecom": channel.sender})
    try:
        async with serving(app, [channel], scheduler=False) as served:
            assert served.web is not None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served.web.port}") as http:
                yield Running(served, channel, http, fake, Signer())
    finally:
        app.engine.dispose()
