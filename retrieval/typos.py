"""Typo robustness benchmark: the question sets again, with one pinyin-IME typo in each question.

    python -m retrieval.typos [--questions FILE]

For every answerable question, one word that the rules also use (the first such word of two or
more characters, as jieba cuts the question) gets one character replaced by the commonest OTHER
character with the same sound (tones ignored), as a phone IME offers it: 喝酒 → 喝久, 汇报 → 汇抱.
The report shows Recall@1 and "answered correctly" on the original questions, on the typo
questions without repair and with repair (`Searcher(fix_typos=...)`), side by side. Report only,
exit code 0. The typos are generated, never written into a question set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

from retrieval.quality import DEFAULT_QUESTIONS, DEFAULT_SEEDS, Question, Report, evaluate, load_questions
from retrieval.search import Searcher

# Only characters at least this common as words of their own are offered as the wrong character
# (an IME lists common characters first).
_MIN_CHAR_FREQ = 300


@cache
def _usual(ch: str) -> str:
    from pypinyin import Style, pinyin

    if not "\u4e00" <= ch <= "\u9fff":
        return ""
    return pinyin(ch, style=Style.NORMAL, heteronym=False, errors="ignore")[0][0]


def _by_sound(freq: dict[str, int]) -> dict[str, str]:
    """Sound → the commonest character with that usual sound (and the runner-up under "sound#2")."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    for word, count in freq.items():
        if len(word) == 1 and count >= _MIN_CHAR_FREQ and (sound := _usual(word)):
            ranked.setdefault(sound, []).append((count, word))
    out: dict[str, str] = {}
    for sound, chars in ranked.items():
        chars.sort(reverse=True)
        for n, (_count, ch) in enumerate(chars[:2], start=1):
            out[f"{sound}#{n}"] = ch
    return out


def typo_variant(searcher: Searcher, question: str, sounds: dict[str, str]) -> str | None:
    """The question with one homophone typo in its first rule word, or None when no character of
    such a word has a same-sound alternative."""
    vocab = searcher.index.vocab
    text = question
    at = 0
    for piece in searcher.tokenizer.cut(text):
        start = text.find(piece, at)
        at = start + len(piece) if start >= 0 else at
        word = searcher.tokenizer.synonyms.get(piece, piece)
        if start < 0 or len(piece) < 2 or word not in vocab or word in searcher.tokenizer.stopwords:
            continue
        for i in range(len(piece) - 1, -1, -1):  # the last character first: 汇报 → 汇抱
            ch = piece[i]
            sound = _usual(ch)
            other = sounds.get(f"{sound}#1")
            if other == ch:
                other = sounds.get(f"{sound}#2")
            if other and other != ch:
                return text[: start + i] + other + text[start + i + 1 :]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.typos", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS)
    parser.add_argument("--show", action="store_true", help="list the generated typo questions")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dutybot-typos-") as tmp:
        fixed = Searcher.from_seeds(args.seeds, Path(tmp))
        plain = Searcher.from_seeds(args.seeds, Path(tmp), fix_typos=False)
        fixed.tokenizer.load()
        assert fixed.tokenizer._jieba is not None
        sounds = _by_sound(fixed.tokenizer._jieba.FREQ)
        originals: list[Question] = []
        typos: list[Question] = []
        for q in load_questions(args.questions):
            if not q.answerable:
                continue
            variant = typo_variant(fixed, q.q, sounds)
            if variant is not None:
                originals.append(q)
                typos.append(replace(q, q=variant))
                if args.show:
                    print(f"{q.q}  →  {variant}  →  {fixed.repair(variant)}")
        rows: list[tuple[str, Report]] = [
            ("original questions", evaluate(fixed, originals)),
            ("typo, no repair", evaluate(plain, typos)),
            ("typo, repaired", evaluate(fixed, typos)),
        ]
    print(f"{len(typos)} answerable questions with a generated typo ({args.questions.name})")
    print(f"{'':22}{'Recall@1':>10}{'Recall@3':>10}{'answered ok':>13}{'abstained':>11}")
    for label, r in rows:
        print(
            f"{label:22}{100 * r.recall_at_1:9.1f}%{100 * r.recall_at_k:9.1f}%"
            f"{100 * r.answered_correctly:12.1f}%{100 * r.answerable_abstained:10.1f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
