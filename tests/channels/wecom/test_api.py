"""The API client, the sender and the group robots against the fake WeCom server: token refresh under
concurrency, error codes, byte limits, pacing, and no secret in any log line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.wecom import build_channel
from bot.channels.wecom.client import WeComApiError, WeComClient
from bot.channels.wecom.robot import Robots
from bot.channels.wecom.sender import LIMITS
from bot.core.messages import Button, Document, Outbound
from bot.dispatch import DeliveryError
from bot.outbox import enqueue
from bot.pacing import Pacer
from bot.settings import Settings
from bot.storage.models import OutboxMessage
from tests.channels.wecom.support import AES_KEY, ROBOT_KEY, TOKEN, register, running, text_msg, wecom_settings
from tests.fakes.wecom_api import CORP_ID, SECRET, FakeWeCom


@pytest.fixture()
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(robot_keys={ROBOT_KEY, "second-robot-key-123"}) as server:
        yield server


@pytest.fixture()
def wecom(tmp_path: Path, fake: FakeWeCom) -> Settings:
    return wecom_settings(tmp_path / "data", fake)


def test_an_expired_token_is_refreshed_once_under_concurrent_sends(wecom: Settings, fake: FakeWeCom) -> None:
    channel = build_channel(wecom)

    async def scenario() -> None:
        try:
            await channel.sender.send(Outbound("wecom", "u0", "早"), None)
            assert fake.token_calls == 1
            fake.expire_tokens()  # WeCom invalidates the token mid-run: every send gets 42001 once
            await asyncio.gather(*(channel.sender.send(Outbound("wecom", f"u{i}", f"第{i}条"), None)
                                   for i in range(1, 21)))
        finally:
            await channel.stop()

    asyncio.run(scenario())
    assert fake.token_calls == 2  # one refresh for all twenty
    assert sorted(p["touser"] for p in fake.sent) == sorted(f"u{i}" for i in range(21))


def test_a_token_is_refreshed_before_it_expires(fake: FakeWeCom) -> None:
    now = [0.0]
    client = WeComClient(fake.base_url, CORP_ID, SECRET, clock=lambda: now[0])

    async def scenario() -> list[str]:
        try:
            first = await client.token()
            now[0] = 7200 - 301
            second = await client.token()
            now[0] = 7200 - 299  # inside the refresh margin
            third = await client.token()
            return [first, second, third]
        finally:
            await client.close()

    first, second, third = asyncio.run(scenario())
    assert first == second != third and fake.token_calls == 2


def test_error_codes_become_the_right_delivery_errors(wecom: Settings, fake: FakeWeCom,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    channel = build_channel(wecom)
    out = Outbound("wecom", "zhangsan", "你好")

    async def attempt(code: int) -> DeliveryError:
        fake.send_errors.append(code)
        with pytest.raises(DeliveryError) as caught:
            await channel.sender.send(out, None)
        return caught.value

    async def scenario() -> dict[int, DeliveryError]:
        try:
            return {code: await attempt(code) for code in (45009, 60020, 40001, 48002, 301002, 81013, -1)}
        finally:
            await channel.stop()

    with caplog.at_level(logging.ERROR):
        errors = asyncio.run(scenario())
    assert errors[45009].retry_after is not None and errors[45009].retry_after >= 60
    assert not errors[45009].permanent
    for code in (60020, 40001, 48002, 301002):
        assert errors[code].permanent and not errors[code].blocked, code
    assert "企业可信IP" in str(errors[60020]) and "企业可信IP" in caplog.text
    assert errors[81013].blocked
    assert not errors[-1].permanent and errors[-1].retry_after is None
    assert fake.sent == []


def test_a_bad_secret_at_gettoken_is_a_config_error(tmp_path: Path, fake: FakeWeCom) -> None:
    channel = build_channel(wecom_settings(tmp_path, fake, wecom_secret="wrong-secret-value"))

    async def scenario() -> DeliveryError:
        try:
            with pytest.raises(DeliveryError) as caught:
                await channel.sender.send(Outbound("wecom", "zhangsan", "你好"), None)
            return caught.value
        finally:
            await channel.stop()

    err = asyncio.run(scenario())
    assert err.permanent and "WECOM_SECRET" in str(err) and fake.token_calls == 1


def test_long_text_is_split_by_bytes_and_documents_are_uploaded(wecom: Settings, fake: FakeWeCom) -> None:
    channel = build_channel(wecom)
    text = "\n".join(f"{i}. 夜间巡逻每两小时一次，发现异常立即上报，并在交接班记录本上写明。" for i in range(80))
    out = Outbound("wecom", "zhangsan", text, (Button("确认", "确认"),),
                   Document("事件.csv", "编号,内容\nSJ-1,翻墙\n".encode()))

    async def scenario() -> None:
        try:
            await channel.sender.send(out, None)
            await channel.wecom_sender.send_markdown("zhangsan", "**紧急**\n" + "> 东门有人翻墙\n" * 200)
        finally:
            await channel.stop()

    asyncio.run(scenario())
    texts = fake.texts_to("zhangsan")
    assert len(texts) > 1 and all(len(t.encode()) <= 2048 for t in texts)
    assert "\n".join(texts) == text + "\n回复数字选择：1. 确认"
    [upload] = fake.uploads
    assert "事件.csv".encode() in upload and "SJ-1,翻墙".encode() in upload
    assert [p["file"] for p in fake.sent if p["msgtype"] == "file"] == [{"media_id": "up1"}]
    markdown = [p["markdown"]["content"] for p in fake.sent if p["msgtype"] == "markdown"]
    assert len(markdown) > 1 and all(len(m.encode()) <= 2048 for m in markdown)


def test_group_robots(fake: FakeWeCom) -> None:
    client = WeComClient(fake.base_url, CORP_ID, SECRET)
    robots = Robots({"经理群": ROBOT_KEY, "保安群": f"{fake.base_url}/cgi-bin/webhook/send?key=second-robot-key-123",
                     "旧群": "revoked-key-000000"}, fake.base_url, client)

    async def scenario() -> WeComApiError:
        try:
            await robots.send_text("经理群", "SJ-001 东门有人翻墙", mentioned=["libanzhang", "@all"])
            await robots.send_markdown("保安群", "**注意**：今晚加强巡逻", mentioned=["zhangsan"])
            assert await robots.send_markdown("经理群", "- 第1项 巡逻记录\n" * 300) == 2  # > 4096 bytes
            with pytest.raises(WeComApiError) as caught:
                await robots.send_text("旧群", "x")
            return caught.value
        finally:
            await client.close()

    err = asyncio.run(scenario())
    assert err.errcode == 93000 and err.is_config
    (k1, text), (k2, md), *parts = fake.robot_sent
    assert (k1, k2) == (ROBOT_KEY, "second-robot-key-123")
    assert text["text"] == {"content": "SJ-001 东门有人翻墙", "mentioned_list": ["libanzhang", "@all"]}
    assert md["markdown"]["content"].startswith("<@zhangsan>\n**注意**")
    assert len(parts) == 2 and all(len(p["markdown"]["content"].encode()) <= 4096 for _, p in parts)
    assert fake.token_calls == 0  # robots need no access_token


def test_pacing_windows_for_members_and_robots() -> None:
    now = [0.0]
    pacer = Pacer({"wecom": LIMITS}, clock=lambda: now[0])
    robot_waits = [pacer.reserve("wecom", "robot:经理群", 3600) for _ in range(21)]
    assert robot_waits[:20] == [0.0] * 20 and robot_waits[20] == pytest.approx(60.0)
    member_waits = [pacer.reserve("wecom", "zhangsan", 7200) for _ in range(31)]
    assert member_waits[:30] == [0.0] * 30 and member_waits[30] == pytest.approx(60.0)
    assert pacer.reserve("wecom", "lisi", 10) == 0.0  # another member is not held up


def test_outbox_rows_for_a_robot_and_45009_backs_off(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            sessions = bot.serving.app.services.sessions
            now = datetime.now(UTC)
            with sessions.begin() as session:
                enqueue(session, Outbound("wecom", "robot:经理群", "今日值班小结：无异常"), now=now)
                enqueue(session, Outbound("wecom", "robot:不存在的群", "x"), now=now)
            fake.robot_errors.append(45009)
            await bot.serving.app.dispatcher.drain()
            with sessions() as session:
                first, missing = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
                assert (first.status, first.attempts) == ("pending", 0)  # flood control: not an attempt
                assert first.next_attempt_at.replace(tzinfo=UTC) >= now + timedelta(seconds=59)
                assert missing.status == "failed" and "不存在的群" in (missing.last_error or "")
            assert fake.robot_sent == []

    asyncio.run(scenario())


def test_a_config_error_is_not_retried_and_the_admin_is_told(wecom: Settings, fake: FakeWeCom, searcher,  # type: ignore[no-untyped-def]
                                                             caplog: pytest.LogCaptureFixture) -> None:
    register(wecom, "张保安", "guard", "zhangbaoan")
    register(wecom, "王管理", "admin", "wangadmin")

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            fake.send_errors.append(60020)
            await bot.post(text_msg("zhangbaoan", "帮助"))
            await bot.settle(lambda: bool(fake.texts_to("wangadmin")))
            await bot.settle(lambda: True)
            with bot.serving.app.services.sessions() as session:
                row = session.scalars(select(OutboxMessage).where(OutboxMessage.chat == "zhangbaoan")).one()
                assert (row.status, row.attempts) == ("failed", 1)

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert fake.texts_to("zhangbaoan") == []
    assert "企业可信IP" in caplog.text
    [alert] = fake.texts_to("wangadmin")
    assert "张保安" in alert


def test_no_secret_token_or_robot_key_in_any_log_line(wecom: Settings, fake: FakeWeCom, searcher,  # type: ignore[no-untyped-def]
                                                      caplog: pytest.LogCaptureFixture) -> None:
    register(wecom, "张保安", "guard", "zhangbaoan")
    fake.media["M1"] = (b"\x89PNG" + b"0" * 100, "image/png")

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            await bot.post(text_msg("zhangbaoan", "晚上几点关大门"))
            await bot.settle(lambda: len(fake.texts_to("zhangbaoan")) == 1)
            fake.expire_tokens()  # the next send refreshes the token
            await bot.post({**text_msg("zhangbaoan", ""), "MsgType": "image", "MediaId": "M1"})
            await bot.settle(lambda: len(fake.texts_to("zhangbaoan")) == 2)
            with bot.serving.app.services.sessions.begin() as session:
                enqueue(session, Outbound("wecom", "robot:经理群", "今日值班小结"), now=datetime.now(UTC))
            fake.robot_errors.append(45009)
            await bot.serving.app.dispatcher.drain()  # a failure logs too
            bad = await bot.http.post("/wecom/callback", params={"msg_signature": "0" * 40, "timestamp": "1",
                                                                 "nonce": "2"}, content=b"<xml/>")
            assert bad.status_code in (400, 403)

    # httpx logs every request URL at INFO (another module may have quietened it: turn it up here).
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
        asyncio.run(scenario())
    assert fake.token_calls == 2 and len(fake.robot_sent) == 0
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "HTTP Request" in logged and "access_token=***" in logged and "key=***" in logged  # httpx's lines
    for secret in (SECRET, TOKEN, AES_KEY, ROBOT_KEY, "tok0001-", "tok0002-"):
        assert secret not in logged, secret
