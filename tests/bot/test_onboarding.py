"""Onboarding in chat: `/start CODE` registers or binds an account; strangers are refused politely.

Every test runs through the real core, database (SQLite and PostgreSQL), outbox and dispatcher.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import staff
from bot.app import App, build_app
from bot.core import texts
from bot.core.messages import Inbound
from bot.settings import Settings
from bot.storage.models import Account, Invite, LoginAttempt, Person
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, deliver, say


def _person(app: App, name: str, role: str, sender: str, channel: str = "test") -> int:
    with app.services.sessions.begin() as session:
        person = Person(name=name, role=role)
        session.add(person)
        session.flush()
        session.add(Account(person_id=person.id, channel=channel, external_id=sender, chat_id=sender))
        return person.id


def _invite(app: App, *, role: str | None = "guard", name: str | None = None, hours: int = 72) -> str:
    with app.services.sessions.begin() as session:
        return staff.create_invite(session, now=app.services.clock(), role=role, name=name, hours=hours).code


def _people(app: App) -> list[tuple[str, str, list[tuple[str, str]]]]:
    with app.services.sessions() as session:
        return [
            (p.name, p.role, sorted((a.channel, a.external_id) for a in p.accounts))
            for p in session.scalars(select(Person).order_by(Person.id))
        ]


def _used(app: App) -> list[bool]:
    with app.services.sessions() as session:
        return [i.used_at is not None for i in session.scalars(select(Invite).order_by(Invite.id))]


def _text(replies: list) -> str:  # type: ignore[type-arg]
    return "\n".join(r.text for r in replies)


def test_new_person_registers_with_a_code(app: App, channel: RecordingChannel) -> None:
    _person(app, "王总", "admin", "admin-1")
    code = _invite(app, role="guard", name="张三")
    replies = say(app, "tg-user-1", f"/start {code}")
    reply = _text(replies)
    assert reply.startswith("注册成功！您是 张三（保安）。")
    assert "上报" in reply and "交接班" in reply  # the guard's commands
    assert "导出" not in reply  # not the manager's
    assert _people(app)[1] == ("张三", "guard", [("test", "tg-user-1")])
    assert _used(app) == [True]
    with app.services.sessions() as session:
        invite = session.scalars(select(Invite)).one()
        account = session.scalars(select(Account).where(Account.external_id == "tg-user-1")).one()
        assert invite.used_by == account.id and account.chat_id == "tg-user-1"
    assert channel.texts_to("admin-1") == ["张三 已通过邀请码注册为保安（test）。"]
    # and from now on they are somebody
    assert _text(say(app, "tg-user-1", "我是谁")).startswith("您是 张三（保安）")


def test_codes_are_typed_loosely(app: App) -> None:
    code = _invite(app, role="clerk", name="李四")
    loose = f"{code[:3].lower()} {code[3:6]}-{code[6:].lower()}"
    assert _text(say(app, "wx-1", f"开始 {loose}")).startswith("注册成功！您是 李四（客服）。")


def test_the_name_comes_from_the_invite_else_the_chat_name_else_a_placeholder(app: App) -> None:
    code = _invite(app, role="guard")
    app.core.handle(Inbound(channel="test", sender="u-1", chat="u-1", text=f"/start {code}",
                            sender_name="赵六"))
    deliver(app)
    code = _invite(app, role="clerk")
    reply = _text(say(app, "u-2", f"/start {code}"))
    people = _people(app)
    assert people[0][:2] == ("赵六", "guard")
    placeholder = people[1][0]
    assert placeholder.startswith("新同事") and people[1][1] == "clerk"
    assert f"您是 {placeholder}（客服）" in reply


def test_wrong_used_and_expired_codes_get_one_generic_reply(app: App, clock: Clock) -> None:
    good = _invite(app, name="张三")
    assert _text(say(app, "u-1", f"/start {good}")).startswith("注册成功")
    used = _text(say(app, "u-2", f"/start {good}"))
    wrong = _text(say(app, "u-3", "/start ABCDE-FGHJK"))
    garbage = _text(say(app, "u-4", "/start 你好"))
    late = _invite(app, name="李四")
    clock.advance(hours=72)
    expired = _text(say(app, "u-5", f"/start {late}"))
    assert used == wrong == garbage == expired == texts.INVITE_INVALID
    assert [p[0] for p in _people(app)] == ["张三"]
    assert _used(app) == [True, False]
    with app.services.sessions() as session:
        wrong_attempts = session.scalars(
            select(LoginAttempt.external_id).where(LoginAttempt.ok.is_(False)).order_by(LoginAttempt.id)
        ).all()
    assert wrong_attempts == ["u-2", "u-3", "u-4", "u-5"]


def test_a_code_works_until_it_expires(app: App, clock: Clock) -> None:
    code = _invite(app, name="张三", hours=72)
    clock.advance(hours=71, minutes=59)
    assert _text(say(app, "u-1", f"/start {code}")).startswith("注册成功")


def test_repeated_wrong_codes_are_throttled(app: App, clock: Clock) -> None:
    code = _invite(app, name="张三")
    for n in range(staff.MAX_WRONG_CODES):
        clock.advance(minutes=1)
        assert _text(say(app, "guesser", f"/start WRONG{n:05d}")) == texts.INVITE_INVALID
    # now even the right code is not looked at …
    assert _text(say(app, "guesser", f"/start {code}")) == "尝试次数太多，请 15 分钟后再试。"
    assert _used(app) == [False]
    # … and throttled tries are not written down (spam cannot flood the table)
    with app.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == staff.MAX_WRONG_CODES
    # another account is not affected; the guesser may try again once the window has passed
    other = _invite(app, name="李四")
    assert _text(say(app, "someone-else", f"/start {other}")).startswith("注册成功")
    clock.advance(minutes=15)
    assert _text(say(app, "guesser", f"/start {code}")).startswith("注册成功！您是 张三")


def test_strangers_are_refused_and_logged(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.core.identity")
    assert _text(say(app, "nobody", "值班能喝酒吗")) == texts.STRANGER
    assert _text(say(app, "nobody", "/start")) == texts.STRANGER
    assert _text(say(app, "nobody", "我是谁")) == texts.STRANGER
    assert any("nobody" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert _people(app) == []
    with app.services.sessions() as session:  # a log line, not a table row per spam message
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_a_deactivated_person_is_refused(app: App) -> None:
    pid = _person(app, "张三", "guard", "u-1")
    assert _text(say(app, "u-1", "我是谁")).startswith("您是 张三")
    with app.services.sessions.begin() as session:
        staff.deactivate(session, str(pid))
    assert _text(say(app, "u-1", "我是谁")) == texts.STRANGER
    assert _text(say(app, "u-1", "/start")) == texts.STRANGER
    # a fresh code does not bring the account back (the admin reactivates the person instead)
    code = _invite(app, name="张三二")
    assert _text(say(app, "u-1", f"/start {code}")) == texts.ACCOUNT_DEACTIVATED
    assert _used(app) == [False]
    # a bind code for a deactivated person is dead too
    with app.services.sessions.begin() as session:
        staff.activate(session, str(pid))
    bind = _invite(app, role=None, name=str(pid))
    with app.services.sessions.begin() as session:
        staff.deactivate(session, str(pid))
    assert _text(say(app, "u-2", f"/start {bind}")) == texts.INVITE_INVALID


def test_registered_accounts_are_welcomed_back_and_never_use_up_codes(app: App) -> None:
    zhang = _person(app, "张三", "guard", "u-1")
    _person(app, "李四", "clerk", "u-2")
    assert _text(say(app, "u-1", "/start")) == "张三您好，您已经是保安，不需要再注册。发“帮助”查看我能做什么。"
    bind = _invite(app, role=None, name=str(zhang))
    assert _text(say(app, "u-1", f"/start {bind}")).startswith("已绑定")
    # someone else's account cannot take 张三's bind code, nor a new-person code
    assert "已经注册为 李四（客服）" in _text(say(app, "u-2", f"/start {bind}"))
    fresh = _invite(app, role="guard", name="王五")
    assert "已经注册为 李四（客服）" in _text(say(app, "u-2", f"/start {fresh}"))
    assert _used(app) == [False, False]
    # both codes still work for the accounts they were meant for
    assert _text(say(app, "u-3", f"/start {bind}")).startswith("绑定成功")
    assert _text(say(app, "u-4", f"/start {fresh}")).startswith("注册成功！您是 王五")
    assert _people(app)[0] == ("张三", "guard", [("test", "u-1"), ("test", "u-3")])


def test_two_accounts_racing_for_one_code_one_wins(app: App) -> None:
    code = _invite(app, name="张三")
    barrier = threading.Barrier(2)
    replies: dict[str, str] = {}

    def redeem(sender: str) -> None:
        barrier.wait()
        replies[sender] = _text(app.core.handle(Inbound(channel="test", sender=sender, chat=sender,
                                                        text=f"/start {code}")))

    threads = [threading.Thread(target=redeem, args=(s,)) for s in ("u-1", "u-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.startswith("注册成功") for r in replies.values()) == [False, True]
    assert texts.INVITE_INVALID in replies.values()
    assert [p[0] for p in _people(app)] == ["张三"]


def test_codes_sent_in_a_group_are_not_used(app: App) -> None:
    code = _invite(app, name="张三")
    replies = app.core.handle(Inbound(channel="test", sender="u-1", chat="group-9", text=f"/start {code}",
                                      is_group=True))
    deliver(app)
    assert _text(replies) == texts.INVITE_IN_GROUP
    assert _used(app) == [False]
    assert _text(say(app, "u-1", f"/start {code}")).startswith("注册成功")


# --- two real channels: one person, two accounts -------------------------------------------------


TwoChannels = tuple[App, RecordingChannel, RecordingChannel]


@pytest.fixture()
def two_channel_app(db_url: str, searcher, clock: Clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    telegram, wecom = RecordingChannel("telegram"), RecordingChannel("wecom")
    settings = Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path / "data2", database_url=db_url)
    app = build_app(settings, searcher=searcher, senders={"telegram": telegram, "wecom": wecom}, clock=clock)
    yield app, telegram, wecom
    app.engine.dispose()


def test_binding_a_second_channel_keeps_one_person(two_channel_app: TwoChannels) -> None:
    app, telegram, wecom = two_channel_app
    with app.services.sessions.begin() as session:
        boss = staff.add_person(session, name="王总", role="admin", now=app.services.clock(), telegram_id=100)
        boss_id = boss.id
    bind = _invite(app, role=None, name="王总")
    replies = say(app, "wangzong", f"/start {bind}", channel="wecom")
    assert _text(replies).startswith("绑定成功！这个企业微信账号已绑定到 王总（管理员）")
    assert wecom.texts_to("wangzong")[0].startswith("绑定成功")
    assert _people(app) == [("王总", "admin", [("telegram", "100"), ("wecom", "wangzong")])]
    assert "已绑定：telegram、wecom" in _text(say(app, "wangzong", "我是谁", channel="wecom"))
    assert "已绑定：telegram、wecom" in _text(say(app, "100", "我是谁", channel="telegram"))
    # a notification to 王总 goes to the first active channel (Telegram), once
    telegram.clear()
    wecom.clear()
    guard = _invite(app, role="guard", name="张三")
    assert _text(say(app, "zhangsan", f"/start {guard}", channel="wecom")).startswith("注册成功")
    assert telegram.texts_to("100") == ["张三 已通过邀请码注册为保安（企业微信）。"]
    assert wecom.texts_to("wangzong") == []
    with app.services.sessions() as session:
        assert session.get(Person, boss_id).accounts  # type: ignore[union-attr]


def test_a_bound_account_cannot_take_another_persons_code(two_channel_app: TwoChannels) -> None:
    app, _telegram, _wecom = two_channel_app
    with app.services.sessions.begin() as session:
        now = app.services.clock()
        staff.add_person(session, name="张三", role="guard", now=now, telegram_id=1)
        staff.add_person(session, name="李四", role="guard", now=now, telegram_id=2)
    bind = _invite(app, role=None, name="李四")
    reply = _text(say(app, "1", f"/start {bind}", channel="telegram"))
    assert "已经注册为 张三（保安）" in reply
    assert _people(app)[1] == ("李四", "guard", [("telegram", "2")])
    assert _used(app) == [False]
