"""Retrieval quality benchmark: how often the right clause comes back for how staff actually ask.

Run as a report (exit code is always 0):

    python -m retrieval.quality [--questions FILE] [-k 3] [--verbose] [--json]

The question set is JSON lines, one question a line:

    {"q": "晚上几点关大门", "doc": ["更夫守则"], "expect": "晚上九点钟以前必须关闭大门"}
    {"q": "年假一年有几天", "doc": [], "expect": null}

`doc` lists every document title where the answer is printed; `expect` is a verbatim piece of the
answering clause. A returned clause is correct when it sits in one of those documents and its text
contains `expect` (whitespace ignored); a hit is correct when its clause or one of the same-rule
clauses collapsed into it (`hit.also`) is. A question with no `doc`/`expect` is out of scope: the
right behaviour is to abstain (`answered=False`).

Metrics, over answerable questions unless said otherwise:
  Recall@1, Recall@k   a correct hit at rank 1 / within the first k hits (ranking only, whether or
                       not the engine decided to answer)
  MRR@10               mean of 1/rank of the first correct hit among 10 hits (0 when none)
  answered correctly   answered=True and the first hit correct: what the user actually sees
  wrongly abstained    answerable questions with answered=False
  out-of-scope abstained  out-of-scope questions with answered=False

This module only depends on `retrieval`; `evaluate()` works with anything that has
`ask(question, k) -> Answer`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from retrieval.model import Answer, Clause, Hit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEEDS = PROJECT_ROOT / "seeds"
DEFAULT_QUESTIONS = PROJECT_ROOT / "tests" / "data" / "dev_questions.jsonl"
MRR_DEPTH = 10

_SPACE = re.compile(r"\s+")
_BRACKETS = re.compile(r"[《》〈〉()\[\]【】〔〕{}<>]")


class Asker(Protocol):
    def ask(self, question: str, k: int = 3) -> Answer: ...


@dataclass(frozen=True)
class Question:
    q: str
    docs: tuple[str, ...] = ()
    expect: str | None = None
    line: int = 0

    @property
    def answerable(self) -> bool:
        return self.expect is not None


def load_questions(path: Path) -> list[Question]:
    """Read a JSON-lines question set; blank lines and lines starting with # are skipped."""
    out: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = json.loads(line)
        out.append(Question(q=row["q"], docs=tuple(row.get("doc") or ()), expect=row.get("expect"), line=number))
    return out


# --- matching -------------------------------------------------------------------------------------


