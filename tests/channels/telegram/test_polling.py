"""End to end in polling mode: the real python-telegram-bot Application long-polls the fake Bot API,
dutybot's inbox, core, outbox and dispatcher handle it, and the answers arrive as Bot API calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core import texts
from bot.core.messages import Outbound
from bot.outbox import enqueue
from bot.settings import Settings
from bot.staff import create_invite
from bot.storage.models import Account, OutboxMessage, Person
from tests.channels.telegram.support import buttons_of, data_for, register, running, tg_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.support import Clock

GUARD, MANAGER, ADMIN, STRANGER = 1001, 2001, 3001, 4004
GROUP = -1001234567890
SH = ZoneInfo("Asia/Shanghai")
# PTB itself warns about RetryAfter.retry_after's future type when it builds the error.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture()
def tg(tmp_path: Path, fake: FakeTelegram) -> Settings:
    settings = tg_settings(tmp_path / "data", fake)
    register(settings, "张保安", "guard", GUARD)
    register(settings, "李经理", "manager", MANAGER, level=1)
    return settings


def test_a_question_gets_the_rule_with_its_citation_and_menus_are_set(
        tmp_path: Path, fake: FakeTelegram, searcher, db_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = tg_settings(tmp_path / "data", fake, database_url=db_url)
    register(settings, "张保安", "guard", GUARD)

    async def scenario() -> None:
        async with running(settings, searcher, fake) as bot:
            [answer] = await bot.say(fake.message(GUARD, "值班能喝酒吗"), GUARD)
            assert "《" in answer.params["text"] and "》" in answer.params["text"]
            assert "喝酒" in answer.params["text"]
            # No inline buttons on an answer: the guard's reply keyboard of Chinese command words.
            keyboard = answer.params["reply_markup"]["keyboard"]
            assert [b["text"] for row in keyboard for b in row] == ["上报", "签到", "平安", "交接班", "值班表", "帮助"]
            await bot.channel.menus.drain()

    asyncio.run(scenario())
    # Strangers see /start and /help; the guard's own chat gets the guard's commands, in Chinese.
    default = fake.commands["default"]
    assert [c["command"] for c in default] == ["start", "help"]
    guard_menu = {c["command"]: c["description"] for c in fake.commands[f"chat:{GUARD}"]}
    assert guard_menu["report"] == "上报事件" and guard_menu["checkin"] == "上班签到"
    assert "export" not in guard_menu and "start" not in guard_menu
    assert fake.calls_to("deleteWebhook")  # polling removes any webhook first


def test_guided_report_with_buttons_and_a_photo_reaches_the_manager(tg: Settings, fake: FakeTelegram,
                                                                    searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            [ask] = await bot.say(fake.message(GUARD, "/report"), GUARD)
            assert texts.REP_ASK_WHAT in ask.params["text"]
            [where] = await bot.say(fake.message(GUARD, "东门围墙有人翻入"), GUARD)
            assert texts.REP_ASK_WHERE in where.params["text"]
            [urgency] = await bot.press(GUARD, where, "跳过")
            assert [label for label, _ in buttons_of(urgency)] == ["一般", "紧急"]
            assert all(data.startswith("o") and len(data.encode()) <= 64 for _, data in buttons_of(urgency))
            [media] = await bot.press(GUARD, urgency, "紧急")
            assert texts.REP_ASK_MEDIA in media.params["text"]
            # A photo with no text at all is attached, not lost.
            [summary] = await bot.say(fake.photo_message(GUARD, "AgACAgUAAxkBAAIBp2"), GUARD)
            assert "照片1张" in summary.params["text"] and "紧急" in summary.params["text"]
            assert [label for label, _ in buttons_of(summary)] == ["确认", "取消"]
            before = len(fake.messages_to(MANAGER))
            [filed] = await bot.press(GUARD, summary, "确认")
            assert "已上报，编号 SJ-" in filed.params["text"]
            [record] = bot.records()
            assert (record.content, record.urgent) == ("东门围墙有人翻入", True)
            assert [(a.kind, a.channel, a.ref) for a in record.attachments] == [("photo", "telegram", "AgACAgUAAxkBAAIBp2")]

            await bot.settle(lambda: len(fake.messages_to(MANAGER)) > before)
            notice = next(c for c in fake.messages_to(MANAGER) if record.number in c.params["text"])
            assert [label for label, _ in buttons_of(notice)] == ["收到", "指派", "查看"]
            # The manager presses 收到: the core gets "/ack SJ-…" and the record is acknowledged.
            [acked] = await bot.press(MANAGER, notice, "收到")
            assert record.number in acked.params["text"]
            assert bot.records()[0].status != "new"
            # Every press was answered (spinners stop); an answered question lost its buttons.
            await bot.channel.receiver.close()  # type: ignore[union-attr]
            assert len(fake.calls_to("answerCallbackQuery")) == 4
            edits = [c.params["text"] for c in fake.calls_to("editMessageText")]
            assert any(t.endswith("✅ 已选：紧急") for t in edits) and any(t.endswith("✅ 已选：确认") for t in edits)

    asyncio.run(scenario())


def test_a_button_pressed_in_another_chat_or_unknown_is_refused_with_a_toast(
        tg: Settings, fake: FakeTelegram, searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            await bot.say(fake.message(GUARD, "上报"), GUARD)
            [where] = await bot.say(fake.message(GUARD, "车库有人撬车门"), GUARD)
            rows_before = bot.inbox_rows()
            # The manager's client forges a press of the guard's button in the manager's own chat.
            forged = dict(where.params["_result"], chat=fake.chat(MANAGER))
            fake.inject(fake.callback(MANAGER, data_for(where, "跳过"), forged))
            fake.inject(fake.callback(GUARD, "o999999.0", where))  # no such outbox row
            fake.inject(fake.callback(GUARD, "garbage", where))
            await bot.settle(lambda: len(fake.calls_to("answerCallbackQuery")) >= 3)
            assert {c.params.get("text") for c in fake.calls_to("answerCallbackQuery")} == {"这个按钮已失效，请重新发送命令。"}
            assert bot.inbox_rows() == rows_before

    asyncio.run(scenario())


def test_export_arrives_as_documents(tg: Settings, fake: FakeTelegram, searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            await bot.say(fake.message(GUARD, "/report 东门围墙有人翻入"), GUARD)
            fake.inject(fake.message(MANAGER, "导出"))
            await bot.settle(lambda: len(fake.documents_to(MANAGER)) >= 2)

    asyncio.run(scenario())
    (csv_name, csv_bytes), (xlsx_name, xlsx_bytes) = fake.documents_to(MANAGER)
    assert csv_name.endswith(".csv") and xlsx_name.endswith(".xlsx")
    assert "东门围墙有人翻入" in csv_bytes.decode("utf-8-sig")
    assert xlsx_bytes[:2] == b"PK"
    captions = [c.params.get("caption", "") for c in fake.calls_to("sendDocument")]
    assert "共 1 条记录" in captions[0]


def test_start_with_an_invite_code_registers_and_sets_the_menu(tg: Settings, fake: FakeTelegram,
                                                               searcher) -> None:  # type: ignore[no-untyped-def]
    from bot.storage.db import make_engine, session_factory

    engine = make_engine(tg.db_url)
    with session_factory(engine).begin() as session:
        code = create_invite(session, name="周客服", role="clerk", now=datetime.now(UTC)).code
    engine.dispose()

    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            [refusal] = await bot.say(fake.message(STRANGER, "你好"), STRANGER)
            assert refusal.params["text"] == texts.STRANGER
            assert refusal.params["reply_markup"] == {"remove_keyboard": True}  # strangers get no buttons
            [welcome] = await bot.say(fake.message(STRANGER, f"/start {code}"), STRANGER)
            assert "周客服" in welcome.params["text"]
            words = [b["text"] for row in welcome.params["reply_markup"]["keyboard"] for b in row]
            assert "投诉" in words and "上报" not in words  # the clerk's keyboard
            await bot.channel.menus.drain()
            assert "complain" in [c["command"] for c in fake.commands[f"chat:{STRANGER}"]]
            with bot.app.services.sessions() as session:
                account = session.scalar(select(Account).where(Account.external_id == str(STRANGER)))
                assert account is not None and account.person.role == "clerk"

    asyncio.run(scenario())


def test_the_same_update_polled_again_after_a_crash_is_handled_once(tg: Settings, fake: FakeTelegram,
                                                                    searcher) -> None:  # type: ignore[no-untyped-def]
    update = fake.message(GUARD, "/report 南门栏杆被撞坏")

    async def first() -> None:
        async with running(tg, searcher, fake) as bot:
            update_id = fake.inject(update)
            await bot.settle(lambda: len(fake.messages_to(GUARD)) >= 1)
            update["update_id"] = update_id

    async def after_restart() -> None:
        # Telegram had not seen the confirmation (crash): the new process polls the same update.
        fake.inject(update)
        async with running(tg, searcher, fake) as bot:
            await bot.settle(lambda: fake.pending_updates() == 0)
            await bot.settle(lambda: bot.inbox_rows() == 1)
            await asyncio.sleep(0.2)
            await bot.settle(lambda: True)
            assert len(bot.records()) == 1

    asyncio.run(first())
    asyncio.run(after_restart())
    assert len(fake.messages_to(GUARD)) == 1


def test_group_chat_answers_commands_and_mentions_only(tg: Settings, fake: FakeTelegram,
                                                       searcher) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            fake.inject(fake.message(GUARD, "值班能喝酒吗", chat_id=GROUP, chat_type="supergroup"))
            fake.inject(fake.message(GUARD, "/help@some_other_bot", chat_id=GROUP, chat_type="supergroup"))
            [helped] = await bot.say(fake.message(GUARD, f"/help@{fake.bot['username']}", chat_id=GROUP,
                                                  chat_type="supergroup"), GROUP)
            assert "上报" in helped.params["text"]
            assert "keyboard" not in (helped.params.get("reply_markup") or {})  # no reply keyboard in groups
            [answer] = await bot.say(fake.message(GUARD, f"@{fake.bot['username']} 值班能喝酒吗", chat_id=GROUP,
                                                  chat_type="supergroup"), GROUP)
            assert "《" in answer.params["text"]
            assert bot.inbox_rows() == 2  # the plain text and the other bot's command were not taken

    asyncio.run(scenario())


def test_long_text_is_split_within_telegram_limits(tg: Settings, fake: FakeTelegram,
                                                   searcher) -> None:  # type: ignore[no-untyped-def]
    text = "\n\n".join(f"第{i}条：" + "夜间巡逻每两小时一次，发现异常立即上报值班经理，并做好记录。" * 12
                       for i in range(30))
    assert len(text) > 2 * 4096

    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            with bot.app.services.sessions.begin() as session:
                enqueue(session, Outbound("telegram", str(GUARD), text), now=datetime.now(UTC))
            await bot.settle(lambda: len(fake.messages_to(GUARD)) >= 3)

    asyncio.run(scenario())
    parts = [c.params["text"] for c in fake.messages_to(GUARD)]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text  # cut at paragraph boundaries, nothing lost
    assert all(p.endswith("记录。") for p in parts)
    # The reply keyboard goes on the last part only.
    assert [("reply_markup" in c.params) for c in fake.messages_to(GUARD)] == [False, False, True]


def test_flood_control_server_error_and_blocked_user(tg: Settings, fake: FakeTelegram,
                                                     searcher) -> None:  # type: ignore[no-untyped-def]
    register(tg, "王管理员", "admin", ADMIN)

    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            # 429 with retry_after: the channel waits, then the message goes out.
            fake.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1, methods=["sendMessage"])
            fake.inject(fake.message(GUARD, "值班能喝酒吗"))
            await bot.settle(lambda: len(fake.messages_to(GUARD)) == 1, timeout=15)
            # 500 from the Bot API: retried.
            fake.fail_next(2, 500, "Internal Server Error", methods=["sendMessage"])
            fake.inject(fake.message(GUARD, "几点关大门"))
            await bot.settle(lambda: len(fake.messages_to(GUARD)) == 2, timeout=15)
            # The guard blocks the bot: marked, not retried, and the admin is told.
            fake.blocked.add(GUARD)
            fake.inject(fake.message(GUARD, "值班能打牌吗"))
            await bot.settle(lambda: any("张保安" in t for t in fake.texts_to(ADMIN)), timeout=15)
            with bot.app.services.sessions() as session:
                account = session.scalar(select(Account).where(Account.external_id == str(GUARD)))
                assert account is not None and account.blocked
                failed = session.scalars(select(OutboxMessage).where(OutboxMessage.chat == str(GUARD),
                                                                     OutboxMessage.status == "failed")).all()
                assert len(failed) == 1 and failed[0].attempts == 1
            blocked_sends = [c for c in fake.calls if c.status == 403]
            assert len(blocked_sends) == 1

    asyncio.run(scenario())
    statuses = [c.status for c in fake.calls if c.method == "sendMessage"]
    assert statuses.count(429) == 1 and statuses.count(500) == 2


def test_a_welfare_check_is_answered_with_its_button(tmp_path: Path, fake: FakeTelegram,
                                                     searcher) -> None:  # type: ignore[no-untyped-def]
    from jobs.shifts import run_due

    settings = tg_settings(tmp_path / "data", fake)
    register(settings, "张保安", "guard", GUARD)
    register(settings, "李经理", "manager", MANAGER, level=1)
    clock = Clock()  # 2026-11-27 10:00 in Shanghai

    async def scenario() -> None:
        async with running(settings, searcher, fake, clock=clock) as bot:
            await bot.say(fake.message(MANAGER, "排班 今天 夜班 张保安"), MANAGER)
            clock.now = datetime(2026, 11, 27, 22, 1, tzinfo=SH).astimezone(UTC)
            await asyncio.to_thread(run_due, bot.app, clock.now)
            await bot.settle(lambda: any("【查岗】" in t for t in fake.texts_to(GUARD)))
            ask = next(c for c in fake.messages_to(GUARD) if "【查岗】" in c.params["text"])
            assert [label for label, _ in buttons_of(ask)] == ["平安"]
            [ok] = await bot.press(GUARD, ask, "平安")
            assert "22:01" in ok.params["text"]
            with bot.app.services.sessions() as session:
                assert session.scalar(select(Person).where(Person.name == "张保安")) is not None

    asyncio.run(scenario())


def test_a_complaint_and_an_assignment_by_buttons(tg: Settings, fake: FakeTelegram,
                                                  searcher) -> None:  # type: ignore[no-untyped-def]
    register(tg, "周客服", "clerk", 1002)
    register(tg, "刘保安", "guard", 1003)

    async def scenario() -> None:
        async with running(tg, searcher, fake) as bot:
            [name] = await bot.say(fake.message(1002, "投诉"), 1002)  # the reply keyboard's word
            assert "客户姓名" in name.params["text"]
            [phone] = await bot.press(1002, name, "跳过")
            assert "客户姓名" not in phone.params["text"]

            await bot.say(fake.message(GUARD, "/report 东门围墙有人翻入"), GUARD)
            await bot.settle(lambda: any("SJ-" in t for t in fake.texts_to(MANAGER)))
            notice = next(c for c in fake.messages_to(MANAGER) if "SJ-" in c.params["text"])
            number = bot.records()[0].number
            # 指派 carries "/assign SJ-… " and the core asks for the name; typed, it assigns and tells them.
            [who] = await bot.press(MANAGER, notice, "指派")
            assert f"指派 {number}" in who.params["text"]
            await bot.say(fake.message(MANAGER, f"指派 {number} 刘保安"), MANAGER)
            await bot.settle(lambda: any(number in t for t in fake.texts_to(1003)))
            assert bot.records()[0].assignee.name == "刘保安"  # type: ignore[union-attr]

    asyncio.run(scenario())
