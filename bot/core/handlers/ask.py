"""Rules Q&A: a staff question in, the rule's own words with their citation out."""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol

from bot.core import texts
from retrieval.highlight import highlight
from retrieval.model import Answer, Hit

# A related clause is listed under the answer only when it scores close to the best one.
RELATED_MIN_RATIO = 0.6
RELATED_PREVIEW_CHARS = 40
# An unanswered question whose best clause came this close to the answer threshold (confidence,
# see retrieval/search.py; answered from 1.52) is told "no rule answers this directly" and shown that
# clause as the closest, clearly marked as such. Measured on the seven question sets
# (docs/quality.md): from 1.2, 30 of the 38 answerable questions abstained on with the right clause
# first get that clause, while 60 of the 92 out-of-scope ones abstained on keep the plain
# "没有找到相关规定" (1.1: 34/38 and 36/92).
CLOSEST_MIN_CONFIDENCE = 1.2

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


class QuestionAnswerer(Protocol):
    def ask(self, question: str, k: int = 3) -> Answer: ...


def clean_question(text: str) -> str:
    """Drop control and format characters and fold whitespace, so pasted junk cannot confuse search."""
    kept = (" " if unicodedata.category(ch) == "Zs" or ch in "\t\r\n" else ch for ch in text)
    kept = (ch for ch in kept if unicodedata.category(ch)[0] != "C")
    return " ".join("".join(kept).split())


def problem_with(question: str, max_chars: int) -> str | None:
    """A reply for a question that cannot be searched, or None when it can."""
    if not question:
        return texts.EMPTY_QUESTION
    if len(question) > max_chars:
        return texts.TOO_LONG.format(length=len(question), limit=max_chars)
    if not _WORDLIKE.search(question):
        return texts.NOT_UNDERSTOOD
    return None


def answer_question(searcher: QuestionAnswerer, raw: str, *, k: int = 3, max_chars: int = 500) -> str:
    """The chat reply to a question: the best clause verbatim with its citation, or an honest no."""
    return reply_to_question(searcher, raw, k=k, max_chars=max_chars)[0]


def reply_to_question(
    searcher: QuestionAnswerer, raw: str, *, k: int = 3, max_chars: int = 500
) -> tuple[str, str | None]:
    """The reply, and why the question was not answered (None when it was, "" when it was no
    question at all — empty, emoji, too long — so there is nothing for an admin to learn from)."""
    question = clean_question(raw)
    problem = problem_with(question, max_chars)
    if problem:
        return problem, ""
    answer = searcher.ask(question, k=k)
    if not answer.answered or not answer.hits:
        if answer.hits and answer.reason == "low_confidence" and answer.confidence >= CLOSEST_MIN_CONFIDENCE:
            best = answer.hits[0]
            closest = texts.NO_EXACT_RULE.format(citation=best.clause.citation, text=_preview(best, 80))
            return closest, answer.reason
        hint = texts.NO_RULE_HINT if _CJK.search(question) else texts.USE_CHINESE
        return f"{texts.NO_RULE}{hint}", answer.reason or "no_match"
    return format_answer(answer), None


def format_answer(answer: Answer) -> str:
    best = answer.hits[0]
    lines = [best.clause.citation, highlight(best.clause.text, best.matched)]
    if best.also:
        lines.append(texts.SAME_RULE_ALSO_IN.format(citations="、".join(c.citation for c in best.also)))
    related = [h for h in answer.hits[1:] if h.score >= best.score * RELATED_MIN_RATIO]
    if related:
        lines += ["", texts.RELATED]
        lines += [f"· {h.clause.citation} {_preview(h)}" for h in related]
    return "\n".join(lines)


def _preview(hit: Hit, chars: int = RELATED_PREVIEW_CHARS) -> str:
    text = hit.clause.text
    return text if len(text) <= chars else text[:chars] + "…"