def squash(text: str) -> str:
    """Compare form: NFKC (full-width → half-width), no whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def title_key(title: str) -> str:
    """A document title without brackets, spaces or width differences: 《A》[1] → A1, (完整版)B(运维) → 完整版B运维."""
    return _BRACKETS.sub("", squash(title))


def title_matches(expected: str, title: str) -> bool:
    """Titles match when one contains the other once brackets are stripped (robust to [1], (doc 10页) …)."""
    a, b = title_key(expected), title_key(title)
    return bool(a) and bool(b) and (a in b or b in a)


def in_docs(clause: Clause, docs: Iterable[str]) -> bool:
    """The clause sits in one of the documents: by its document title, or under a heading that carries
    the expected title (a parser may keep e.g. 值班人员管理规定 as a heading of 更夫管理守则)."""
    for expected in docs:
        if title_matches(expected, clause.doc):
            return True
        key = title_key(expected)
        if len(key) >= 4 and any(key in title_key(h) for h in clause.headings):
            return True
    return False


def clause_correct(clause: Clause, question: Question) -> bool:
    if question.expect is None:
        return False
    return in_docs(clause, question.docs) and squash(question.expect) in squash(clause.text)


def hit_correct(hit: Hit, question: Question) -> bool:
    return any(clause_correct(c, question) for c in (hit.clause, *hit.also))


# --- evaluation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HitView:
    citation: str
    score: float
    correct: bool
    matched: tuple[str, ...]
    preview: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    q: str
    docs: tuple[str, ...]
    expect: str | None
    answered: bool
    reason: str | None
    # 1-based rank of the first correct hit among the MRR_DEPTH returned, None when none is correct.
    rank: int | None
    hits: tuple[HitView, ...]
    seconds: float
    # The question's search terms and the best hit's coverage, when the engine reports them.
    terms: tuple[str, ...] = ()
    coverage: float | None = None

    @property
    def answerable(self) -> bool:
        return self.expect is not None


@dataclass
class Report:
    k: int
    answerable: int
    out_of_scope: int
    recall_at_1: float
    recall_at_k: float
    mrr: float
    answered_correctly: float
    answerable_abstained: float
    oos_abstained: float
    mean_seconds: float
    outcomes: list[Outcome] = field(default_factory=list, repr=False)

    @property
    def misses_at_1(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answerable and o.rank != 1]

    @property
    def misses_at_k(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answerable and (o.rank is None or o.rank > self.k)]

    @property
    def wrongly_abstained(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answerable and not o.answered]

    @property
    def wrongly_answered(self) -> list[Outcome]:
        """Out-of-scope questions the engine answered anyway."""
        return [o for o in self.outcomes if not o.answerable and o.answered]

    def summary(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if k != "outcomes"}


def _view(hit: Hit, question: Question) -> HitView:
    text = hit.clause.text
    return HitView(
        citation=hit.clause.citation,
        score=round(float(hit.score), 4),
        correct=hit_correct(hit, question),
        matched=tuple(hit.matched),
        preview=text if len(text) <= 60 else text[:60] + "…",
        also=tuple(c.citation for c in hit.also),
    )


def ask_one(searcher: Asker, question: Question, depth: int = MRR_DEPTH) -> Outcome:
    start = time.perf_counter()
    answer = searcher.ask(question.q, k=depth)
    seconds = time.perf_counter() - start
    views = tuple(_view(h, question) for h in answer.hits[:depth])
    rank = next((i for i, v in enumerate(views, start=1) if v.correct), None)
    return Outcome(
        q=question.q,
        docs=question.docs,
        expect=question.expect,
        answered=bool(answer.answered),
        reason=answer.reason,
        rank=rank,
        hits=views,
        seconds=seconds,
        terms=tuple(getattr(answer, "terms", ()) or ()),
        coverage=getattr(answer, "coverage", None),
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def evaluate(searcher: Asker, questions: Sequence[Question], k: int = 3) -> Report:
    """Ask every question once (MRR_DEPTH hits) and score the ranking and the answer/abstain decision."""
    outcomes = [ask_one(searcher, q, max(k, MRR_DEPTH)) for q in questions]
    ans = [o for o in outcomes if o.answerable]
    oos = [o for o in outcomes if not o.answerable]
    return Report(
        k=k,
        answerable=len(ans),
        out_of_scope=len(oos),
        recall_at_1=_share(sum(o.rank == 1 for o in ans), len(ans)),
        recall_at_k=_share(sum(o.rank is not None and o.rank <= k for o in ans), len(ans)),
        mrr=_share(sum(1.0 / o.rank for o in ans if o.rank is not None and o.rank <= MRR_DEPTH), len(ans)),
        answered_correctly=_share(sum(o.answered and o.rank == 1 for o in ans), len(ans)),
        answerable_abstained=_share(sum(not o.answered for o in ans), len(ans)),
        oos_abstained=_share(sum(not o.answered for o in oos), len(oos)),
        mean_seconds=_share(sum(o.seconds for o in outcomes), len(outcomes)),
        outcomes=outcomes,
    )


# --- report ---------------------------------------------------------------------------------------


def _corpus_clauses(seeds_dir: Path, searcher: object = None) -> list[Clause] | None:
    """Every parsed clause, to tell "the answer exists but ranked low" from "the parser lost it"."""
    known = getattr(searcher, "clauses", None)
    if known is not None:
        return list(known)
    try:
        from retrieval.corpus import parse_text

        clauses: list[Clause] = []
        for path in sorted((seeds_dir / "regulations").glob("*.txt")):
            for doc in parse_text(path.read_text(encoding="utf-8-sig")):
                clauses.extend(doc.clauses)
        return clauses
    except Exception:  # diagnostics only: the corpus API may differ or not exist yet
        return None


def _cov(o: Outcome) -> str:
    return "" if o.coverage is None else f", coverage {o.coverage:.2f}"


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def format_report(report: Report, verbose: bool = False, clauses: list[Clause] | None = None) -> str:
    n_ans, n_oos = report.answerable, report.out_of_scope
    lines = [
        f"questions: {n_ans} answerable, {n_oos} out of scope   (mean {1000 * report.mean_seconds:.1f} ms/question)",
        f"Recall@1            {_pct(report.recall_at_1)}   ({n_ans - len(report.misses_at_1)}/{n_ans})",
        f"Recall@{report.k:<2}           {_pct(report.recall_at_k)}   ({n_ans - len(report.misses_at_k)}/{n_ans})",
        f"MRR@{MRR_DEPTH}              {report.mrr:.3f}",
        f"answered correctly  {_pct(report.answered_correctly)}   (answered and first hit right)",
        f"wrongly abstained   {_pct(report.answerable_abstained)}   "
        f"({len(report.wrongly_abstained)}/{n_ans} answerable questions)",
        f"out-of-scope abstained {_pct(report.oos_abstained)}"
        f"   ({n_oos - len(report.wrongly_answered)}/{n_oos})",
    ]
    if not verbose:
        return "\n".join(lines)

    def where_is_answer(o: Outcome) -> str:
        if clauses is None:
            return ""
        q = Question(o.q, o.docs, o.expect)
        found = [c.citation for c in clauses if clause_correct(c, q)]
        return f"      answer clause: {' | '.join(found)}" if found else "      answer clause: NOT FOUND in parsed corpus (parser?)"

    def show_hits(o: Outcome, n: int) -> list[str]:
        out = []
        for i, h in enumerate(o.hits[:n], start=1):
            mark = "✓" if h.correct else " "
            out.append(f"   {mark}{i}. {h.score:7.3f} {h.citation}  [{' '.join(h.matched)}]  {h.preview}")
        return out

    lines += ["", f"--- answerable, first hit wrong ({len(report.misses_at_1)}) ---"]
    for o in report.misses_at_1:
        rank = f"rank {o.rank}" if o.rank else f"not in top {MRR_DEPTH}"
        status = "answered" if o.answered else f"abstained ({o.reason})"
        lines.append(f"?  {o.q}   → {rank}, {status}, terms [{' '.join(o.terms)}]{_cov(o)}")
        lines.append(f"      expected: 《{'》《'.join(o.docs)}》 … {o.expect}")
        where = where_is_answer(o)
        if where:
            lines.append(where)
        lines += show_hits(o, 3)
    abstained_ok = [o for o in report.wrongly_abstained if o.rank == 1]
    lines += ["", f"--- answerable, right first hit but abstained ({len(abstained_ok)}) ---"]
    for o in abstained_ok:
        lines.append(f"?  {o.q}   → reason {o.reason}, terms [{' '.join(o.terms)}]{_cov(o)}")
        lines += show_hits(o, 1)
    lines += ["", f"--- out of scope but answered ({len(report.wrongly_answered)}) ---"]
    for o in report.wrongly_answered:
        lines.append(f"?  {o.q}   → terms [{' '.join(o.terms)}]{_cov(o)}")
        lines += show_hits(o, 1)
    return "\n".join(lines)


def report_json(report: Report) -> dict[str, object]:
    return {"summary": report.summary(), "outcomes": [asdict(o) for o in report.outcomes]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSON-lines question set")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="seeds folder (regulations, lexicon)")
    parser.add_argument("--cache", type=Path, default=None, help="index cache folder (default: a fresh temp dir)")
    parser.add_argument("-k", type=int, default=3, help="Recall@k cut-off (default 3)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every failure")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    from retrieval.search import Searcher

    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="dutybot-quality-") as tmp:
        searcher = Searcher.from_seeds(args.seeds, args.cache or Path(tmp))
        report = evaluate(searcher, questions, k=args.k)
        clauses = _corpus_clauses(args.seeds, searcher) if args.verbose else None
    if args.json:
        json.dump(report_json(report), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print(format_report(report, verbose=args.verbose, clauses=clauses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
