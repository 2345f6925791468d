"""Managers follow records to closure, through the real core on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.core import records, texts
from bot.core.lifecycle import split_number
from bot.storage.models import Account, Person, Record, RecordAttachment
from tests.support import Clock, RecordingChannel, say


def add_person(app: App, name: str, role: str, *, key: str | None = None) -> int:
    """A person with an account on the test channel: sender "u-KEY", private chat "chat-KEY"."""
    key = key or name
    with app.services.sessions.begin() as session:
        person = Person(name=name, role=role)
        session.add(person)
        session.flush()
        session.add(Account(person_id=person.id, channel="test", external_id=f"u-{key}",
                            chat_id=f"chat-{key}"))
        return person.id


def file(app: App, author_id: int, content: str = "东门有人翻墙", *, kind: str = "incident",
         urgent: bool = False, **fields: object) -> str:
    """A record as the filing handlers store it, created at the clock's now."""
    now = app.services.clock()
    with app.services.sessions.begin() as session:
        author = session.get(Person, author_id)
        assert author is not None
        record = records.create(session, kind=kind, author=author, content=content, now=now,
                                local_now=now.astimezone(app.services.tz), urgent=urgent, **fields)
        return record.number


def record_of(app: App, number: str) -> Record:
    with app.services.sessions() as session:
        record = records.find(session, number)
        assert record is not None
        session.expunge_all()
        return record


def events_of(app: App, number: str) -> list[tuple[str, str | None, str | None]]:
    """(action, actor name, note) of every event, in order."""
    with app.services.sessions() as session:
        record = records.find(session, number)
        assert record is not None
        return [(e.action, e.actor.name if e.actor else None, e.note) for e in record.events]


def text_of(replies: list) -> str:  # type: ignore[type-arg]
    return "\n".join(out.text for out in replies)


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, "张三", "guard"),
        "guard2": add_person(app, "孙七", "guard"),
        "clerk": add_person(app, "李四", "clerk"),
        "manager": add_person(app, "王经理", "manager"),
        "admin": add_person(app, "赵管理", "admin"),
        "zw_guard": add_person(app, "张伟", "guard", key="zw1"),
        "zw_clerk": add_person(app, "张伟", "clerk", key="zw2"),
    }


MGR = "u-王经理"
GUARD = "u-张三"


# --- numbers


def test_split_number_accepts_loose_forms() -> None:
    assert split_number("sj20261127 3 张伟") == ("SJ-20261127-003", "张伟")
    assert split_number("SJ-20261127-003") == ("SJ-20261127-003", "")
    assert split_number("ｔｓ－20261127－012 客户满意，好\n第二行") == ("TS-20261127-012", "客户满意，好\n第二行")
    assert split_number("张伟 SJ-20261127-003") == (None, "张伟 SJ-20261127-003")


# --- 收到


def test_ack_acknowledges_stops_escalation_and_tells_the_author(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["guard"])
    with app.services.sessions.begin() as session:
        record = records.find(session, number)
        assert record is not None
        record.next_escalation_at = clock.now + timedelta(minutes=15)
    clock.advance(minutes=5)
    replies = say(app, MGR, f"/ack {number.lower().replace('-', '')}")
    assert "已确认收到 SJ-20261127-001" in text_of(replies)
    record = record_of(app, number)
    assert record.status == "acked"
    assert record.acked_by == staff["manager"]
    assert record.acked_at == clock.now
    assert record.next_escalation_at is None
    assert events_of(app, number)[-1] == ("acked", "王经理", None)
    assert any("王经理 确认收到" in t for t in channel.texts_to("chat-张三"))


