"""Rules Q&A through the real core: answers with citations, honest refusals, bad input handled."""

from __future__ import annotations

import pytest

from bot.app import App
from bot.core import texts
from bot.core.handlers import ask as ask_handler
from bot.storage.models import Account, Person, Record
from tests.support import RecordingChannel, say


@pytest.fixture()
def guard(app: App) -> str:
    with app.services.sessions.begin() as session:
        person = Person(name="王保安", role="guard")
        session.add(Account(person=person, channel="test", external_id="g1", chat_id="g1"))
    return "g1"


def reply_to(app: App, channel: RecordingChannel, sender: str, text: str) -> str:
    channel.clear()
    say(app, sender, text)
    texts_sent = channel.texts_to(sender)
    assert len(texts_sent) == 1, texts_sent
    return texts_sent[0]


def test_question_gets_rule_words_and_citation(app: App, channel: RecordingChannel, guard: str) -> None:
    reply = reply_to(app, channel, guard, "上班的时候能喝点酒吗")
    first, body = reply.splitlines()[:2]
    assert first in {"《值班人员管理规定》四、", "《更夫守则》四、"}
    assert "不准" in body and "酒" in body
    assert "有相同规定" in reply  # the same rule printed in both documents is answered once


def test_out_of_scope_question_is_refused_honestly(app: App, channel: RecordingChannel, guard: str) -> None:
    reply = reply_to(app, channel, guard, "公司年假有几天")
    assert reply.startswith(texts.NO_RULE)
    assert "《" not in reply  # never a random clause


def test_a_near_miss_is_not_an_answer_but_names_the_closest_rule(
    app: App, channel: RecordingChannel, guard: str
) -> None:
    # Close to the answer threshold, not over it: the bot says so and shows the closest rule.
    question = "夜里太无聊了开个收音机听听戏行不"
    answer = app.services.searcher.ask(question)
    assert not answer.answered and answer.confidence >= ask_handler.CLOSEST_MIN_CONFIDENCE
    reply = reply_to(app, channel, guard, question)
    assert reply.startswith("没有找到直接对应的规定。最接近的是：")
    assert answer.hits[0].clause.citation in reply and "如果不是您要问的" in reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", texts.EMPTY_QUESTION),
        ("   \t ", texts.EMPTY_QUESTION),
        ("？！。。，", texts.NOT_UNDERSTOOD),
        ("😀🙏👍", texts.NOT_UNDERSTOOD),
        ("\x00\x07\x1b", texts.EMPTY_QUESTION),
    ],
)
def test_unsearchable_input_gets_a_clear_reply(
    app: App, channel: RecordingChannel, guard: str, text: str, expected: str
) -> None:
    assert reply_to(app, channel, guard, text) == expected


def test_huge_question_asks_to_shorten(app: App, channel: RecordingChannel, guard: str) -> None:
    reply = reply_to(app, channel, guard, "值班" * 5_000)
    assert "太长" in reply and "10000" in reply


def test_english_question_says_chinese_please(app: App, channel: RecordingChannel, guard: str) -> None:
    reply = reply_to(app, channel, guard, "can I drink on duty?")
    assert texts.USE_CHINESE in reply


def test_traditional_characters_are_understood(app: App, channel: RecordingChannel, guard: str) -> None:
    reply = reply_to(app, channel, guard, "晚上幾點要關閉大門")
    assert reply.splitlines()[0] == "《更夫守则》十、"


def test_questions_store_nothing(app: App, channel: RecordingChannel, guard: str) -> None:
    reply_to(app, channel, guard, "值班能睡觉吗")
    with app.services.sessions() as session:
        assert session.query(Record).count() == 0


def test_stranger_gets_only_the_polite_refusal(app: App, channel: RecordingChannel) -> None:
    for text in ("值班能喝酒吗", "/open", "/nosuch", "帮助"):
        assert reply_to(app, channel, "stranger", text) == texts.STRANGER
