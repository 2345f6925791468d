"""事件上报 through the real core and database (SQLite and PostgreSQL): direct filing, the guided dialog
(with a photo and a restart), cancelling, leaving, timing out, duplicates, long and odd input,
incident-like plain text, attachments, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.core import texts
from bot.core.handlers.report import PREFILL_MARK
from bot.core.incident_words import is_urgent, looks_like_incident
from bot.core.messages import Attachment, Outbound
from bot.settings import Settings
from bot.storage.models import Account, Dialog, Person, Record, RecordAttachment
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, say

GUARD = "u-张保安"
CLERK = "u-周客服"
PHOTO = Attachment("photo", "file-id-photo-1")
PLACE = Attachment("location", "22.9461,113.7385")


def add_person(app: App, name: str, role: str, level: int | None = None) -> int:
    """A person with an account on the test channel: sender "u-NAME", private chat "chat-NAME"."""
    with app.services.sessions.begin() as session:
        person = Person(name=name, role=role, level=level)
        session.add(person)
        session.flush()
        session.add(Account(person_id=person.id, channel="test", external_id=f"u-{name}",
                            chat_id=f"chat-{name}"))
        return person.id


@pytest.fixture()
def desk(app: App) -> App:
    add_person(app, "张保安", "guard")
    add_person(app, "周客服", "clerk")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "王科长", "manager", 2)
    return app


def tell(app: App, text: str, sender: str = GUARD, **kw: object) -> str:
    """Send as `sender` in their private chat; the text of everything replied, joined."""
    replies = say(app, sender, text, chat=f"chat-{sender.removeprefix('u-')}", **kw)  # type: ignore[arg-type]
    return "\n".join(out.text for out in replies)


def last_reply(app: App, text: str, sender: str = GUARD, **kw: object) -> Outbound:
    replies = say(app, sender, text, chat=f"chat-{sender.removeprefix('u-')}", **kw)  # type: ignore[arg-type]
    assert replies
    return replies[-1]


def incidents(app: App) -> list[Record]:
    with app.services.sessions() as session:
        query = select(Record).where(Record.kind == "incident").order_by(Record.id)
        return list(session.scalars(query).all())


def dialog_of(app: App, sender: str = GUARD) -> Dialog | None:
    with app.services.sessions() as session:
        return session.get(Dialog, ("test", sender))


def count(app: App, model: type) -> int:
    with app.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def texts_to(channel: RecordingChannel, name: str) -> list[str]:
    return channel.texts_to(f"chat-{name}")


# ---------------------------------------------------------------------------------------------
# Words


def test_urgent_and_incident_words() -> None:
    assert is_urgent("3号楼着火了") and is_urgent("门口有人打架") and is_urgent("紧急！有人持刀")
    assert not is_urgent("东门围墙有人翻入") and not is_urgent("不紧急，门口灯坏了")
    assert looks_like_incident("有人翻墙") and looks_like_incident("东西被偷了")
    assert looks_like_incident("门被撬了") and looks_like_incident("有人打架")
    assert looks_like_incident("着 火 了")
    assert not looks_like_incident("值班能喝酒吗") and not looks_like_incident("防火检查几点做")


# ---------------------------------------------------------------------------------------------
# Direct filing


def test_report_with_text_files_at_once_and_escalates(desk: App, channel: RecordingChannel) -> None:
    reply = tell(desk, "/report 东门围墙有人翻入")
    [record] = incidents(desk)
    assert record.number == "SJ-20261127-001"
    assert (record.content, record.status, record.urgent) == ("东门围墙有人翻入", "new", False)
    assert record.location is None
    assert record.author.name == "张保安"
    assert record.next_escalation_at is not None and record.escalated_level == 1
    assert "已上报，编号 SJ-20261127-001" in reply and "紧急" not in reply.split("\n")[0]
    # Level 1 told, level 2 not yet.
    assert any("SJ-20261127-001" in t for t in texts_to(channel, "李班长"))
    assert texts_to(channel, "王科长") == []
    # The Chinese word works the same and numbers count up; fire is urgent and tells every level.
    reply = tell(desk, "上报 3号楼配电房着火了")
    second = incidents(desk)[1]
    assert second.number == "SJ-20261127-002" and second.urgent
    assert "SJ-20261127-002（紧急）" in reply
    assert any("SJ-20261127-002" in t for t in texts_to(channel, "王科长"))


def test_reply_cites_the_rule_when_the_corpus_has_one(desk: App) -> None:
    cited = 0
    for content in ("值班时发现火灾", "仓库东西被偷了", "3号楼配电房着火了"):
        answer = desk.services.searcher.ask(content, k=1)
        reply = tell(desk, f"/report {content}")
        if answer.answered:
            clause = answer.hits[0].clause
            assert f"相关规定：{clause.citation} {clause.text[:20]}" in reply
            cited += 1
        else:
            assert "相关规定" not in reply
    assert cited, "the corpus answered none of the incidents: the rule line was not exercised"
    # Something the corpus has nothing on: no rule line at all.
    assert "相关规定" not in tell(desk, "/report zzqx qqvv")
    assert len(incidents(desk)) == 4


def test_five_thousand_characters_are_stored_whole(desk: App) -> None:
    content = "东门围墙有人翻入，" + "情况说明" * 1248  # 5 001 characters
    assert len(content) > 5000
    reply = tell(desk, f"/report {content}")
    [record] = incidents(desk)
    assert record.content == content
    assert f"（共{len(content)}字）" in reply and len(reply) < 1500


def test_empty_or_emoji_report_asks_instead_of_storing(desk: App) -> None:
    reply = tell(desk, "/report    ")
    assert texts.REP_ASK_WHAT in reply
    assert dialog_of(desk) is not None and dialog_of(desk).step == "what"  # type: ignore[union-attr]
    reply = tell(desk, "😀😀👍")  # in the dialog: asked again
    assert texts.REP_WHAT_UNCLEAR in reply and dialog_of(desk).step == "what"  # type: ignore[union-attr]
    tell(desk, "/cancel")
    reply = tell(desk, "/report 😀😀")
    assert texts.REP_WHAT_UNCLEAR in reply and dialog_of(desk).step == "what"  # type: ignore[union-attr]
    assert incidents(desk) == []


def test_same_message_delivered_twice_files_once_and_replies_once(desk: App,
                                                                  channel: RecordingChannel) -> None:
    tell(desk, "/report 东门围墙有人翻入", message_id="tg-4711")
    again = say(desk, GUARD, "/report 东门围墙有人翻入", chat="chat-张保安", message_id="tg-4711")
    assert again == []
    assert len(incidents(desk)) == 1
    assert len([t for t in texts_to(channel, "张保安") if "已上报" in t]) == 1
    assert len([t for t in texts_to(channel, "李班长") if "SJ-20261127-001" in t]) == 1


def test_wrong_role_is_refused(desk: App) -> None:
    assert tell(desk, "/report 东门有人翻墙", sender=CLERK) == texts.NOT_ALLOWED
    assert tell(desk, "上报", sender=CLERK) == texts.NOT_ALLOWED
    assert incidents(desk) == [] and dialog_of(desk, CLERK) is None
    # A stranger is not even told what the command is.
    assert tell(desk, "/report 东门有人翻墙", sender="u-nobody") == texts.STRANGER


# ---------------------------------------------------------------------------------------------
# The guided dialog


def test_guided_report_with_photo_survives_a_restart(desk: App, channel: RecordingChannel, clock: Clock,
                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert texts.REP_ASK_WHAT in tell(desk, "上报")
    out = last_reply(desk, "东门围墙有人翻入")
    assert texts.REP_ASK_WHERE in out.text and [b.reply for b in out.buttons] == ["跳过"]
    assert incidents(desk) == []

    # The process restarts: a new App on the same database carries on.
    settings = Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path / "data2",
                                 database_url=desk.settings.db_url)
    other_channel = RecordingChannel()
    restarted = build_app(settings, searcher=desk.services.searcher, senders={"test": other_channel},
                          clock=clock)
    try:
        clock.advance(minutes=5)
        out = last_reply(restarted, "东门北侧围墙")
        assert texts.REP_ASK_URGENCY in out.text
        assert [(b.label, b.reply) for b in out.buttons] == [("一般", "一般"), ("紧急", "紧急")]
        assert texts.REP_URGENCY_UNCLEAR in tell(restarted, "3")  # not an option: asked again
        assert texts.REP_ASK_MEDIA in tell(restarted, "紧急")
        assert texts.REP_MEDIA_UNCLEAR in tell(restarted, "嗯嗯")
        out = last_reply(restarted, "", attachments=(PHOTO,))
        assert "已收到照片1张" in out.text and "东门北侧围墙" in out.text and "紧急" in out.text
        assert [b.reply for b in out.buttons] == ["确认", "取消"]
        out = last_reply(restarted, "", attachments=(Attachment("photo", "file-id-photo-2"),))
        assert "照片2张" in out.text
        assert incidents(restarted) == []  # nothing stored before 确认
        assert texts.FILE_CONFIRM_UNCLEAR in tell(restarted, "等一下")
        reply = tell(restarted, "确认")
        [record] = incidents(restarted)
        assert "已上报，编号 SJ-20261127-001（紧急）" in reply and "照片2张" in reply
        assert (record.content, record.location, record.urgent) == ("东门围墙有人翻入", "东门北侧围墙", True)
        assert [(a.kind, a.channel, a.ref) for a in record.attachments] == [
            ("photo", "test", "file-id-photo-1"), ("photo", "test", "file-id-photo-2")]
        assert dialog_of(restarted) is None
        assert any("SJ-20261127-001" in t for t in other_channel.texts_to("chat-李班长"))
    finally:
        restarted.engine.dispose()


def test_guided_report_typed_answers_and_skips(desk: App) -> None:
    tell(desk, "/report")
    tell(desk, "车库有人撬车门")
    tell(desk, "跳过")
    assert texts.REP_ASK_MEDIA in tell(desk, "1")
    out = last_reply(desk, "没有")
    assert "地点：未填写" in out.text and "紧急程度：一般" in out.text and "照片/位置：无" in out.text
    tell(desk, "好的")
    [record] = incidents(desk)
    assert (record.content, record.location, record.urgent) == ("车库有人撬车门", None, False)
    assert record.attachments == []


def test_location_answers_where(desk: App) -> None:
    tell(desk, "/report")
    tell(desk, "有人翻墙")
    assert texts.REP_ASK_URGENCY in tell(desk, "", attachments=(PLACE,))
    summary = tell(desk, "急")  # it has an attachment already: straight to the summary
    assert "位置1个" in summary and "紧急程度：紧急" in summary
    tell(desk, "ok")
    [record] = incidents(desk)
    assert record.location == "已发定位（22.9461,113.7385）" and record.urgent
    assert [(a.kind, a.ref) for a in record.attachments] == [("location", "22.9461,113.7385")]


def test_photo_outside_a_dialog_starts_a_report_with_it(desk: App) -> None:
    reply = tell(desk, "", attachments=(PHOTO,))
    assert reply == texts.REP_PHOTO_FIRST
    assert dialog_of(desk).data["attachments"] == [["photo", "test", "file-id-photo-1"]]  # type: ignore[union-attr]
    tell(desk, "仓库后门玻璃被砸")
    tell(desk, "仓库后门")
    summary = tell(desk, "一般")
    assert "照片1张" in summary
    tell(desk, "是")
    [record] = incidents(desk)
    assert record.content == "仓库后门玻璃被砸" and [a.ref for a in record.attachments] == ["file-id-photo-1"]


def test_photo_with_a_caption_is_kept(desk: App) -> None:
    reply = tell(desk, "东门围墙有人翻入", attachments=(PHOTO,))
    assert texts.REP_CAPTION_FIRST in reply and texts.REP_ASK_WHERE in reply
    tell(desk, "东门")
    tell(desk, "2")
    tell(desk, "确认")
    [record] = incidents(desk)
    assert record.content == "东门围墙有人翻入" and len(record.attachments) == 1
    # A photo captioned with the command and the text files at once, photo included.
    reply = tell(desk, "上报 仓库门被撬了", attachments=(PHOTO, PLACE))
    assert "SJ-20261127-002" in reply and "照片1张，位置1个" in reply
    assert [a.kind for a in incidents(desk)[1].attachments] == ["photo", "location"]


def test_voice_sticker_file_get_a_clear_reply_and_nothing_is_stored(desk: App) -> None:
    for kind in ("voice", "sticker", "file"):
        assert tell(desk, "", attachments=(Attachment(kind, "x"),)) == texts.ATTACHMENT_UNSUPPORTED
    assert dialog_of(desk) is None
    # A clerk's photo: they cannot report, so nothing is started.
    assert tell(desk, "", sender=CLERK, attachments=(PHOTO,)) == texts.ATTACHMENT_NOT_REPORTER
    assert dialog_of(desk, CLERK) is None
    # Inside a dialog: the voice is refused, the question stands.
    tell(desk, "/report")
    reply = tell(desk, "", attachments=(Attachment("voice", "v1"),))
    assert texts.ATTACHMENT_UNSUPPORTED in reply and texts.REP_ASK_WHAT in reply
    assert dialog_of(desk).data["attachments"] == []  # type: ignore[union-attr]
    assert count(desk, RecordAttachment) == 0 and incidents(desk) == []


def test_cancel_leaves_without_storing(desk: App) -> None:
    tell(desk, "/report")
    tell(desk, "东门围墙有人翻入", attachments=())
    assert tell(desk, "取消") == texts.DIALOG_LEFT.format(what="事件上报")
    assert dialog_of(desk) is None and incidents(desk) == []
    # 不 at the summary cancels too.
    tell(desk, "/report")
    tell(desk, "东门围墙有人翻入")
    tell(desk, "东门")
    tell(desk, "一般")
    tell(desk, "", attachments=(PHOTO,))
    assert tell(desk, "不") == texts.REP_CANCELLED
    assert dialog_of(desk) is None and incidents(desk) == [] and count(desk, RecordAttachment) == 0


def test_a_command_mid_dialog_leaves_it_and_runs(desk: App) -> None:
    tell(desk, "/report")
    tell(desk, "东门围墙有人翻入")
    reply = tell(desk, "/help")
    assert texts.DIALOG_LEFT.format(what="事件上报") in reply and "上报" in reply
    assert dialog_of(desk) is None
    # A new /report with text mid-dialog files at once.
    tell(desk, "/report")
    reply = tell(desk, "上报 南门有人打架")
    assert texts.DIALOG_LEFT.format(what="事件上报") in reply and "SJ-20261127-001（紧急）" in reply
    assert [r.content for r in incidents(desk)] == ["南门有人打架"]


def test_an_idle_dialog_expires(desk: App, clock: Clock) -> None:
    tell(desk, "/report")
    tell(desk, "东门围墙有人翻入")
    clock.advance(minutes=desk.settings.dialog_timeout_minutes + 1)
    reply = tell(desk, "东门")
    assert texts.DIALOG_EXPIRED.format(what="事件上报") in reply
    assert dialog_of(desk) is None and incidents(desk) == []


# ---------------------------------------------------------------------------------------------
# Incident-like plain text


def test_incident_like_text_gets_an_offer_and_the_button_starts_the_dialog(desk: App) -> None:
    out = last_reply(desk, "有人翻墙")
    assert texts.REP_OFFER in out.text
    assert [(b.label, b.reply) for b in out.buttons] == [("上报", f"/report {PREFILL_MARK}有人翻墙")]
    assert incidents(desk) == [] and dialog_of(desk) is None
    # Pressing it: "what happened" is filled in; the dialog asks where.
    assert texts.REP_ASK_WHERE in tell(desk, out.buttons[0].reply)
    assert dialog_of(desk).data["what"] == "有人翻墙"  # type: ignore[union-attr]
    tell(desk, "西门")
    tell(desk, "一般")
    tell(desk, "跳过")
    tell(desk, "确认")
    [record] = incidents(desk)
    assert (record.content, record.location) == ("有人翻墙", "西门")


def test_incident_offer_includes_the_rule_answer(desk: App) -> None:
    question = "仓库东西被偷了"
    answer = desk.services.searcher.ask(question, k=desk.settings.answer_hits)
    out = last_reply(desk, question)
    assert texts.REP_OFFER in out.text
    if answer.answered:
        assert answer.hits[0].clause.citation in out.text
    # An ordinary question is answered as before, without an offer; a clerk gets no offer.
    assert texts.REP_OFFER not in tell(desk, "值班能喝酒吗")
    assert texts.REP_OFFER not in tell(desk, "有人翻墙", sender=CLERK)
    assert incidents(desk) == []
