"""A filer is never told that someone was notified when nobody was."""

from __future__ import annotations

from bot.app import App
from bot.core import texts
from bot.storage.models import Account, Person
from tests.support import RecordingChannel, say


def _person(app: App, name: str, role: str, external_id: str, level: int | None = None) -> None:
    with app.services.sessions.begin() as session:
        session.add(Account(person=Person(name=name, role=role, level=level), channel="test",
                            external_id=external_id, chat_id=external_id))


def test_report_with_nobody_to_tell_says_so(app: App, channel: RecordingChannel) -> None:
    _person(app, "王保安", "guard", "g1")
    say(app, "g1", "上报 东门有人翻墙")
    [reply] = channel.texts_to("g1")
    assert "SJ-" in reply and texts.NOBODY_TOLD.strip() in reply and texts.REP_TOLD not in reply


def test_report_with_a_manager_says_notified(app: App, channel: RecordingChannel) -> None:
    _person(app, "王保安", "guard", "g1")
    _person(app, "李班长", "manager", "m1", level=1)
    say(app, "g1", "上报 东门有人翻墙")
    [reply] = channel.texts_to("g1")
    assert texts.REP_TOLD in reply and texts.NOBODY_TOLD.strip() not in reply
    assert any("东门有人翻墙" in text for text in channel.texts_to("m1"))
