"""交接班记录 through the real core and database (SQLite and PostgreSQL): open incidents listed and
stored, the last handover shown, the short dialog, managers told, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.core import texts
from bot.storage.models import Dialog, Handover, Record
from tests.bot.test_report import add_person
from tests.support import Clock, RecordingChannel, say

GUARD = "u-张保安"
NIGHT = "u-刘更夫"


@pytest.fixture()
def desk(app: App) -> App:
    add_person(app, "张保安", "guard")
    add_person(app, "刘更夫", "guard")
    add_person(app, "周客服", "clerk")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "孙经理", "manager")
    add_person(app, "赵管理", "admin")
    return app


def tell(app: App, text: str, sender: str = GUARD, **kw: object) -> str:
    replies = say(app, sender, text, chat=f"chat-{sender.removeprefix('u-')}", **kw)  # type: ignore[arg-type]
    return "\n".join(out.text for out in replies)


def handovers(app: App) -> list[Handover]:
    with app.services.sessions() as session:
        return list(session.scalars(select(Handover).order_by(Handover.id)).all())


def dialog_of(app: App, sender: str = GUARD) -> Dialog | None:
    with app.services.sessions() as session:
        return session.get(Dialog, ("test", sender))


def set_status(app: App, number: str, status: str) -> None:
    with app.services.sessions.begin() as session:
        session.execute(update(Record).where(Record.number == number).values(status=status))


def test_handover_lists_the_open_incidents(desk: App, channel: RecordingChannel, clock: Clock) -> None:
    tell(desk, "/report 东门围墙有人翻入")  # SJ-…-001
    tell(desk, "/report 3号楼配电房着火了")  # SJ-…-002, urgent
    tell(desk, "/report 车库灯坏了")  # SJ-…-003, closed below
    tell(desk, "/complain 电梯停运", sender="u-周客服")  # a complaint: not an incident
    set_status(desk, "SJ-20261127-001", "resolved")  # resolved but not closed: still open
    set_status(desk, "SJ-20261127-003", "closed")
    channel.clear()
    clock.advance(hours=10)  # 20:00

    reply = tell(desk, "/handover 本班巡逻三次，东门围墙需要加装铁丝网")
    [item] = handovers(desk)
    assert item.content == "本班巡逻三次，东门围墙需要加装铁丝网"
    assert item.open_numbers == "SJ-20261127-001,SJ-20261127-002"
    assert item.author.name == "张保安" and item.created_at == clock.now
    assert "交接班已记录（11月27日 20:00）" in reply
    assert "未办结的事件（2 件）" in reply
    assert "SJ-20261127-001 已解决" in reply and "SJ-20261127-002 登记 紧急" in reply
    assert "SJ-20261127-003" not in reply and "TS-" not in reply
    # Managers (not the admin, not the guards) are told.
    assert "孙经理" in reply and "李班长" in reply
    for name in ("李班长", "孙经理"):
        [note] = channel.texts_to(f"chat-{name}")
        assert "【交接班】张保安（保安）" in note and "铁丝网" in note and "SJ-20261127-002" in note
    assert channel.texts_to("chat-赵管理") == [] and channel.texts_to("chat-刘更夫") == []


def test_handover_alone_shows_the_last_one_and_takes_the_next(desk: App, channel: RecordingChannel,
                                                              clock: Clock) -> None:
    reply = tell(desk, "交接班")
    assert texts.HO_NONE_YET in reply and texts.HO_OPEN_NONE in reply and texts.HO_ASK_CONTENT in reply
    tell(desk, "取消")
    tell(desk, "/handover 白班正常，无异常")
    tell(desk, "/report 西门有可疑人员徘徊")
    clock.advance(hours=12)

    reply = tell(desk, "交接班", sender=NIGHT)
    assert "上一次交接班：张保安（保安），11月27日 10:00" in reply and "白班正常，无异常" in reply
    assert "SJ-20261127-001 登记 西门有可疑人员徘徊" in reply
    assert dialog_of(desk, NIGHT) is not None
    summary = tell(desk, "夜班巡逻两次\n西门可疑人员已离开", sender=NIGHT)
    assert "请确认交接内容" in summary and "西门可疑人员已离开" in summary
    assert len(handovers(desk)) == 1  # nothing stored before 确认
    channel.clear()
    reply = tell(desk, "确认", sender=NIGHT)
    assert "交接班已记录（11月27日 22:00）" in reply
    last = handovers(desk)[-1]
    assert (last.content, last.open_numbers) == ("夜班巡逻两次\n西门可疑人员已离开", "SJ-20261127-001")
    assert last.author.name == "刘更夫" and dialog_of(desk, NIGHT) is None
    assert len(channel.texts_to("chat-孙经理")) == 1


def test_handover_bad_input_and_cancel(desk: App) -> None:
    tell(desk, "/handover")
    assert texts.HO_CONTENT_UNCLEAR in tell(desk, "👍👍")
    tell(desk, "本班正常")
    assert tell(desk, "不") == texts.HO_CANCELLED
    assert tell(desk, "/handover 🙂") == texts.HO_CONTENT_UNCLEAR
    assert dialog_of(desk) is not None
    tell(desk, "/cancel")
    assert handovers(desk) == []


def test_handover_roles(desk: App) -> None:
    tell(desk, "/handover 客服白班交接：3 个投诉待回访", sender="u-周客服")
    tell(desk, "/handover 经理值班正常", sender="u-孙经理")
    assert [h.author.name for h in handovers(desk)] == ["周客服", "孙经理"]
    assert tell(desk, "/handover 正常", sender="u-nobody") == texts.STRANGER
    assert len(handovers(desk)) == 2
