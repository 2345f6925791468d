"""The admin-editable word lists: parsing, normalisation and every problem reported in plain Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.lexicon import SeedError, SeedProblem, UserWord, check_lexicon, load_lexicon

SEEDS_LEXICON = Path(__file__).resolve().parents[2] / "seeds" / "lexicon"


def write(folder: Path, userdict: str = "", stopwords: str = "", synonyms: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "userdict.txt").write_text(userdict, encoding="utf-8")
    (folder / "stopwords.txt").write_text(stopwords, encoding="utf-8")
    (folder / "synonyms.txt").write_text(synonyms, encoding="utf-8")
    return folder


def only(problems: list[SeedProblem]) -> SeedProblem:
    assert len(problems) == 1, problems
    return problems[0]


def test_real_seed_lexicon_loads_cleanly() -> None:
    assert check_lexicon(SEEDS_LEXICON) == []
    lexicon = load_lexicon(SEEDS_LEXICON)
    assert lexicon.synonyms["抽烟"] == "吸烟"
    assert lexicon.synonyms["吸烟"] == "吸烟"
    assert "吗" in lexicon.stopwords
    assert UserWord("睡岗") in lexicon.userdict


def test_formats_comments_bom_and_fullwidth(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        userdict="\ufeff# comment\n\n睡岗\n交接班 20\n撤场 5 v\nC# 3  # inline comment, C# stays a word\n",
        stopwords="# header\n请问\n吗 # particle\n\n",
        # A full-width space (typed with a Chinese IME) separates words too; traditional is folded.
        synonyms="吸烟　抽菸\n盗窃 偷 偷东西\n",
    )
    lexicon = load_lexicon(folder)
    assert lexicon.userdict == (
        UserWord("睡岗"), UserWord("交接班", 20), UserWord("撤场", 5, "v"), UserWord("c#", 3)
    )
    assert lexicon.stopwords == frozenset({"请问", "吗"})
    assert lexicon.synonyms == {"吸烟": "吸烟", "抽烟": "吸烟", "盗窃": "盗窃", "偷": "盗窃", "偷东西": "盗窃"}


def test_bad_frequency(tmp_path: Path) -> None:
    folder = write(tmp_path, userdict="顶岗\n\n睡岗 abc\n脱岗 0\n")
    problems = check_lexicon(folder)
    assert [p.line for p in problems] == [3, 4]
    assert (problems[0].line, problems[0].message) == (3, "词频必须是正整数，现在是“abc”。")
    assert problems[0].file.endswith("userdict.txt")
    assert "“0”" in problems[1].message


def test_bad_tag_and_internal_space_in_userdict(tmp_path: Path) -> None:
    folder = write(tmp_path, userdict="顶岗 3 名词\n交 接班\n交接班 3 n extra\n")
    problems = check_lexicon(folder)
    assert [p.line for p in problems] == [1, 2, 3]
    assert "词性" in problems[0].message
    assert "不能有空格" in problems[1].message and "不能有空格" in problems[2].message


def test_internal_space_in_stopword(tmp_path: Path) -> None:
    p = only(check_lexicon(write(tmp_path, stopwords="请问\n怎么 办\n")))
    assert (p.line, "不能有空格" in p.message) == (2, True)


def test_synonym_group_of_one_word(tmp_path: Path) -> None:
    p = only(check_lexicon(write(tmp_path, synonyms="吸烟 抽烟\n盗窃\n")))
    assert p.line == 2 and "至少要有两个词" in p.message and p.file.endswith("synonyms.txt")


def test_word_in_two_synonym_groups(tmp_path: Path) -> None:
    p = only(check_lexicon(write(tmp_path, synonyms="吸烟 抽烟\n盗窃 偷\n抽烟 点烟\n")))
    assert p.line == 3
    assert (p.line, p.message) == (3, "“抽烟”已经在第 1 行的同义词组里，一个词只能属于一组。")


def test_word_in_two_groups_after_normalisation(tmp_path: Path) -> None:
    # 抽菸 (traditional) and 抽烟 are the same word once normalised.
    p = only(check_lexicon(write(tmp_path, synonyms="吸烟 抽菸\n吸烟啦 抽烟\n")))
    assert p.line == 2 and "抽烟" in p.message


def test_stopword_that_is_also_a_synonym(tmp_path: Path) -> None:
    p = only(check_lexicon(write(tmp_path, stopwords="偷\n", synonyms="盗窃 偷\n")))
    assert p.file.endswith("stopwords.txt") and p.line == 1 and "同义词" in p.message


def test_bad_utf8_reports_the_line(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "stopwords.txt").write_bytes("请问\n吗\n".encode() + "呢\n".encode("gbk"))
    p = only(check_lexicon(folder))
    assert p.line == 3 and "UTF-8" in p.message


def test_missing_files_are_named(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "synonyms.txt").unlink()
    p = only(check_lexicon(folder))
    assert p.file.endswith("synonyms.txt") and p.line == 0
    assert "缺少文件 synonyms.txt" in p.message
    assert len(check_lexicon(tmp_path / "nowhere")) == 3


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    folder = write(tmp_path, userdict="顶岗 x\n", synonyms="孤词\n")
    with pytest.raises(SeedError) as err:
        load_lexicon(folder)
    assert len(err.value.problems) == 2
    assert {p.file.rsplit("/", 1)[-1] for p in err.value.problems} == {"userdict.txt", "synonyms.txt"}


def test_empty_files_are_fine(tmp_path: Path) -> None:
    lexicon = load_lexicon(write(tmp_path, "# only comments\n", "\n\n", ""))
    assert (lexicon.userdict, lexicon.stopwords, dict(lexicon.synonyms)) == ((), frozenset(), {})


def test_related_words_map_specific_things_to_the_rules_general_word(tmp_path: Path) -> None:
    folder = write(tmp_path, synonyms="盗窃 偷\n")
    (folder / "related.txt").write_text("# 上位词\n物资 梯子 钢筋\n无关 刷抖音 梯子\n", encoding="utf-8")
    lexicon = load_lexicon(folder)
    assert lexicon.related == {"梯子": ("物资", "无关"), "钢筋": ("物资",), "刷抖音": ("无关",)}
    assert dict(load_lexicon(write(tmp_path / "none")).related) == {}  # related.txt is optional


def test_related_problems_are_reported_by_line(tmp_path: Path) -> None:
    folder = write(tmp_path, stopwords="东西\n", synonyms="盗窃 偷\n")
    (folder / "related.txt").write_text(
        "物资\n"                       # 1: a lone word
        "物资 梯子 东西\n"              # 2: 东西 is a stopword
        "财产 梯子\n"
        "工具 梯子\n"                   # 4: a third general word for 梯子
        "不法分子 偷\n",                # 5: 偷 is already read as 盗窃
        encoding="utf-8",
    )
    problems = check_lexicon(folder)
    assert [(p.file.rsplit("/", 1)[-1], p.line) for p in problems] == [
        ("related.txt", 1), ("related.txt", 4), ("related.txt", 2), ("related.txt", 5),
    ]
    assert "至少要有两个词" in problems[0].message
    assert "最多归到 2 个总称" in problems[1].message
    assert "停用词" in problems[2].message
    assert "已算作“盗窃”" in problems[3].message and "这里请写“盗窃”" in problems[3].message
