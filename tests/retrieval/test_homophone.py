"""Pinyin-IME typo repair (retrieval/homophone.py): a mistyped word is repaired to the rules' word
that sounds the same, and correct text is never changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.homophone import HomophoneFixer, readings
from retrieval.search import Searcher
from tests.retrieval import SEEDS, session_cache

VOCAB = ["汇报", "消防", "保证金", "交接班", "要钱", "人事", "职务"]
STOP = {"要", "的", "了", "一下"}


def fix(text: str, pieces: list[tuple[int, int]] = (), common: str = "") -> str:  # type: ignore[assignment]
    fixer = HomophoneFixer(VOCAB)
    return fixer.fix(text, pieces, STOP.__contains__, lambda c: c in common)


def test_readings_ignore_tones_but_know_them() -> None:
    toned, bare = readings("抱")
    assert "bao4" in toned and "bao" in bare
    assert readings("访", every=False)[1] & readings("防")[1]  # fang3 / fang2


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("突发事件要跟谁汇抱", "突发事件要跟谁汇报"),  # 抱 bao4 for 报 bao4
        ("开业前签消访责任书", "开业前签消防责任书"),  # 访 fang3 for 防 fang2: tones differ
        ("撤场时保正金退不退", "撤场时保证金退不退"),  # 3 characters, the middle one wrong
    ],
)
def test_one_character_homophone_is_repaired(typed: str, meant: str) -> None:
    assert fix(typed) == meant


def test_correct_text_is_left_alone() -> None:
    assert fix("突发事件要跟谁汇报") == "突发事件要跟谁汇报"
    # 要签 sounds like 要钱 but holds the function word 要: a verb phrase, not a typo.
    assert fix("开业前要签消防的东西") == "开业前要签消防的东西"
    # 人 is a common word on its own: 人提 is 人 + 提, not a typo of 人事.
    assert fix("两个人提了一样的点子", common="人") == "两个人提了一样的点子"


def test_a_character_inside_a_real_word_never_changes() -> None:
    # 辞职只要 … : 职 belongs to 辞职 (a jieba word), so 职要 is not repaired to anything.
    text = "辞职要提前多久"
    assert fix(text, pieces=[(0, 2)]) == text
    # … and a span may not cut a word in two either.
    assert fix("汇抱告", pieces=[(1, 3)]) == "汇抱告"


def test_two_wrong_characters_are_not_a_typo() -> None:
    assert fix("会抱") == "会抱"  # both characters differ from 汇报


# --- on the real seeds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    cache = tmp_path_factory.mktemp("homophone-cache")
    for warm in session_cache(tmp_path_factory).glob("jieba-*"):
        shutil.copy2(warm, cache)
    return Searcher.from_seeds(SEEDS, cache)


# Typos written for this test (not taken from any question set): the wrong character of each is
# the same sound as the right one, as a pinyin IME would offer it.
PAIRS = [
    ("遇到突发事件要跟谁汇抱", "遇到突发事件要跟谁汇报"),
    ("开业前要签消访责任书吗", "开业前要签消防责任书吗"),
    ("商户撤厂的结算单谁出", "商户撤场的结算单谁出"),
    ("撤场的时候保正金退吗", "撤场的时候保证金退吗"),
    ("可以找人顶港吗", "可以找人顶岗吗"),
    ("上班迟道了怎么办", "上班迟到了怎么办"),
    ("交接班记录要认真天写吗", "交接班记录要认真填写吗"),
]


@pytest.mark.parametrize(("typed", "meant"), PAIRS)
def test_typo_question_finds_what_the_right_spelling_finds(real: Searcher, typed: str, meant: str) -> None:
    a, b = real.ask(typed), real.ask(meant)
    assert b.answered
    assert a.answered, (typed, real.repair(typed))
    assert a.hits[0].clause.id == b.hits[0].clause.id
    assert a.terms == b.terms


def test_repair_changes_nothing_in_correct_questions(real: Searcher) -> None:
    for _typed, meant in PAIRS:
        assert real.repair(meant) == meant


def test_typo_repair_can_be_switched_off(tmp_path: Path) -> None:
    plain = Searcher.from_seeds(SEEDS, None, fix_typos=False)
    assert "消防" not in plain.ask("开业前要签消访责任书吗").terms


def test_correct_rule_text_is_almost_never_changed(real: Searcher) -> None:
    # Every sentence of every clause is correct Chinese: repair must leave it alone. Measured at
    # the time of writing: 1 change in 1099 sentences (提报时应 → 提报适应).
    import re

    from retrieval.tokenize import normalize

    sentences = [
        s for c in real.clauses for s in re.split(r"[。；;，,、：:\s]", c.text) if len(s) >= 4
    ]
    changed = [s for s in sentences if real.repair(s) != normalize(s)]
    assert len(sentences) > 1000
    assert len(changed) <= len(sentences) // 200, changed


def test_a_reading_table_gives_what_pypinyin_gives() -> None:
    from retrieval.homophone import ReadingTable, reading_table, word_readings

    table = reading_table(["消防", "管理系统", "保证金", "abc"])
    assert set(table.words) == {"消防", "管理系统", "保证金"}  # only Chinese words are read
    for code in range(0x4E00, 0xA000, 7):  # every 7th character of the block, ~3 000
        ch = chr(code)
        assert table.usual(ch) == readings(ch, every=False)[0], ch
    assert table.of_word("管理系统") == word_readings("管理系统")
    assert ReadingTable.from_dict(table.as_dict()) == table
    fixer = HomophoneFixer(["消防", "保证金"], table=table)
    assert fixer.fix("消访", []) == "消防" and fixer.fix("保正金", []) == "保证金"
