"""Retrieval quality on the development and held-out question sets, and the sets' own well-formedness.

The floors below sit a little under what the engine measures today: they catch regressions, they are
not the aim. The aims (from the issue) are:
  Recall@1 >= 0.85, Recall@3 >= 0.95,
  >= 7/8 of out-of-scope questions abstained (answered=False),
  <= 5 % of answerable questions wrongly abstained.
Do not edit tests/data/dev_questions.jsonl or tests/data/heldout_questions.jsonl to make this pass: the
sets measure the method. The held-out set was written before the method work started (different
wording from the dev set) and is never edited: it is the check that a change generalises.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from retrieval.model import Answer, Clause, Hit
from retrieval.quality import (
    DEFAULT_QUESTIONS,
    Question,
    Report,
    clause_correct,
    evaluate,
    format_report,
    load_questions,
    report_json,
    title_matches,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUESTIONS = DEFAULT_QUESTIONS
HELDOUT = QUESTIONS.with_name("heldout_questions.jsonl")
HELDOUT2 = QUESTIONS.with_name("heldout2_questions.jsonl")

# Regression floors: measured values minus a small margin (see the module docstring for the aims).
# Dev set, measured at the time of writing (129 answerable, 16 out of scope): Recall@1 0.837,
# Recall@3 0.922, MRR 0.885, out-of-scope abstained 14/16 = 0.875, answerable wrongly abstained
# 5/129 = 0.039. (Before the rarity-coverage abstention and re-ranking: 0.791, 0.922, 0.859, 13/16,
# 13/129.) With answer types and typo repair (docs/quality.md): 0.853, 0.930, 0.896, 14/16, 5/129.
MIN_RECALL_AT_1 = 0.82  # aim 0.85
MIN_RECALL_AT_3 = 0.90  # aim 0.95
MIN_MRR = 0.87
MIN_OOS_ABSTAINED = 0.81  # aim 7/8 = 0.875
MAX_ANSWERABLE_ABSTAINED = 0.07  # aim 0.05

# Held-out set, measured at the time of writing (50 answerable, 12 out of scope): Recall@1 0.84,
# Recall@3 0.94, MRR 0.896, out-of-scope abstained 11/12 = 0.917, answerable wrongly abstained
# 3/50 = 0.06. (Baseline engine when the set was written: 0.64, 0.90, 0.779, 10/12, 9/50.)
HELDOUT_MIN_RECALL_AT_1 = 0.80  # aim 0.85
HELDOUT_MIN_RECALL_AT_3 = 0.90  # aim 0.95
HELDOUT_MIN_MRR = 0.86
HELDOUT_MIN_OOS_ABSTAINED = 0.83  # aim 7/8 = 0.875
HELDOUT_MAX_ANSWERABLE_ABSTAINED = 0.10  # aim 0.05

# Second held-out set, written from the clauses before any measurement of it (75 answerable across
# all 19 documents with clauses, 13 out of scope; see docs/quality.md). Measured at the time of
# writing: Recall@1 0.80, Recall@3 0.893, MRR 0.848, out-of-scope abstained 12/13 = 0.923,
# answerable wrongly abstained 13/75 = 0.173 (engine before that session: 0.80, 0.893, 0.848,
# 12/13, 15/75). Its abstention figure is the engine's weakest point, so its floor is loose.
HELDOUT2_MIN_RECALL_AT_1 = 0.76  # aim 0.85
HELDOUT2_MIN_RECALL_AT_3 = 0.86  # aim 0.95
HELDOUT2_MIN_MRR = 0.81
HELDOUT2_MIN_OOS_ABSTAINED = 0.84  # aim 7/8 = 0.875
HELDOUT2_MAX_ANSWERABLE_ABSTAINED = 0.21  # aim 0.05


def _raw_seed_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8-sig") for p in sorted((SEEDS / "regulations").glob("*.txt")))


# --- the question set -----------------------------------------------------------------------------


def _set_problems(path: Path, min_expect: int = 6) -> list[str]:
    """Format problems of a question set. `expect` must be verbatim on one line of the seed text,
    whitespace ignored (as the metric compares: the seed breaks some sentences with a space)."""
    raw = _raw_seed_text()
    raw_lines = [re.sub(r"\s+", "", line) for line in raw.splitlines()]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems: list[str] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if set(row) != {"q", "doc", "expect"}:
            problems.append(f"line {n}: keys must be q, doc, expect: {sorted(row)}")
            continue
        q, docs, expect = row["q"], row["doc"], row["expect"]
        if not isinstance(q, str) or not q.strip():
            problems.append(f"line {n}: empty question")
            continue
        key = re.sub(r"\s+", "", q)
        if key in seen:
            problems.append(f"line {n}: duplicate question {q!r}")
        seen.add(key)
        if not isinstance(docs, list) or not all(isinstance(d, str) and d.strip() for d in docs):
            problems.append(f"line {n}: doc must be a list of titles")
            continue
        if expect is None:
            if docs:
                problems.append(f"line {n}: out-of-scope question {q!r} must have doc []")
            continue
        if not docs:
            problems.append(f"line {n}: answerable question {q!r} needs at least one doc")
        if not isinstance(expect, str) or len(expect) < min_expect or "\n" in expect:
            problems.append(f"line {n}: expect must be one line of >= {min_expect} characters: {expect!r}")
        elif not any(re.sub(r"\s+", "", expect) in line for line in raw_lines):
            problems.append(f"line {n}: expect not verbatim (on one line) in the seed text: {expect!r}")
        for title in docs:
            if title not in raw:
                problems.append(f"line {n}: document title {title!r} not in the seed text")
    return problems


def test_dev_set_is_well_formed() -> None:
    problems = _set_problems(QUESTIONS)
    assert not problems, "\n".join(problems)
    questions = load_questions(QUESTIONS)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 70
    assert len(questions) - len(answerable) >= 12


def test_heldout_set_is_well_formed_and_new() -> None:
    problems = _set_problems(HELDOUT)
    assert not problems, "\n".join(problems)
    questions = load_questions(HELDOUT)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 50
    assert len(questions) - len(answerable) >= 12
    dev = {re.sub(r"\s+", "", q.q) for q in load_questions(QUESTIONS)}
    assert not [q.q for q in questions if re.sub(r"\s+", "", q.q) in dev]
    assert len({d for q in questions for d in q.docs}) >= 15


def test_heldout2_set_is_well_formed_and_new() -> None:
    # Short `expect` pieces (打扑克, 看电视) are allowed here; instead each must pick out one or two
    # clauses (the same rule printed in both duty documents, or a service item listed twice).
    problems = _set_problems(HELDOUT2, min_expect=3)
    assert not problems, "\n".join(problems)
    from retrieval.corpus import all_clauses, load_corpus

    clauses = all_clauses(load_corpus(SEEDS / "regulations"))
    for q in load_questions(HELDOUT2):
        if q.answerable:
            found = [c.citation for c in clauses if clause_correct(c, q)]
            assert 1 <= len(found) <= 2, (q.q, found)
    questions = load_questions(HELDOUT2)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 60
    assert len(questions) - len(answerable) >= 12
    earlier = {re.sub(r"\s+", "", q.q) for path in (QUESTIONS, HELDOUT) for q in load_questions(path)}
    assert not [q.q for q in questions if re.sub(r"\s+", "", q.q) in earlier]
    assert len({d for q in questions for d in q.docs}) >= 18


def test_dev_set_covers_many_documents() -> None:
    docs = {d for q in load_questions(QUESTIONS) for d in q.docs}
    assert len(docs) >= 15, sorted(docs)


# --- the metric code, on a scripted searcher -------------------------------------------------------


def _clause(cid: str, doc: str, text: str, headings: tuple[str, ...] = ()) -> Clause:
    return Clause(id=cid, doc=doc, path=(cid,), text=text, headings=headings)


GATE = _clause("g10", "更夫守则", "十、晚上九点钟以前 必须关闭大门。")
DRINK_A = _clause("z4", "值班人员管理规定", "四、上班时不准喝酒,不准回家吃饭。")
DRINK_B = _clause("g4", "更夫守则", "四、上班时不准喝酒,不准听收音机。")
OTHER = _clause("x1", "流程规范管理制度", "五、公司运行流程经总经理或董事长签批后正式生效。")


class ScriptedSearcher:
    """Returns canned answers, so the metrics can be checked by hand."""

    def __init__(self, script: dict[str, Answer]) -> None:
        self.script = script

    def ask(self, question: str, k: int = 3) -> Answer:
        answer = self.script[question]
        return Answer(answer.query, answer.answered, answer.hits[:k], answer.reason)


def test_title_matching_is_bracket_and_suffix_tolerant() -> None:
    assert title_matches("客户服务部规范化管理", "《客户服务部规范化管理》[1]")
    assert title_matches("信息服务管理规范", "(完整版)信息服务管理规范(运维)")
    assert title_matches("项目管理实施流程规范", "项目管理实施流程规范(1)")
    assert not title_matches("更夫守则", "更夫管理守则")
    assert not title_matches("IT服务管理规范", "信息服务管理规范")


def test_clause_correct_needs_document_and_text() -> None:
    q = Question("晚上几点关大门", ("更夫守则",), "晚上九点钟以前必须关闭大门")
    assert clause_correct(GATE, q)  # whitespace inside the clause text is ignored
    assert not clause_correct(DRINK_B, q)
    wrong_doc = Question("x", ("值班人员管理规定",), "晚上九点钟以前必须关闭大门")
    assert not clause_correct(GATE, wrong_doc)
    # A parser that keeps 值班人员管理规定 as a heading of 更夫管理守则 still counts.
    nested = _clause("n4", "更夫管理守则", DRINK_A.text, headings=("更夫管理守则", "值班人员管理规定"))
    assert clause_correct(nested, Question("x", ("值班人员管理规定",), "上班时不准喝酒"))


def test_evaluate_metrics_by_hand() -> None:
    questions = [
        Question("关门", ("更夫守则",), "晚上九点钟以前必须关闭大门"),  # rank 1, answered
        Question("喝酒", ("值班人员管理规定",), "上班时不准喝酒"),  # rank 2 via hit.also, abstained
        Question("流程", ("流程规范管理制度",), "正式生效"),  # not found
        Question("年假", (), None),  # out of scope, abstained
        Question("工资", (), None),  # out of scope, answered
    ]
    script = {
        "关门": Answer("关门", True, (Hit(GATE, 9.0), Hit(OTHER, 1.0))),
        "喝酒": Answer("喝酒", False, (Hit(GATE, 5.0), Hit(DRINK_B, 4.0, also=(DRINK_A,))), "low_score"),
        "流程": Answer("流程", True, (Hit(GATE, 2.0),)),
        "年假": Answer("年假", False, (Hit(OTHER, 0.5),), "low_coverage"),
        "工资": Answer("工资", True, (Hit(OTHER, 3.0),)),
    }
    report = evaluate(ScriptedSearcher(script), questions, k=1)
    assert (report.answerable, report.out_of_scope) == (3, 2)
    assert report.recall_at_1 == pytest.approx(1 / 3)
    assert report.recall_at_k == pytest.approx(1 / 3)  # k=1
    assert report.mrr == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert report.answered_correctly == pytest.approx(1 / 3)
    assert report.answerable_abstained == pytest.approx(1 / 3)
    assert report.oos_abstained == pytest.approx(1 / 2)
    assert [o.q for o in report.misses_at_1] == ["喝酒", "流程"]
    assert [o.q for o in report.wrongly_answered] == ["工资"]
    assert evaluate(ScriptedSearcher(script), questions, k=3).recall_at_k == pytest.approx(2 / 3)
    text = format_report(report, verbose=True)
    assert "Recall@1" in text and "工资" in text
    json.dumps(report_json(report), ensure_ascii=False)


# --- the engine on the question set ---------------------------------------------------------------


def _evaluate(factory: pytest.TempPathFactory, path: Path) -> Report:
    try:
        search = importlib.import_module("retrieval.search")
    except ModuleNotFoundError as err:
        if err.name == "retrieval.search":
            pytest.skip("retrieval.search does not exist yet")
        raise
    searcher = search.Searcher.from_seeds(SEEDS, factory.mktemp("quality-cache"))
    return evaluate(searcher, load_questions(path), k=3)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return _evaluate(tmp_path_factory, QUESTIONS)


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return _evaluate(tmp_path_factory, HELDOUT)


@pytest.fixture(scope="module")
def heldout2(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return _evaluate(tmp_path_factory, HELDOUT2)


def _failures(report: Report) -> str:
    return format_report(report, verbose=True)


def test_recall_at_1(report: Report) -> None:
    assert report.recall_at_1 >= MIN_RECALL_AT_1, _failures(report)  # aim: >= 0.85


def test_recall_at_3(report: Report) -> None:
    assert report.recall_at_k >= MIN_RECALL_AT_3, _failures(report)  # aim: >= 0.95


def test_mrr(report: Report) -> None:
    assert report.mrr >= MIN_MRR, _failures(report)


def test_out_of_scope_abstained(report: Report) -> None:
    assert report.oos_abstained >= MIN_OOS_ABSTAINED, _failures(report)  # aim: >= 7/8


def test_answerable_not_abstained(report: Report) -> None:
    assert report.answerable_abstained <= MAX_ANSWERABLE_ABSTAINED, _failures(report)  # aim: <= 5 %


def test_heldout_floors(heldout: Report) -> None:
    text = _failures(heldout)
    assert heldout.recall_at_1 >= HELDOUT_MIN_RECALL_AT_1, text  # aim: >= 0.85
    assert heldout.recall_at_k >= HELDOUT_MIN_RECALL_AT_3, text  # aim: >= 0.95
    assert heldout.mrr >= HELDOUT_MIN_MRR, text
    assert heldout.oos_abstained >= HELDOUT_MIN_OOS_ABSTAINED, text  # aim: >= 7/8
    assert heldout.answerable_abstained <= HELDOUT_MAX_ANSWERABLE_ABSTAINED, text  # aim: <= 5 %


def test_heldout2_floors(heldout2: Report) -> None:
    text = _failures(heldout2)
    assert heldout2.recall_at_1 >= HELDOUT2_MIN_RECALL_AT_1, text  # aim: >= 0.85
    assert heldout2.recall_at_k >= HELDOUT2_MIN_RECALL_AT_3, text  # aim: >= 0.95
    assert heldout2.mrr >= HELDOUT2_MIN_MRR, text
    assert heldout2.oos_abstained >= HELDOUT2_MIN_OOS_ABSTAINED, text  # aim: >= 7/8
    assert heldout2.answerable_abstained <= HELDOUT2_MAX_ANSWERABLE_ABSTAINED, text  # aim: <= 5 %
