"""Splitting long texts within Telegram's 4096 (UTF-16) limit, inline keyboards, menus and keyboards."""

from __future__ import annotations

import re

import pytest

from bot.channels.telegram.menu import KEYBOARDS, command_names, commands_for, keyboard_words, reply_keyboard
from bot.channels.telegram.render import EMPTY, inline_keyboard, split_text, utf16_len
from bot.core.commands import parse
from bot.core.messages import Button, Outbound


def test_short_text_is_one_part_and_empty_text_is_not_sent_empty() -> None:
    assert split_text("你好") == ["你好"]
    assert split_text("") == [EMPTY] and split_text(" \n") == [EMPTY]


def test_paragraphs_first_then_lines_then_clauses() -> None:
    para = "甲" * 3000
    assert split_text(f"{para}\n\n{para}") == [para, para]
    line = "乙" * 3000
    assert split_text(f"{line}\n{line}") == [line, line]
    clause = "丙" * 3000 + "。"
    parts = split_text(clause * 2)
    assert parts == [clause, clause]
    # A paragraph break too early in the window (a tiny first part) loses to a later clause end.
    text = "短。\n\n" + "丁" * 2000 + "，" + "戊" * 3000
    parts = split_text(text)
    assert parts[0].endswith("，") and len(parts[0]) > 2000


def test_no_boundary_means_a_hard_cut_never_inside_a_character() -> None:
    text = "😀" * 3000  # outside the BMP: two UTF-16 units each, so at most 2048 a part
    parts = split_text(text)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text
    assert [len(p) for p in parts] == [2048, 952]
    # A family emoji (ZWJ sequence) and a combining accent are not torn apart at the cut.
    family = "👨\u200d👩\u200d👧"
    text = "a" * 4094 + family + "b"
    parts = split_text(text)
    assert "".join(parts) == text and family in parts[1]
    text = "e" * 4095 + "e\u0301" + "x"
    parts = split_text(text)
    assert "".join(parts) == text and parts[1].startswith("e\u0301")


@pytest.mark.parametrize("seed", range(5))
def test_every_part_fits_and_nothing_is_lost(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    alphabet = ["值", "班", "。", "，", "\n", "\n\n", " ", "a", "😀", "e\u0301"]
    text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(5000, 20000))).strip()
    parts = split_text(text)
    assert all(0 < utf16_len(p) <= 4096 for p in parts)
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731 — cuts drop only whitespace at the seams
    assert squash("".join(parts)) == squash(text)


def test_inline_keyboard_refers_back_to_the_outbox_row() -> None:
    out = Outbound("telegram", "42", "紧急程度？", (Button("一般", "一般"), Button("紧急", "紧急")), outbox_id=9876)
    markup = inline_keyboard(out)
    assert markup is not None
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("一般", "o9876.0"), ("紧急", "o9876.1")]]
    long_labels = tuple(Button(f"{i}. 张三（保安，东门岗）", f"/assign SJ-20261127-001 张三 {i}") for i in range(1, 4))
    markup = inline_keyboard(Outbound("telegram", "42", "指派给谁？", long_labels, outbox_id=1))
    assert markup is not None and [len(row) for row in markup.inline_keyboard] == [1, 1, 1]
    assert inline_keyboard(Outbound("telegram", "42", "hi")) is None


def test_menus_are_valid_chinese_and_follow_the_roles() -> None:
    for role in (None, "guard", "clerk", "manager", "admin"):
        commands = commands_for(role)
        assert commands and len(commands) <= 100
        for c in commands:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", c.command) and 1 <= len(c.description) <= 256
            assert re.search(r"[\u4e00-\u9fff]", c.description), c
    assert command_names(None) == ["start", "help"]
    assert command_names("guard")[0] == "report" and "complain" not in command_names("guard")
    assert command_names("clerk")[0] == "complain" and "report" not in command_names("clerk")
    assert {"export", "ack", "assign", "open"} <= set(command_names("manager"))
    assert not {"export", "ack", "assign", "open"} & set(command_names("guard"))


@pytest.mark.parametrize("role", sorted(KEYBOARDS))
def test_every_keyboard_button_is_a_command_word_the_role_may_use(role: str) -> None:
    from bot.channels.telegram.menu import may_use

    words = [w for row in KEYBOARDS[role] for w in row]
    assert keyboard_words(role) == [list(row) for row in KEYBOARDS[role]]  # nothing had to be dropped
    for word in words:
        parsed = parse(word)
        assert parsed.command is not None and may_use(role, parsed.command), word
    markup = reply_keyboard(role)
    assert markup is not None and markup.is_persistent and markup.resize_keyboard
    assert reply_keyboard(None) is None
