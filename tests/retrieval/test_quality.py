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
from dataclasses import dataclass
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

HELDOUT3 = QUESTIONS.with_name("heldout3_questions.jsonl")
HELDOUT4 = QUESTIONS.with_name("heldout4_questions.jsonl")
HELDOUT5 = QUESTIONS.with_name("heldout5_questions.jsonl")
HELDOUT6 = QUESTIONS.with_name("heldout6_questions.jsonl")
HELDOUT7 = QUESTIONS.with_name("heldout7_questions.jsonl")
SETS = {
    "dev": QUESTIONS, "heldout": HELDOUT, "heldout2": HELDOUT2,
    "heldout3": HELDOUT3, "heldout4": HELDOUT4, "heldout5": HELDOUT5, "heldout6": HELDOUT6, "heldout7": HELDOUT7,
}


@dataclass(frozen=True)
class Floors:
    """Regression floors of one set: measured values minus a small margin (the aims are in the
    module docstring). A floor catches a regression; it is not the aim."""

    recall_at_1: float
    recall_at_3: float
    mrr: float
    oos_abstained: float
    max_answerable_abstained: float


# Measured with the engine of docs/quality.md (常见问法 in two rounds, related words, confidence
# abstention at 1.52 with the last sentence judged too), as R@1 / R@3 / MRR / out-of-scope abstained /
# answerable wrongly abstained (before this round's work in brackets):
#   dev       129 + 16  0.938 / 0.984 / 0.959 / 15/16 / 3/129   (.853 .930 .896 14/16 5/129)
#   heldout    50 + 12  0.900 / 0.960 / 0.927 / 12/12 / 6/50    (.840 .940 .896 11/12 3/50)
#   heldout2   75 + 13  0.907 / 0.987 / 0.942 / 11/13 / 6/75    (.800 .893 .848 12/13 13/75)
#   heldout3   88 + 15  0.909 / 0.966 / 0.939 / 11/15 / 6/88    (.739 .852 .798 10/15 16/88)
#   heldout4   61 + 14  0.902 / 0.967 / 0.939 / 13/14 / 6/61    (.639 .803 .739 10/14 16/61)
#   heldout5   91 + 15  0.879 / 0.989 / 0.933 / 12/15 / 17/91   (.637 .813 .725 10/15 38/91)
#   heldout6   86 + 21  0.849 / 0.919 / 0.890 / 19/21 / 19/86   (.616 .744 .698 12/21 41/86)
#   heldout7   69 + 16  0.855 / 0.971 / 0.914 / 13/16 / 11/69   (.710 .797 .761 12/16 20/69)
# heldout3-7 were written blind (no engine run); heldout7 after the last engine change, measured once.
# See docs/quality.md for when each of the others was measured.
FLOORS = {
    "dev": Floors(0.90, 0.96, 0.93, 0.87, 0.05),
    "heldout": Floors(0.86, 0.92, 0.89, 0.91, 0.16),
    "heldout2": Floors(0.86, 0.95, 0.91, 0.76, 0.12),
    "heldout3": Floors(0.87, 0.93, 0.91, 0.66, 0.11),
    "heldout4": Floors(0.86, 0.93, 0.90, 0.85, 0.14),
    "heldout5": Floors(0.84, 0.95, 0.90, 0.73, 0.23),
    "heldout6": Floors(0.81, 0.88, 0.86, 0.85, 0.27),
    "heldout7": Floors(0.81, 0.93, 0.88, 0.75, 0.20),
}


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


# Held-out sets: (at least this many answerable questions, spread over at least this many documents).
HELDOUT_SHAPES = {"heldout": (50, 15), "heldout3": (60, 15), "heldout4": (60, 15), "heldout5": (60, 15),
                  "heldout6": (60, 15), "heldout7": (60, 15)}


@pytest.mark.parametrize("name", list(HELDOUT_SHAPES))
def test_heldout_sets_are_well_formed_and_new(name: str) -> None:
    path, (min_answerable, min_docs) = SETS[name], HELDOUT_SHAPES[name]
    problems = _set_problems(path)
    assert not problems, "\n".join(problems)
    questions = load_questions(path)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= min_answerable
    assert len(questions) - len(answerable) >= 12
    names = list(SETS)
    earlier = {re.sub(r"\s+", "", q.q) for n in names[: names.index(name)] for q in load_questions(SETS[n])}
    assert not [q.q for q in questions if re.sub(r"\s+", "", q.q) in earlier]
    assert len({d for q in questions for d in q.docs}) >= min_docs


def test_askings_copy_no_question_of_a_set() -> None:
    """The 常见问法 teach the engine how staff talk; a test question copied into them would measure
    nothing. Lines close to a set's question (difflib ratio >= 0.8) were left out when the file was
    written, and must stay out."""
    import difflib

    questions = [q.q for path in SETS.values() for q in load_questions(path)]
    lines = [
        line.strip() for line in (SEEDS / "askings.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "[", "【"))
    ]
    close = []
    for line in lines:
        matcher = difflib.SequenceMatcher(None, b=line)  # b is the side difflib indexes once
        for q in questions:
            if 2 * min(len(q), len(line)) < 0.8 * (len(q) + len(line)):
                continue  # lengths alone keep the ratio below 0.8
            matcher.set_seq1(q)
            if matcher.real_quick_ratio() >= 0.8 and matcher.quick_ratio() >= 0.8 and matcher.ratio() >= 0.8:
                close.append((line, q))
    assert not close, close[:10]


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


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every set, asked once of one engine built from the real seeds."""
    try:
        search = importlib.import_module("retrieval.search")
    except ModuleNotFoundError as err:
        if err.name == "retrieval.search":
            pytest.skip("retrieval.search does not exist yet")
        raise
    searcher = search.Searcher.from_seeds(SEEDS, tmp_path_factory.mktemp("quality-cache"))
    return {name: evaluate(searcher, load_questions(path), k=3) for name, path in SETS.items()}


def _failures(report: Report) -> str:
    return format_report(report, verbose=True)


@pytest.mark.parametrize("name", list(SETS))
def test_quality_floors(reports: dict[str, Report], name: str) -> None:
    report, floors = reports[name], FLOORS[name]
    text = _failures(report)
    assert report.recall_at_1 >= floors.recall_at_1, text  # aim: >= 0.85
    assert report.recall_at_k >= floors.recall_at_3, text  # aim: >= 0.95
    assert report.mrr >= floors.mrr, text
    assert report.oos_abstained >= floors.oos_abstained, text  # aim: >= 7/8
    assert report.answerable_abstained <= floors.max_answerable_abstained, text  # aim: <= 5 %
