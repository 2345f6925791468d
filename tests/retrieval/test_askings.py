"""常见问法 (seeds/askings.txt): parsing against the clauses, every problem by line, and their effect on search."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.seedcheck import check_seeds
from retrieval.askings import load_askings, read_askings
from retrieval.lexicon import SeedError
from retrieval.model import Clause, Document
from retrieval.search import Searcher
from retrieval.tokenize import Tokenizer
from tests.retrieval import SEEDS, TEST_LEXICON, copy_seeds, session_cache

GUARD = Document("更夫守则", (
    Clause("g1", "更夫守则", ("一、",), "上班时不准喝酒，不准打扑克。"),
    Clause("g2", "更夫守则", ("二、",), "对国家财产和物资只有看管义务，没有外借的权利。"),
    Clause("g3", "更夫守则", ("三、", "1."), "晚上九点钟以前必须关闭大门。"),
    Clause("g4", "更夫守则", ("三、", "2."), "发现火情立即报警。"),
))
SHOP = Document("招商运营规定", (
    Clause("s1", "招商运营规定", ("一、",), "商户撤场须结清欠款。"),
))
DOCS = [GUARD, SHOP]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "askings.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_groups_by_citation(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "# 常见问法\n"
        "[《更夫守则》一、]\n值班能整两口不\n夜里能打会儿牌吗  # 打牌\n\n"
        "【《更夫守则》三、 › 1.】\n大门几点锁\n"
        "[ 招商运营规定 一 ]\n商户欠着钱能走吗\n"  # a citation written loosely, fitting one clause
        "[《更夫守则》一、]\n过年能喝酒吗\n"  # the same clause again: appended
    ))
    askings, problems = read_askings(path, DOCS)
    assert problems == []
    assert dict(askings) == {
        "g1": ("值班能整两口不", "夜里能打会儿牌吗", "过年能喝酒吗"),
        "g3": ("大门几点锁",),
        "s1": ("商户欠着钱能走吗",),
    }


def test_a_missing_file_is_no_askings(tmp_path: Path) -> None:
    assert read_askings(tmp_path / "askings.txt", DOCS) == ({}, [])


def test_every_problem_is_reported_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "上班能喝酒吗\n"                       # 1: before any header
        "[《更夫守则》九、]\n"                  # 2: no such clause
        "夜里能睡觉吗\n"                       # 3: skipped with its header, not reported again
        "[《更夫守则》三、]\n"                  # 4: fits two clauses
        "着火了咋办\n"
        "[《更夫守则》二、]\n"                  # 6: header with nothing under it
        "[《招商运营规定》一、]\n"
        + "商户" * 60 + "\n"                  # 8: far too long for one question
    ))
    askings, problems = read_askings(path, DOCS)
    assert [p.line for p in problems] == [1, 2, 4, 6, 7, 8]
    first, unknown, ambiguous, empty, empty_too, long = (p.message for p in problems)
    assert "先写它对应的条款" in first
    assert "找不到条款“《更夫守则》九、”" in unknown and "dutybot corpus show" in unknown
    assert "对应 2 条条款" in ambiguous and "《更夫守则》三、 › 1." in ambiguous
    assert "《更夫守则》二、 下面还没有写问法" in empty
    assert "招商运营规定" in empty_too
    assert "不超过 100 个字" in long
    assert dict(askings) == {}
    with pytest.raises(SeedError) as err:
        load_askings(path, DOCS)
    assert len(err.value.problems) == 6


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    tk = Tokenizer(TEST_LEXICON, session_cache(tmp_path_factory))
    tk.load()
    return tk


def test_an_asking_brings_a_colloquial_question_to_its_clause(tokenizer: Tokenizer) -> None:
    clauses = [c for d in DOCS for c in d.clauses]
    question = "老乡想用工地的梯子"
    plain = Searcher(clauses, tokenizer, min_score=0.5)
    taught = Searcher(clauses, tokenizer, min_score=0.5, askings={"g2": ("老乡想借工地的梯子",)})
    assert not plain.ask(question).answered
    answer = taught.ask(question)
    assert answer.answered and answer.hits[0].clause.id == "g2"
    # The clause's own words still find it, and the rule's text is what the answer shows.
    assert taught.ask("物资能外借吗").hits[0].clause.id == "g2"
    assert answer.hits[0].clause.text.startswith("对国家财产")


def test_from_seeds_reads_askings_and_rebuilds_the_index_when_they_change(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds")
    cache = tmp_path / "cache"
    question = "能不能把梯子拿回家给老乡"
    before = Searcher.from_seeds(seeds, cache).ask(question)
    target = next(h for h in Searcher.from_seeds(seeds, cache).ask("物资外借送人的权利").hits)
    (seeds / "askings.txt").write_text(f"[{target.clause.citation}]\n梯子拿回家给老乡用\n", encoding="utf-8")
    after = Searcher.from_seeds(seeds, cache).ask(question)
    assert after.hits[0].clause.id == target.clause.id
    assert after.hits[0].score > next((h.score for h in before.hits if h.clause.id == target.clause.id), 0.0)
    assert len(list(cache.glob("index-*.npz"))) == 1  # the stale index was replaced, not kept


def test_seeds_check_names_a_broken_askings_line(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    (seeds / "askings.txt").write_text("[《更夫守则》九十九、]\n睡觉\n", encoding="utf-8")
    problems = [p for p in check_seeds(seeds) if p.file.endswith("askings.txt")]
    assert [(p.line, "找不到条款" in p.message) for p in problems] == [(1, True)]


def test_items_printed_with_one_citation_are_told_apart_by_their_opening(tmp_path: Path) -> None:
    duties = Document("客服管理规范", (
        Clause("k1", "客服管理规范", ("一、", "●"), "负责客户来电的咨询。"),
        Clause("k2", "客服管理规范", ("一、", "●"), "负责客户投诉的记录。"),
    ))
    path = write(tmp_path, "[《客服管理规范》一、 › ●]\n谁接电话\n[《客服管理规范》一、 › ● 负责客户投诉]\n投诉谁记\n")
    askings, problems = read_askings(path, [duties])
    assert dict(askings) == {"k2": ("投诉谁记",)}
    assert [p.line for p in problems] == [1]
    assert "有 2 条条款的引用都是" in problems[0].message
    assert "[《客服管理规范》一、 › ● 负责客户来电" in problems[0].message


def test_askings_passed_in_get_their_own_cached_index(tmp_path: Path) -> None:
    # A caller's own askings must not be served an index cached for the file's (or none).
    seeds = copy_seeds(tmp_path / "seeds")
    cache = tmp_path / "cache"
    plain = Searcher.from_seeds(seeds, cache)
    target = plain.ask("物资外借送人的权利").hits[0].clause
    taught = Searcher.from_seeds(seeds, cache, askings={target.id: ("梯子拿回家给老乡用",)})
    question = "能不能把梯子拿回家给老乡"
    before = next((h.score for h in plain.ask(question, k=20).hits if h.clause.id == target.id), 0.0)
    after = taught.ask(question).hits[0]
    assert after.clause.id == target.id and after.score > before
