"""Answer types (retrieval/answertype.py): the question asks for a time, an amount, a head count, a
definition or the kinds of something, and the re-ranker prefers the clauses that state one."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.answertype import asked, stated
from retrieval.search import Searcher
from tests.retrieval import SEEDS


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("交了提案多久有回复", "time"),
        ("大门晚上几点关", "time"),
        ("提建议被采纳奖多少钱", "money"),
        ("评审小组有几个人", "count"),
        ("神秘客户是什么意思", "definition"),
        ("啥情况算投诉", "definition"),
        ("公司说的创新分哪几种", "kinds"),
        ("服务管理计划都包括哪些东西", "kinds"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert kind in asked(question)


def test_plain_questions_ask_for_no_kind() -> None:
    assert asked("上班能喝酒吗") == frozenset()
    assert asked("商户撤场谁来协调") == frozenset()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("并在3个工作日内给以明确回复", "time"),
        ("包括经营创新、技术创新和管理创新", "kinds"),
        ("每月20日,行政中心汇总", "time"),
        ("晚上九点钟以前必须关闭大门", "time"),
        ("奖励标准为单项建议奖励10元", "money"),
        ("评审小组成员由7-9名评委组成", "count"),
        ("由参与会议的2/3以上表决通过", "count"),
        ("客户投诉:是指客户在购买……", "definition"),
    ],
)
def test_clause_kinds(text: str, kind: str) -> None:
    assert kind in stated(text)


def test_clause_without_facts_states_nothing() -> None:
    assert stated("上班时不准喝酒,不准回家吃饭") == frozenset()


@pytest.fixture(scope="module")
def searchers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Searcher]:
    cache = tmp_path_factory.mktemp("answertype-cache")
    return (
        Searcher.from_seeds(SEEDS, cache, answer_type_boost=0.0),
        Searcher.from_seeds(SEEDS, cache),
    )


def test_time_question_prefers_the_clause_that_states_a_time(searchers: tuple[Searcher, Searcher]) -> None:
    plain, typed = searchers
    question = "小点子交上去多久有回复"
    best = typed.ask(question).hits[0].clause
    assert "3个工作日" in best.text
    # Without the answer type the 小点子 clauses tie on words and a timeless one may win.
    assert "time" in stated(best.text)
    assert any("time" not in stated(h.clause.text) for h in plain.ask(question, k=3).hits)


def test_boost_only_reorders_never_changes_what_is_found(searchers: tuple[Searcher, Searcher]) -> None:
    plain, typed = searchers
    question = "撤场审批表提前几天报"
    found = {h.clause.id for h in plain.ask(question, k=20).hits}
    assert found == {h.clause.id for h in typed.ask(question, k=20).hits}


def test_explain_scores_match_ask(searchers: tuple[Searcher, Searcher], tmp_path: Path) -> None:
    _plain, typed = searchers
    question = "小点子交上去多久有回复"
    explained = typed.explain(question, k=3)
    for row, hit in zip(explained, typed.ask(question, k=3).hits, strict=True):
        assert sum(row["terms"].values()) == pytest.approx(hit.score, rel=1e-6)
