from __future__ import annotations

from bot.core.commands import parse
from bot.core.handlers.ask import clean_question, problem_with


def test_slash_command_with_bot_suffix_and_args() -> None:
    parsed = parse("/ask@dutybot 值班能喝酒吗")
    assert (parsed.command, parsed.args) == ("ask", "值班能喝酒吗")


def test_chinese_word_calls_the_command() -> None:
    assert parse("帮助").command == "help"
    assert parse("问 几点关门").command == "ask"
    assert parse("问 几点关门").args == "几点关门"


def test_unknown_slash_command_is_marked() -> None:
    parsed = parse("/frobnicate now")
    assert parsed.command == "?"
    assert parsed.raw_command == "/frobnicate"


def test_plain_text_is_a_question() -> None:
    parsed = parse("  晚上几点关门 ")
    assert parsed.command is None
    assert parsed.args == "晚上几点关门"


def test_clean_question_drops_control_characters() -> None:
    assert clean_question("值班\x00能\u200b喝酒\x1b吗\t\r\n ") == "值班能喝酒吗"


def test_problems_of_unsearchable_questions() -> None:
    assert problem_with("", 500) is not None
    assert problem_with("？？！！", 500) is not None
    assert problem_with("😀😀", 500) is not None
    assert problem_with("喝" * 501, 500) is not None
    assert problem_with("值班能喝酒吗", 500) is None