def test_ack_twice_says_who_already_did(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    number = file(app, staff["guard"])
    say(app, MGR, f"收到 {number}")
    channel.clear()
    replies = say(app, "u-赵管理", f"收到 {number}")
    assert "已经确认过了" in text_of(replies) and "王经理" in text_of(replies)
    assert channel.texts_to("chat-张三") == []
    assert [a for a, _, _ in events_of(app, number)].count("acked") == 1


def test_bad_numbers_get_clear_replies(app: App, staff: dict[str, int]) -> None:
    assert "请写上编号" in text_of(say(app, MGR, "/ack"))
    assert "不是编号" in text_of(say(app, MGR, "/ack 东门那个"))
    assert "“东门”不是编号" in text_of(say(app, MGR, "/ack 东\x00门"))  # echoed safely (PostgreSQL: no NUL)
    assert text_of(say(app, MGR, "/ack SJ-20261127-099")).startswith("没有找到编号 SJ-20261127-099")


def test_guards_cannot_use_manager_commands(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    for line in (f"/ack {number}", "/open", f"/close {number}", f"/assign {number} 李四", "/export"):
        assert text_of(say(app, GUARD, line)) == texts.NOT_ALLOWED
    assert record_of(app, number).status == "new"


# --- incidents: new → acked → in_progress → resolved → closed


def test_incident_lifecycle(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    number = file(app, staff["guard"], "3号楼电梯困人")
    say(app, MGR, f"收到 {number}")
    assert "已改为处理中" in text_of(say(app, MGR, f"处理中 {number} 已通知维保"))
    assert record_of(app, number).status == "in_progress"
    assert "请写上处理结果" in text_of(say(app, MGR, f"解决 {number}"))
    assert record_of(app, number).status == "in_progress"
    say(app, MGR, f"解决 {number} 维保到场，人已救出")
    record = record_of(app, number)
    assert (record.status, record.resolution) == ("resolved", "维保到场，人已救出")
    assert "已经解决了" in text_of(say(app, MGR, f"处理中 {number}"))
    assert record_of(app, number).status == "resolved"
    say(app, MGR, f"关闭 {number}")
    record = record_of(app, number)
    assert record.status == "closed" and record.closed_at is not None
    assert "已经关闭了" in text_of(say(app, MGR, f"关闭 {number}"))
    assert "不能再" in text_of(say(app, MGR, f"解决 {number} 再解决一次"))
    assert [a for a, _, _ in events_of(app, number)] == [
        "created", "acked", "in_progress", "resolved", "closed"]
    told = channel.texts_to("chat-张三")
    assert any("确认收到" in t for t in told)
    assert any("已解决：维保到场" in t for t in told)
    assert any("已关闭" in t for t in told)
    assert not any("处理中" in t for t in told)  # progress updates are not pushed to the author


def test_closing_an_unfinished_incident_needs_a_reason(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    reply = text_of(say(app, MGR, f"关闭 {number}"))
    assert "请写明原因" in reply and "登记" in reply
    assert record_of(app, number).status == "new"
    say(app, MGR, f"关闭 {number} 误报，是业主家的猫")
    record = record_of(app, number)
    assert record.status == "closed"
    assert record.acked_by == staff["manager"]
    assert events_of(app, number)[-1] == ("closed", "王经理", "误报，是业主家的猫")


# --- complaints: 登记 → 受理 → 处理中 → 已解决 → 已回访 → 关闭


def test_complaint_lifecycle(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    number = file(app, staff["clerk"], "前台态度差", kind="complaint", category="服务态度", customer="陈女士")
    assert "还没有受理" in text_of(say(app, MGR, f"处理中 {number}"))
    assert "还没有受理" in text_of(say(app, MGR, f"解决 {number} 已道歉"))
    say(app, MGR, f"受理 {number}")
    assert record_of(app, number).status == "accepted"
    assert "还没有解决" in text_of(say(app, MGR, f"回访 {number} 满意"))
    assert "已经受理过了" in text_of(say(app, MGR, f"受理 {number}"))
    say(app, MGR, f"处理中 {number} 已约谈前台")
    say(app, MGR, f"解决 {number} 已当面道歉")
    assert "回访" in text_of(say(app, MGR, f"回访 {number}"))  # asks for the result
    assert record_of(app, number).status == "resolved"
    reply = text_of(say(app, MGR, f"关闭 {number}"))
    assert "请写明原因" in reply  # not visited yet
    say(app, MGR, f"回访 {number} 客户表示满意")
    assert "已经回访过了" in text_of(say(app, MGR, f"回访 {number} 又一次"))
    say(app, MGR, f"关闭 {number}")
    assert record_of(app, number).status == "closed"
    assert [a for a, _, _ in events_of(app, number)] == [
        "created", "accepted", "in_progress", "resolved", "visited", "closed"]
    told = channel.texts_to("chat-李四")
    assert any("已由 王经理 受理" in t for t in told)
    assert any("已解决：已当面道歉" in t for t in told)
    assert any("已关闭" in t for t in told)


def test_ack_on_a_complaint_accepts_it(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["clerk"], "收费不合理", kind="complaint")
    assert "已受理" in text_of(say(app, MGR, f"收到 {number}"))
    assert record_of(app, number).status == "accepted"


def test_complaint_only_steps_refused_on_incidents(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    assert "受理只用于投诉" in text_of(say(app, MGR, f"受理 {number}"))
    assert "回访只用于投诉" in text_of(say(app, MGR, f"回访 {number} 满意"))
    assert record_of(app, number).status == "new"


# --- 指派


def test_assign_by_unique_name(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["guard"], "地下车库漏水")
    with app.services.sessions.begin() as session:
        record = records.find(session, number)
        assert record is not None
        record.next_escalation_at = clock.now + timedelta(minutes=15)
    replies = say(app, MGR, f"指派 {number} 李四")
    assert "已把 SJ-20261127-001 指派给 李四（客服）" in text_of(replies)
    record = record_of(app, number)
    assert record.assignee_id == staff["clerk"]
    assert record.status == "acked" and record.next_escalation_at is None
    assert [a for a, _, _ in events_of(app, number)][-2:] == ["acked", "assigned"]
    assert any("王经理 指派您处理事件 SJ-20261127-001" in t for t in channel.texts_to("chat-李四"))
    assert any("已指派给 李四 处理" in t for t in channel.texts_to("chat-张三"))
    assert "已经指派给 李四" in text_of(say(app, MGR, f"指派 {number} 李四"))


def test_assign_ambiguous_name_offers_a_numbered_choice(
    app: App, staff: dict[str, int], channel: RecordingChannel
) -> None:
    number = file(app, staff["guard"])
    replies = say(app, MGR, f"/assign {number} 张伟")
    reply = text_of(replies)
    assert "有 2 位叫“张伟”" in reply
    assert "1. 张伟（保安）" in reply and "2. 张伟（客服）" in reply
    assert f"指派 {number} 张伟 1" in reply
    assert [b.reply for b in replies[0].buttons] == [f"/assign {number} 张伟 1", f"/assign {number} 张伟 2"]
    assert record_of(app, number).assignee_id is None
    assert "序号要在 1 到 2 之间" in text_of(say(app, MGR, f"/assign {number} 张伟 3"))
    say(app, MGR, f"/assign {number} 张伟 2")
    assert record_of(app, number).assignee_id == staff["zw_clerk"]
    assert any("指派您处理" in t for t in channel.texts_to("chat-zw2"))
    assert channel.texts_to("chat-zw1") == []


def test_assign_unknown_or_partial_name(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    assert "没有找到叫“刘备”的人员" in text_of(say(app, MGR, f"指派 {number} 刘备"))
    assert "请写上处理人姓名" in text_of(say(app, MGR, f"指派 {number}"))
    reply = text_of(say(app, MGR, f"指派 {number} 李"))
    assert "相近的有" in reply and "1. 李四（客服）" in reply
    assert record_of(app, number).assignee_id is None
    say(app, MGR, f"指派 {number} 李 1")
    assert record_of(app, number).assignee_id == staff["clerk"]


def test_reassign_and_closed_records(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    say(app, MGR, f"指派 {number} 李四")
    say(app, MGR, f"指派 {number} 孙七")
    assert record_of(app, number).assignee_id == staff["guard2"]
    assert events_of(app, number)[-1] == ("assigned", "王经理", "改派给 孙七（原 李四）")
    say(app, MGR, f"关闭 {number} 重复上报")
    assert "已经关闭了" in text_of(say(app, MGR, f"指派 {number} 李四"))
    assert record_of(app, number).assignee_id == staff["guard2"]


def test_assignee_may_work_the_record_but_not_close_it(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    say(app, MGR, f"指派 {number} 孙七")
    assert "已改为处理中" in text_of(say(app, "u-孙七", f"处理中 {number} 在看"))
    assert "已标记解决" in text_of(say(app, "u-孙七", f"解决 {number} 已处理"))
    assert text_of(say(app, "u-孙七", f"关闭 {number}")) == texts.NOT_ALLOWED
    # the author may look and add notes, not change the status
    assert text_of(say(app, GUARD, f"处理中 {number}")) == texts.NOT_ALLOWED
    # someone unrelated does not even learn it exists
    assert text_of(say(app, "u-李四", f"解决 {number} 好了")).startswith("没有找到编号")
    assert record_of(app, number).status == "resolved"


# --- 备注


def test_notes(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    number = file(app, staff["guard"])
    assert "请写上备注内容" in text_of(say(app, MGR, f"备注 {number}"))
    say(app, MGR, f"指派 {number} 孙七")
    channel.clear()
    assert "已给" in text_of(say(app, MGR, f"备注 {number} 记得拍照"))
    assert any("记得拍照" in t for t in channel.texts_to("chat-孙七"))
    assert "已给" in text_of(say(app, GUARD, f"备注 {number} 补充：从东门翻进来的"))
    assert text_of(say(app, "u-李四", f"备注 {number} 路过")).startswith("没有找到编号")
    say(app, MGR, f"备注 {number} 控制\x00字符\x1b\r\n第二行")  # PostgreSQL refuses NUL: dropped
    say(app, MGR, f"关闭 {number} 处理完毕")
    assert "已给" in text_of(say(app, MGR, f"备注 {number} 已通报物业"))
    notes = [(who, n) for a, who, n in events_of(app, number) if a == "note"]
    assert notes == [("王经理", "记得拍照"), ("张三", "补充：从东门翻进来的"), ("王经理", "控制字符\n第二行"),
                     ("王经理", "已通报物业")]


def test_author_note_is_not_an_acknowledgement(app: App, staff: dict[str, int], clock: Clock) -> None:
    number = file(app, staff["guard"])
    with app.services.sessions.begin() as session:
        record = records.find(session, number)
        assert record is not None
        record.next_escalation_at = clock.now + timedelta(minutes=15)
    say(app, GUARD, f"备注 {number} 人还在")
    record = record_of(app, number)
    assert record.acked_at is None and record.next_escalation_at is not None


# --- 待办


def test_open_orders_urgent_then_overdue_then_oldest(app: App, staff: dict[str, int], clock: Clock) -> None:
    start = clock.now
    old = file(app, staff["guard"], "最早的普通事件")
    clock.advance(hours=1)
    overdue = file(app, staff["clerk"], "投诉已超期", kind="complaint", due_at=start + timedelta(hours=2))
    clock.advance(minutes=30)
    not_due = file(app, staff["clerk"], "投诉未到期", kind="complaint", due_at=start + timedelta(days=3))
    clock.advance(minutes=30)
    done_urgent = file(app, staff["guard"], "已解决的紧急事件", urgent=True)
    say(app, MGR, f"解决 {done_urgent} 已处理")
    clock.advance(minutes=30)
    closed = file(app, staff["guard"], "已关闭的事件")
    say(app, MGR, f"关闭 {closed} 误报")
    urgent = file(app, staff["guard"], "最新的紧急事件：东门有人持刀闹事，请立即处理", urgent=True)
    clock.advance(hours=1)
    reply = text_of(say(app, MGR, "待办"))
    lines = reply.splitlines()
    assert lines[0] == "未办结 5 条（紧急 1，超期 1）："
    order = [line.split()[0] for line in lines[1:6]]
    assert order == [urgent, overdue, old, not_due, done_urgent]
    assert closed not in reply
    first = lines[1]
    assert "🔴紧急" in first and "[登记]" in first and "张三" in first and "1小时前" in first
    assert "最新的紧急事件：东门有人持刀闹事，请立" in first and "立即处理" not in first  # ≤ 20 chars
    assert "⚠️已超期" in lines[2]
    assert "3小时前" in lines[3]
    assert "11月30日 10:00到期" in lines[4]
    assert "🔴紧急" not in lines[5]  # resolved: no longer urgent work


def test_open_caps_the_list(app: App, staff: dict[str, int], clock: Clock) -> None:
    with app.services.sessions.begin() as session:
        author = session.get(Person, staff["guard"])
        assert author is not None
        for i in range(33):
            records.create(session, kind="incident", author=author, content=f"第{i}件", now=clock.now,
                           local_now=clock.now.astimezone(app.services.tz))
    reply = text_of(say(app, MGR, "/open"))
    assert reply.splitlines()[0].startswith("未办结 33 条")
    assert "还有 3 条未列出" in reply
    assert sum(1 for line in reply.splitlines() if line.startswith("SJ-")) == 30


def test_open_when_nothing_is_open(app: App, staff: dict[str, int]) -> None:
    assert text_of(say(app, MGR, "/open")) == texts.MG_OPEN_NONE


# --- 查看 / 查询


def test_show_full_record(app: App, staff: dict[str, int], clock: Clock) -> None:
    number = file(app, staff["clerk"], "业主投诉电梯噪音", kind="complaint", category="设施设备",
                  customer="陈先生", contact="13800000000", location="3号楼",
                  due_at=clock.now + timedelta(days=5))
    with app.services.sessions.begin() as session:
        record = records.find(session, number)
        assert record is not None
        for kind in ("photo", "photo", "location"):
            session.add(RecordAttachment(record_id=record.id, kind=kind, channel="test", ref="x",
                                         created_at=clock.now))
    clock.advance(minutes=5)
    say(app, MGR, f"受理 {number}")
    replies = say(app, MGR, f"查看 {number}")
    reply = text_of(replies)
    for expected in ("【投诉 TS-20261127-001】", "状态：受理", "内容：业主投诉电梯噪音", "地点：3号楼",
                     "分类：设施设备", "客户：陈先生", "联系方式：13800000000", "提交人：李四（客服）　11月27日 10:00",
                     "确认：王经理　11月27日 10:05", "期限：12月2日 10:00", "附件：照片 2、位置 1",
                     "· 11月27日 10:00 李四 登记", "· 11月27日 10:05 王经理 受理"):
        assert expected in reply, expected
    assert replies[0].buttons == ()  # accepted: the next steps need text
    assert "【投诉" in text_of(say(app, "u-李四", f"查看 {number}"))  # the author
    assert text_of(say(app, GUARD, f"查看 {number}")).startswith("没有找到编号")


def test_show_buttons_for_a_new_incident(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"], urgent=True)
    replies = say(app, MGR, f"/show {number}")
    assert "🔴紧急" in replies[0].text
    assert [b.reply for b in replies[0].buttons] == [f"/ack {number}", f"/assign {number} "]


def test_status_shows_only_ones_own_records(app: App, staff: dict[str, int], clock: Clock) -> None:
    mine = file(app, staff["guard"], "我上报的事件")
    clock.advance(minutes=10)
    theirs = file(app, staff["guard2"], "别人上报的事件")
    say(app, MGR, f"收到 {mine}")
    reply = text_of(say(app, GUARD, f"查询 {mine}"))
    assert "我上报的事件" in reply and "状态：已确认" in reply
    unknown = text_of(say(app, GUARD, "查询 SJ-20261127-077"))
    other = text_of(say(app, GUARD, f"查询 {theirs}"))
    assert other == unknown.replace("SJ-20261127-077", theirs)
    listing = text_of(say(app, GUARD, "查询"))
    assert mine in listing and theirs not in listing and "[已确认]" in listing
    assert text_of(say(app, "u-李四", "/status")) == texts.MG_STATUS_NONE
    assert "别人上报的事件" in text_of(say(app, MGR, f"查询 {theirs}"))  # managers see any record


def test_a_failed_step_stores_nothing(app: App, staff: dict[str, int]) -> None:
    number = file(app, staff["guard"])
    before = events_of(app, number)
    say(app, MGR, f"解决 {number}")  # no result text
    say(app, MGR, f"指派 {number} 张伟")  # ambiguous
    assert events_of(app, number) == before
    with app.services.sessions() as session:
        assert session.scalar(select(Record.status).where(Record.number == number)) == "new"


def test_times_are_local(app: App, staff: dict[str, int], clock: Clock) -> None:
    clock.now = datetime.fromisoformat("2026-12-31T17:30:00+00:00")  # 01:30 on Jan 1 in Shanghai
    number = file(app, staff["guard"])
    assert number.startswith("SJ-20270101-")
    assert "1月1日 01:30" in text_of(say(app, MGR, f"查看 {number}"))


# --- end to end with the real filing commands and escalation


def newest(app: App, kind: str) -> str:
    with app.services.sessions() as session:
        number = session.scalar(select(Record.number).where(Record.kind == kind).order_by(Record.id.desc()))
        assert number is not None
        return number


def test_filed_by_chat_followed_to_closure(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    from jobs.escalation import run_due
    from tests.support import deliver

    say(app, GUARD, "/report 地下车库B区有积水，车辆进出困难")
    incident = newest(app, "incident")
    assert record_of(app, incident).next_escalation_at is not None  # escalation started
    say(app, "u-李四", "/complain 客户说物业费多收了一个月")
    complaint = newest(app, "complaint")
    due = record_of(app, complaint).due_at
    assert due is not None and due > clock.now
    assert [line.split()[0] for line in text_of(say(app, MGR, "待办")).splitlines()[1:3]] == [incident, complaint]

    say(app, MGR, f"收到 {incident}")
    say(app, MGR, f"受理 {complaint}")
    assert record_of(app, incident).next_escalation_at is None
    assert record_of(app, complaint).next_escalation_at is None
    channel.clear()
    clock.advance(hours=3)
    run_due(app)
    deliver(app)
    assert channel.sent == []  # nobody is reminded of acknowledged records

    say(app, MGR, f"解决 {incident} 已抽水")
    say(app, MGR, f"关闭 {incident}")
    assert any("已关闭" in t for t in channel.texts_to("chat-张三"))
    assert text_of(say(app, MGR, "待办")).splitlines()[1].startswith(complaint)
