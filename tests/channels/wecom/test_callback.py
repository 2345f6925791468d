"""End to end: encrypted callbacks POSTed to the real endpoint (bot.app.serving on an ephemeral port),
through the inbox and the real core, replies read at the fake WeCom API server."""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from bot.channels.wecom import build_channel
from bot.channels.wecom.crypto import WeComCrypto, pkcs7_pad
from bot.channels.wecom.xml import envelope, message
from bot.core import texts
from bot.core.messages import Inbound
from bot.settings import Settings
from bot.storage.models import Record
from tests.channels.wecom.support import (
    AES_KEY,
    PATH,
    TOKEN,
    Signer,
    event,
    register,
    running,
    text_msg,
    wecom_settings,
)
from tests.channels.wecom.test_crypto import ECHO
from tests.fakes.wecom_api import CORP_ID, FakeWeCom

GUARD = "zhangbaoan"
MANAGER = "libanzhang"
JPEG = b"\xff\xd8\xff\xe0" + b"fake-jpeg-body" * 50


@pytest.fixture()
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(robot_keys={"693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"}) as server:
        yield server


@pytest.fixture()
def wecom(tmp_path: Path, fake: FakeWeCom) -> Settings:
    return wecom_settings(tmp_path / "data", fake)


def test_url_verification_answers_the_plain_echo(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            ok = await bot.http.get(PATH, params=ECHO)  # httpx sends + / = as %2B %2F %3D
            assert (ok.status_code, ok.text) == (200, "1288432023552776189")
            assert ok.headers["content-type"].startswith("text/plain")
            raw = "&".join(f"{k}={v}" for k, v in ECHO.items())  # + and / unencoded, as a sloppy proxy sends
            assert (await bot.http.get(f"{PATH}?{raw}")).text == "1288432023552776189"
            bad = await bot.http.get(PATH, params={**ECHO, "msg_signature": "1" * 40})
            assert bad.status_code == 403 and "Traceback" not in bad.text
            assert (await bot.http.get(PATH, params={"echostr": "x"})).status_code == 400

    asyncio.run(scenario())


def _raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def test_refused_callbacks_get_4xx_and_nothing_is_stored(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)
    signer = Signer()
    fields = text_msg(GUARD, "门禁卡丢了怎么办")
    plain = message(fields).encode()
    body16 = b"R" * 16 + struct.pack(">I", len(plain)) + plain + CORP_ID.encode()

    def signed(encrypt: str, corp: str = CORP_ID) -> tuple[dict[str, str], bytes]:
        params = {"msg_signature": signer.crypto.sign("1", "2", encrypt), "timestamp": "1", "nonce": "2"}
        return params, envelope(corp, encrypt, "1000002").encode()

    good_params, good_text = signer.post(fields)
    good_body = good_text.encode()
    encrypted = signer.crypto.encrypt(plain)
    flipped = ("B" if encrypted[5] == "A" else "A").join((encrypted[:5], encrypted[6:]))
    tampered = bytearray(base64.b64decode(signer.crypto.encrypt(plain)))
    tampered[-1] ^= 1
    aligned = body16 + b"\x00" * (32 - len(body16) % 32)
    cases = {
        "bad signature": ({**good_params, "msg_signature": "0" * 40}, good_body),
        "wrong corp id": signed(WeComCrypto(TOKEN, AES_KEY, "ww0000000000000000").encrypt(plain), "ww0000000000000000"),
        "tampered, re-signed": signed(base64.b64encode(bytes(tampered)).decode()),
        "tampered, old signature": (signed(encrypted)[0], envelope(CORP_ID, flipped, "1000002").encode()),
        "pad 0": signed(_raw_encrypt(aligned[:-1] + b"\x00")),
        "pad 33": signed(_raw_encrypt(aligned[:-1] + b"\x21")),
        "n beyond body": signed(_raw_encrypt(pkcs7_pad(b"R" * 16 + struct.pack(">I", 99999) + plain))),
        "inner not XML": signed(signer.crypto.encrypt(b"<xml><oops>")),
        "envelope not XML": (good_params, b"<xml><Encrypt>"),
        "envelope entity bomb": (good_params, b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'),
        "no Encrypt": (good_params, b"<xml><ToUserName>x</ToUserName></xml>"),
        "no parameters": ({}, good_body),
    }

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            for name, (params, body) in cases.items():
                response = await bot.http.post(PATH, params=params, content=body)
                assert 400 <= response.status_code < 500, name
                assert "Traceback" not in response.text and "Error" not in response.text, name
            huge = await bot.http.post(PATH, params=good_params, content=b"<xml>" + b" " * 300_000 + b"</xml>")
            assert huge.status_code == 413
            assert bot.inbox_rows() == 0
            ok = await bot.http.post(PATH, params=good_params, content=good_body)  # the real one still works
            assert (ok.status_code, ok.text) == (200, "")
            assert bot.inbox_rows() == 1

    asyncio.run(scenario())


def test_a_question_is_answered_through_the_api(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            response = await bot.post(text_msg(GUARD, "晚上几点关大门"))
            assert (response.status_code, response.text) == (200, "")
            await bot.settle(lambda: bool(fake.texts_to(GUARD)))
        [answer] = fake.texts_to(GUARD)
        assert "《" in answer and len(answer.encode()) <= 2048
        [payload] = fake.sent
        assert payload["agentid"] == 1000002 and payload["msgtype"] == "text"

    asyncio.run(scenario())


def test_a_retried_callback_is_handled_once_even_across_a_restart(wecom: Settings, fake: FakeWeCom,
                                                                 searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)
    params, body = Signer().post(text_msg(GUARD, "上报 东门围墙有人翻入"))

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            first = await asyncio.gather(*(bot.http.post(PATH, params=params, content=body) for _ in range(2)))
            again = [await bot.http.post(PATH, params=params, content=body) for _ in range(2)]
            assert [r.status_code for r in first + again] == [200] * 4
            assert bot.inbox_rows() == 1
            await bot.settle(lambda: bool(fake.texts_to(GUARD)))
        async with running(wecom, searcher, fake) as bot:  # a restart: same database, new process
            assert (await bot.http.post(PATH, params=params, content=body)).status_code == 200
            assert bot.inbox_rows() == 1
            await bot.settle(lambda: True)
            with bot.serving.app.services.sessions() as session:
                assert len(session.scalars(select(Record)).all()) == 1
        assert len(fake.texts_to(GUARD)) == 1

    asyncio.run(scenario())


def test_two_events_in_the_same_second_are_both_handled(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            for key in ("help", "whoami"):
                response = await bot.post(event(GUARD, "click", key, create_time="1764200000"))
                assert response.status_code == 200
            retry = await bot.post(event(GUARD, "click", "help", create_time="1764200000"))
            assert retry.status_code == 200
            assert bot.inbox_rows() == 2
            await bot.settle(lambda: len(fake.texts_to(GUARD)) >= 2)
        replies = fake.texts_to(GUARD)
        assert len(replies) == 2 and any("张保安" in r for r in replies)

    asyncio.run(scenario())


def test_the_200_goes_out_while_the_handler_is_still_blocked(wecom: Settings, fake: FakeWeCom,
                                                             searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)
    channel = build_channel(wecom)
    release, entered = threading.Event(), threading.Event()
    real_prepare = channel.prepare
    assert real_prepare is not None

    async def blocked(msg: Inbound) -> Inbound:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        return await real_prepare(msg)

    channel.prepare = blocked

    async def scenario() -> None:
        async with running(wecom, searcher, fake, channel) as bot:
            response = await bot.post(text_msg(GUARD, "帮助"))
            assert (response.status_code, response.text) == (200, "")
            await asyncio.to_thread(entered.wait, 10)  # the worker is inside the handler now
            assert entered.is_set() and fake.sent == []
            release.set()
            await bot.settle(lambda: bool(fake.texts_to(GUARD)))

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_location_reports_and_unknown_types_are_acknowledged_not_stored(wecom: Settings, fake: FakeWeCom,
                                                                       searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            for fields in (
                event(GUARD, "LOCATION", Latitude="23.1", Longitude="113.3", Precision="30"),
                event(GUARD, "brand_new_event"),
                {**text_msg(GUARD, ""), "MsgType": "brand_new_type"},
                event(GUARD, "unsubscribe"),
            ):
                response = await bot.post(fields)
                assert (response.status_code, response.text) == (200, "")
            assert bot.inbox_rows() == 0

    asyncio.run(scenario())


def test_greeting_menu_and_strangers(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            await bot.post(event(GUARD, "enter_agent", create_time="1764200001"))
            await bot.post(event(GUARD, "click", "report", create_time="1764200002"))
            await bot.post(text_msg("stranger01", "你好"))
            await bot.settle(lambda: len(fake.texts_to(GUARD)) >= 2 and bool(fake.texts_to("stranger01")))
        greet, report = fake.texts_to(GUARD)
        assert "张保安" in greet
        assert texts.REP_ASK_WHAT in report
        assert "邀请码" in fake.texts_to("stranger01")[0]

    asyncio.run(scenario())


def test_guided_report_with_numbered_choices_photos_and_escalation(wecom: Settings, fake: FakeWeCom,
                                                                  searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)
    register(wecom, "李班长", "manager", MANAGER, level=1)
    fake.media["MEDIA-OK"] = (JPEG, "image/jpeg")

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            async def say(fields: dict[str, str]) -> str:
                before = len(fake.texts_to(GUARD))
                assert (await bot.post(fields)).status_code == 200
                await bot.settle(lambda: len(fake.texts_to(GUARD)) > before)
                return fake.texts_to(GUARD)[-1]

            assert texts.REP_ASK_WHAT in await say(text_msg(GUARD, "上报"))
            where = await say(text_msg(GUARD, "东门围墙有人翻入"))
            assert "回复数字选择：1. 跳过" in where
            urgency = await say(text_msg(GUARD, "1"))  # → 跳过
            assert "回复数字选择：1. 一般 2. 紧急" in urgency
            assert texts.REP_ASK_MEDIA in await say(text_msg(GUARD, "２"))  # full-width 2 → 紧急
            image = {**text_msg(GUARD, ""), "MsgType": "image", "PicUrl": "http://example/p.jpg"}
            await say({**image, "MediaId": "MEDIA-OK"})
            summary = await say({**image, "MediaId": "MEDIA-EXPIRED", "MsgId": "88"})  # JSON error with 200
            assert "照片2张" in summary and "紧急" in summary and "1. 确认 2. 取消" in summary
            filed = await say(text_msg(GUARD, "1"))  # → 确认
            assert "已上报" in filed
            with bot.serving.app.services.sessions() as session:
                [record] = session.scalars(select(Record)).all()
                refs = [(a.kind, a.channel, a.ref) for a in record.attachments]
                assert record.urgent and record.location is None
            await bot.settle(lambda: bool(fake.texts_to(MANAGER)))
        stored = wecom.data_dir / refs[0][2]
        assert refs[0][2].startswith("media/") and refs[0][2].endswith(".jpg") and stored.read_bytes() == JPEG
        assert refs[1] == ("photo", "wecom", "MEDIA-EXPIRED")
        [alert] = fake.texts_to(MANAGER)
        assert "SJ-" in alert and "回复数字选择：1. 收到 2. 指派 3. 查看" in alert

    asyncio.run(scenario())


def test_a_manager_acknowledges_by_number(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    register(wecom, "张保安", "guard", GUARD)
    register(wecom, "李班长", "manager", MANAGER, level=1)

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            await bot.post(text_msg(GUARD, "上报 东门围墙有人翻入，急"))
            await bot.settle(lambda: bool(fake.texts_to(MANAGER)))
            await bot.post(text_msg(MANAGER, "1"))  # 收到 → /ack SJ-…
            await bot.settle(lambda: len(fake.texts_to(MANAGER)) >= 2)
            with bot.serving.app.services.sessions() as session:
                [record] = session.scalars(select(Record)).all()
                assert record.acked_at is not None
            # A number with no buttons to answer (a stranger's chat) passes through unchanged.
            assert bot.channel.map_choice(Inbound("wecom", "nobody", "nobody", "1")).text == "1"

    asyncio.run(scenario())


def test_percent_encoding_is_decoded_once(wecom: Settings, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    """%252B must stay "%2B" after one decode: it is not a "+" (never double-decode)."""
    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            doubled = quote(quote(ECHO["echostr"], safe=""), safe="")
            url = (f"{PATH}?msg_signature={ECHO['msg_signature']}&timestamp={ECHO['timestamp']}"
                   f"&nonce={ECHO['nonce']}&echostr={doubled}")
            assert (await bot.http.get(url)).status_code == 403

    asyncio.run(scenario())


def test_build_channel_refuses_incomplete_settings(tmp_path: Path, fake: FakeWeCom) -> None:
    from bot.channels.base import ChannelConfigError

    with pytest.raises(ChannelConfigError, match="WECOM_SECRET、WECOM_TOKEN"):
        build_channel(Settings.explicit(data_dir=tmp_path, wecom_corp_id=CORP_ID, wecom_agent_id=1,
                                        wecom_encoding_aes_key=AES_KEY))
    for key in (AES_KEY[:42], AES_KEY + "x", AES_KEY[:42] + "!"):
        with pytest.raises(ChannelConfigError, match="43 位"):
            build_channel(wecom_settings(tmp_path, fake, wecom_encoding_aes_key=key))
    assert httpx  # the client library the channel is built on


def test_a_message_that_cannot_be_stored_gets_503_so_wecom_retries(wecom: Settings, fake: FakeWeCom,
                                                                  searcher) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from bot.storage.models import InboxMessage

    async def scenario() -> None:
        async with running(wecom, searcher, fake) as bot:
            with bot.serving.app.engine.begin() as conn:  # the inbox is gone: nothing can be stored
                conn.execute(text(f"ALTER TABLE {InboxMessage.__tablename__} RENAME TO inbox_away"))
            response = await bot.post(text_msg(GUARD, "帮助"))
            assert response.status_code == 503 and "Traceback" not in response.text
            with bot.serving.app.engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE inbox_away RENAME TO {InboxMessage.__tablename__}"))

    asyncio.run(scenario())
