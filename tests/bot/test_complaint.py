"""投诉登记 through the real core and database (SQLite and PostgreSQL): direct filing, the guided flow,
due dates from the configured categories, bad input, roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.app import App
from bot.core import texts
from bot.core.handlers.complaint import looks_like_phone
from bot.storage.models import Dialog, Record
from jobs.workdays import categories
from tests.bot.test_report import add_person
from tests.conftest import SEEDS
from tests.support import RecordingChannel, say

CLERK = "u-周客服"
GUARD = "u-张保安"


@pytest.fixture()
def desk(app: App) -> App:
    add_person(app, "周客服", "clerk")
    add_person(app, "张保安", "guard")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "王科长", "manager", 2)
    return app


def tell(app: App, text: str, sender: str = CLERK, **kw: object) -> str:
    replies = say(app, sender, text, chat=f"chat-{sender.removeprefix('u-')}", **kw)  # type: ignore[arg-type]
    return "\n".join(out.text for out in replies)


def complaints(app: App) -> list[Record]:
    with app.services.sessions() as session:
        query = select(Record).where(Record.kind == "complaint").order_by(Record.id)
        return list(session.scalars(query).all())


def dialog_of(app: App, sender: str = CLERK) -> Dialog | None:
    with app.services.sessions() as session:
        return session.get(Dialog, ("test", sender))


def test_phone_check_is_light() -> None:
    for ok in ("13800138000", "+86 138-0013-8000", "0769-22223333", "(0769)2222 3333 转 801",
               "１３８００１３８０００"):
        assert looks_like_phone(ok), ok
    for bad in ("abc", "王女士", "12", "138001380001380013800", "微信号"):
        assert not looks_like_phone(bad), bad


def test_complain_with_text_files_at_once(desk: App, channel: RecordingChannel) -> None:
    # Friday 27 November 2026, 10:00 in Shanghai; "其他" is 5 working days: Friday 4 December 17:30.
    reply = tell(desk, "/complain 3号楼电梯经常停运，业主很不满意")
    [record] = complaints(desk)
    assert record.number == "TS-20261127-001"
    assert (record.customer, record.contact, record.category) == (None, None, "其他")
    assert record.due_at == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert record.content == "3号楼电梯经常停运，业主很不满意" and record.status == "new"
    assert "已登记投诉，编号 TS-20261127-001" in reply
    assert "类别：其他，12月4日（周五）17:30前处理完" in reply
    # Level 1 is told (complaints climb no higher by the escalation rules); level 2 is not.
    assert any("TS-20261127-001" in t for t in channel.texts_to("chat-李班长"))
    assert channel.texts_to("chat-王科长") == []
    assert record.next_escalation_at is not None
    # The Chinese word works too.
    tell(desk, "投诉 保安态度不好")
    assert [r.number for r in complaints(desk)] == ["TS-20261127-001", "TS-20261127-002"]


def test_guided_complaint(desk: App) -> None:
    assert texts.CMP_ASK_CUSTOMER in tell(desk, "投诉")
    assert texts.CMP_ASK_CONTACT in tell(desk, "王女士")
    assert texts.CMP_CONTACT_BAD in tell(desk, "不知道号码呢")
    assert texts.CMP_ASK_CONTENT in tell(desk, "138-0013-8000")
    assert texts.CMP_CONTENT_UNCLEAR in tell(desk, "😡😡")
    content = "保安值班时态度恶劣，" + "说明" * 2500
    asked = say(desk, CLERK, content, chat="chat-周客服")[-1]
    names = categories(SEEDS)
    for i, name in enumerate(names, start=1):
        assert f"{i}. {name}" in asked.text
    assert [b.reply for b in asked.buttons] == names
    assert texts.CMP_CATEGORY_UNCLEAR.split("。")[0] in tell(desk, str(len(names) + 1))  # not an option
    assert texts.CMP_CATEGORY_UNCLEAR.split("。")[0] in tell(desk, "态度")
    summary = tell(desk, str(names.index("服务态度") + 1))
    # 服务态度: 3 working days from Friday 27 November → Wednesday 2 December.
    assert "客户：王女士" in summary and "联系方式：138-0013-8000" in summary
    assert "类别：服务态度（12月2日（周三）17:30前处理完）" in summary
    assert complaints(desk) == []  # nothing stored before 确认
    reply = tell(desk, "确认")
    [record] = complaints(desk)
    assert (record.customer, record.contact, record.category) == ("王女士", "138-0013-8000", "服务态度")
    assert record.content == content  # stored whole
    assert record.due_at == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert "TS-20261127-001" in reply and "12月2日（周三）17:30前处理完" in reply
    assert f"（共{len(content)}字）" in reply
    assert dialog_of(desk) is None


def test_guided_complaint_with_skips_and_category_by_name(desk: App) -> None:
    tell(desk, "/complain")
    tell(desk, "跳过")
    tell(desk, "跳过")
    tell(desk, "楼道垃圾三天没人清")
    tell(desk, "环境卫生")
    assert texts.FILE_CONFIRM_UNCLEAR in tell(desk, "嗯？")
    tell(desk, "好")
    [record] = complaints(desk)
    assert (record.customer, record.contact, record.category) == (None, None, "环境卫生")


def test_complaint_cancel_and_photo_and_emoji(desk: App) -> None:
    tell(desk, "/complain")
    tell(desk, "王女士")
    reply = tell(desk, "", attachments=())
    assert texts.CMP_CONTACT_BAD in reply
    from bot.core.messages import Attachment

    reply = tell(desk, "", attachments=(Attachment("photo", "p1"),))
    assert texts.FILE_NO_MEDIA_HERE.format(what="投诉登记") in reply and texts.CMP_ASK_CONTACT in reply
    assert tell(desk, "取消") == texts.DIALOG_LEFT.format(what="投诉登记")
    assert dialog_of(desk) is None
    # Emoji-only direct content: asked step by step instead.
    reply = tell(desk, "/complain 😡")
    assert texts.CMP_START_UNCLEAR in reply and dialog_of(desk).step == "customer"  # type: ignore[union-attr]
    tell(desk, "王先生")
    tell(desk, "跳过")
    tell(desk, "门禁卡办理太慢")
    tell(desk, "1")
    assert tell(desk, "不") == texts.CMP_CANCELLED
    assert complaints(desk) == [] and dialog_of(desk) is None


def test_complaint_roles(desk: App) -> None:
    assert tell(desk, "/complain 态度不好", sender=GUARD) == texts.NOT_ALLOWED
    assert tell(desk, "投诉", sender=GUARD) == texts.NOT_ALLOWED
    assert complaints(desk) == [] and dialog_of(desk, GUARD) is None
    add_person(desk, "孙经理", "manager")
    tell(desk, "/complain 收费不透明", sender="u-孙经理")
    assert [r.category for r in complaints(desk)] == ["其他"]
