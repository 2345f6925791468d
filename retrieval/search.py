"""Question → the best clauses, and the decision whether any rule really covers the question.

Ranking, in two steps:
  1. BM25 (`BM25Index`, equal to rank_bm25 over the token lists) over each clause's tokens: its text,
     its heading path, the lead-in sentence of the list it belongs to ("…确定是否需要立项:" is
     context of each item below it, not a rule of its own), its document title and the admin's
     常见问法 for it (seeds/askings.txt, retrieval/askings.py: the everyday ways staff ask about it). The question's
     words count `word_repeat` times, its sub-words and characters once: a whole-word match
     outweighs a few shared characters.
  2. The best `RERANK_DEPTH` hits are re-ordered by score × (rerank_alpha + overlap), where overlap
     is the idf-weighted share of the question's distinct words the clause contains (see
     `_overlaps`): a clause that matches most of the question beats one that repeats a single word.
     A clause that states the kind of fact the question asks for (a time for 多久/几点, an amount
     for 多少钱, a head count for 几个人, a definition for 什么意思/啥情况算) gets a further
     × (1 + answer_type_boost): see retrieval/answertype.py.
Near-identical clauses (`Clause.also_in`) are folded into one hit.

The rules speak in general words, staff of specific things: a question naming 梯子 also searches 物资,
one naming 刷抖音 also searches 无关 (seeds/lexicon/related.txt, `Tokenizer.related`). The general word
is added to the BM25 query `related_repeat` times, and a clause holding it covers the specific word
for re-ranking and abstention with `related_credit` of that word's weight.

Before any of this, `repair` fixes one-character pinyin-IME typos against the rules' words
(消访 → 消防, 保正金 → 保证金; retrieval/homophone.py), unless `fix_typos=False`.

Abstention looks at the best hit. `reason` says why a question was not answered:
  "empty"           the question has no search terms (only punctuation, emoji, question words …)
  "no_match"        no clause shares a single term with it
  "low_confidence"  confidence < min_confidence, where
                        confidence = coverage + score_credit × ln(1 + score) − gap_penalty × gap
                    coverage = weight of the question's distinct words the best clause contains
                               / weight of all of them
                    counted on whole words (a word, or a character the clause has inside a word;
                    never the loose characters of a missing longer word; a specific thing counts as
                    contained when the clause holds its general word from related.txt). A word
                    weighs how rare it is in ordinary Chinese (`Tokenizer.rarity`, from jieba's word
                    frequencies) above COMMON_RARITY, the rarity of the commonest content words (人,
                    用, 月). So what a rule must share with the question is its specific words:
                    年假一年有几天 shares only 一年 with 一年一申报, while 年假 (rarity 14.9) is in no
                    rule.
                    score = the best hit's final score: a strong match may rest on fewer words.
                    gap = the weight of the most specific question word the clause lacks (对讲机 in
                    巡逻要带对讲机吗). It helped while the 常见问法 were few; with two rounds of
                    them it only cost answerable questions, so gap_penalty is 0 by default (it is
                    still shown by `explain`).
                    A question of several sentences is also judged by its last one against the same
                    clause, and the better confidence counts: a story comes first, the ask last
                    (…路灯也坏了,这种时候能不能回家吃个饭再来), and the story's words dilute coverage.
  "low_score"       BM25 score of the best hit < min_score: the match rests on too little evidence.
The thresholds are constructor parameters, calibrated on the development and held-out question sets
together (`python -m retrieval.quality`, tests/data/*.jsonl).

`from_seeds` keeps the prepared index in `cache_dir`, keyed by a hash of every input (seed files,
parsed clauses, tokenizer settings and code, format version), so a second start skips cutting the
corpus and any change to the inputs rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from retrieval.answertype import asked, stated
from retrieval.askings import ASKINGS, load_askings
from retrieval.highlight import highlight
from retrieval.homophone import HomophoneFixer, ReadingTable, reading_table
from retrieval.index import BM25Index, FloatArray, ranked, save_arrays
from retrieval.lexicon import load_lexicon
from retrieval.model import Answer, Clause, Hit
from retrieval.tokenize import QUESTION_WORDS, Analysis, Tokenizer, normalize

log = logging.getLogger(__name__)

# Bump when the cached index layout changes.
FORMAT_VERSION = 1
_CACHE_PREFIX = "index-"
_READINGS_PREFIX = "readings-"

# Abstention: see the module doc and docs/quality.md for how these were measured (leave-one-set-out
# over six question sets: score credit 0.2-0.35 with no gap penalty is best; 1.52 is the middle of
# the thresholds 1.49-1.56 where 87 % of out-of-scope questions are refused). min_score (on a hit's
# final score) guards against a hit resting on a stray character.
DEFAULT_MIN_CONFIDENCE = 1.52
DEFAULT_SCORE_CREDIT = 0.25
DEFAULT_GAP_PENALTY = 0.0
DEFAULT_MIN_SCORE = 6.0
# Words as common as these carry no topic (人 5.3, 用 6.7, 月 6.3, 被 6.3 …): rarity up to this
# weighs nothing in coverage. Measured: 6 gives AUC 0.962 (answerable vs out of scope) against 0.958
# for the plain rarity; 4-7 are alike.
COMMON_RARITY = 6.0
# Typo repair (retrieval/homophone.py) leaves a span alone when one of its unchanged loose characters
# is at least this common as a word on its own (人 5.3, 到 5.7, 打 7.5; 汇 10.8, 消 10.5, 金 8.3).
COMMON_CHAR_RARITY = 7.0
# Query words count this many times in BM25 (sub-words and characters once). Measured with everything
# else as shipped: 1 → 3 is Recall@1 83.7 → 83.7 % on dev and 78 → 84 % on held-out; 3-6 are alike.
DEFAULT_WORD_REPEAT = 3
# Re-ranking of the best RERANK_DEPTH hits by score × (alpha + overlap). Measured on the engine as it
# was before (plain BM25): off → 0.5 is Recall@1 79.1 → 82.2 % on dev and 64 → 76 % on held-out;
# alpha 0.2-1.0 and depths 10-50 are alike.
DEFAULT_RERANK_ALPHA: float | None = 0.5
RERANK_DEPTH = 20
# Re-ranking bonus for a clause that states the kind of fact the question asks for (time, money,
# count, definition: retrieval/answertype.py). Measured with time/money/count only, dev Recall@1:
# off 83.7, 0.1 83.7, 0.2 84.5, 0.3 84.5, 0.5 85.3 %; both held-out sets unchanged at every value.
# 0.3 is the middle of the range that helps, not its edge.
DEFAULT_ANSWER_TYPE_BOOST = 0.3
# General words of related.txt in the BM25 query (times) and their coverage credit (share of the
# specific word's weight). Measured: see docs/quality.md.
DEFAULT_RELATED_REPEAT = 1
DEFAULT_RELATED_CREDIT = 1.0
# Times each 常见问法 line is counted in its clause's tokens. Measured: see docs/quality.md.
DEFAULT_ASKING_WEIGHT = 1
# Where a question's sentences (and spoken pauses typed as spaces or commas) end.
_SENTENCES = re.compile(r"[,，。！？!?；;、\s]+")
# Sentence ends inside a clause text: a lead-in is the part after the last of them.
_SENTENCE_END = "。！？!?；;"


class Searcher:
    def __init__(
        self,
        clauses: Sequence[Clause],
        tokenizer: Tokenizer,
        *,
        index: BM25Index | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        score_credit: float = DEFAULT_SCORE_CREDIT,
        gap_penalty: float = DEFAULT_GAP_PENALTY,
        min_score: float = DEFAULT_MIN_SCORE,
        heading_weight: int = 1,
        title_weight: int = 1,
        fold_lead_ins: bool = True,
        word_repeat: int = DEFAULT_WORD_REPEAT,
        rerank_alpha: float | None = DEFAULT_RERANK_ALPHA,
        fix_typos: bool = True,
        answer_type_boost: float = DEFAULT_ANSWER_TYPE_BOOST,
        related_repeat: int = DEFAULT_RELATED_REPEAT,
        related_credit: float = DEFAULT_RELATED_CREDIT,
        askings: Mapping[str, Sequence[str]] | None = None,
        asking_weight: int = DEFAULT_ASKING_WEIGHT,
        judge_last_sentence: bool = True,
    ) -> None:
        """`index` may be a prepared (cached) index over exactly these clauses; built when omitted."""
        self._clauses = tuple(clauses)
        self.tokenizer = tokenizer
        self.min_confidence = min_confidence
        self.score_credit = score_credit
        self.gap_penalty = gap_penalty
        self.min_score = min_score
        self.heading_weight = heading_weight
        self.title_weight = title_weight
        self.fold_lead_ins = fold_lead_ins
        self.word_repeat = max(word_repeat, 1)
        self.rerank_alpha = rerank_alpha
        self.askings: Mapping[str, Sequence[str]] = askings or {}
        self.asking_weight = asking_weight
        self.judge_last_sentence = judge_last_sentence
        if index is None:
            index = BM25Index(self.clause_tokens())
        if index.size != len(self._clauses):
            raise ValueError(f"index has {index.size} documents for {len(self._clauses)} clauses")
        self.index = index
        self.fix_typos = fix_typos
        self.answer_type_boost = answer_type_boost
        self.related_repeat = related_repeat
        self.related_credit = related_credit
        self._stated = [stated(c.text) for c in self._clauses]
        self._fixer: HomophoneFixer | None = None
        # Where `from_seeds` keeps the typo repair's readings (None: ask pypinyin each process).
        self.readings_cache: Path | None = None
        self._position = {c.id: i for i, c in enumerate(self._clauses)}
        self._group = _same_rule_groups(self._clauses)
        self._members: dict[int, list[int]] = {}
        for i, g in enumerate(self._group):
            self._members.setdefault(g, []).append(i)

    # ---- construction --------------------------------------------------------------------------

    @classmethod
    def from_seeds(cls, seeds_dir: Path, cache_dir: Path | None = None, **options: Any) -> Searcher:
        """Load the lexicon and regulations under `seeds_dir`; reuse a cached index when one matches.

        Raises `SeedError` when a lexicon file is wrong. `options` go to the constructor (thresholds,
        weights) except `tokenizer_options`, a dict for `Tokenizer`.
        """
        from retrieval.corpus import all_clauses, load_corpus

        lexicon = load_lexicon(seeds_dir / "lexicon")
        docs = load_corpus(seeds_dir / "regulations")
        clauses = all_clauses(docs)
        options.setdefault("askings", load_askings(seeds_dir / ASKINGS, docs))
        tokenizer = Tokenizer(lexicon, cache_dir, **options.pop("tokenizer_options", {}))
        tokenizer.load()
        if cache_dir is None:
            return cls(clauses, tokenizer, **options)
        index_options = (
            options.get("heading_weight", 1),
            options.get("title_weight", 1),
            options.get("fold_lead_ins", True),
            options.get("asking_weight", DEFAULT_ASKING_WEIGHT),
        )
        key = _cache_key(seeds_dir, clauses, tokenizer, index_options, options["askings"])
        path = cache_dir / f"{_CACHE_PREFIX}{key}.npz"
        index = _load_index(path, len(clauses))
        searcher = cls(clauses, tokenizer, index=index, **options)
        if index is None:
            _save_index(searcher.index, path)
        searcher.readings_cache = cache_dir / f"{_READINGS_PREFIX}{key}-{_pypinyin_version()}.bin"
        return searcher

    def clause_tokens(self) -> list[list[str]]:
        """The token list indexed for each clause: its text, then its headings, the lead-ins above it
        (both repeated by `heading_weight`), its document title (by `title_weight`) and its
        常见问法 (by `asking_weight`).

        A clause that is nothing but a lead-in ("…根据实施的难易程度及经费投入情况,确定是否需要立项:")
        indexes no text of its own: its words are in every item below it, and as a hit of its own it
        would outrank the items that hold the actual rule.
        """
        memo: dict[str, list[str]] = {}

        def cut(text: str) -> list[str]:
            if text not in memo:
                memo[text] = self.tokenizer.tokens(text)
            return memo[text]

        leads = _lead_ins(self._clauses) if self.fold_lead_ins else {}
        out: list[list[str]] = []
        for clause in self._clauses:
            lead = leads.get((clause.doc, clause.path))
            only_lead = lead is not None and lead == _strip_colon(clause.text)
            tokens = [] if only_lead else list(self.tokenizer.tokens(clause.text))
            for heading in clause.headings:
                if heading != clause.doc:  # the title is counted below, once
                    tokens += cut(heading) * self.heading_weight
            for n in range(1, len(clause.path)):
                above = leads.get((clause.doc, clause.path[:n]))
                if above is not None:
                    tokens += cut(above) * self.heading_weight
            tokens += cut(clause.doc) * self.title_weight
            for asking in self.askings.get(clause.id, ()):
                tokens += self.tokenizer.tokens(asking) * self.asking_weight
            out.append(tokens)
        return out

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return self._clauses

    # ---- querying ------------------------------------------------------------------------------

    def terms(self, question: str) -> list[str]:
        """The question's BM25 query: its words (`word_repeat` times), sub-words and characters."""
        return self.query_tokens(self.analyze(question))

    def analyze(self, question: str) -> Analysis:
        """The question's terms, after repairing pinyin-IME typos against the rules' words
        (`fix_typos`, see retrieval/homophone.py)."""
        if not self.fix_typos:
            return self.tokenizer.analyze(question)
        return self.tokenizer.analyze(self.repair(question))

    def repair(self, question: str) -> str:
        """The normalised question with its one-character homophone typos repaired (消访 → 消防)."""
        text = normalize(question)
        tk = self.tokenizer
        return self._typo_fixer().fix(
            text,
            tk.word_spans(text),
            tk.stopwords.__contains__,
            lambda c: tk.rarity(c) < COMMON_CHAR_RARITY,
            QUESTION_WORDS.__contains__,
        )

    def _typo_fixer(self) -> HomophoneFixer:
        """Built on first use: the rules' multi-character words, weighted by how many rules hold
        them, plus every lexicon word (a typo of 抽烟 is repaired to 抽烟, then mapped to 吸烟)."""
        if self._fixer is None:
            df: dict[str, float] = dict(self.index.document_frequencies())
            for word, canonical in self.tokenizer.synonyms.items():
                df.setdefault(word, df.get(canonical, 0))
            words = [*df, *(w.word for w in self.tokenizer.lexicon.userdict)]
            vocabulary = [w for w in words if w not in self.tokenizer.stopwords]
            fixer = HomophoneFixer(vocabulary, df)
            if self.readings_cache is not None:
                fixer.use_readings(_reading_table(self.readings_cache, fixer.words))
            self._fixer = fixer
        return self._fixer

    def query_tokens(self, analysis: Analysis) -> list[str]:
        """Each word `word_repeat` times, then the sub-words and characters once, then the general
        words of related.txt `related_repeat` times (see the module doc)."""
        general = list(dict.fromkeys(g for gs in self.general_words(analysis).values() for g in gs))
        return [*analysis.words * self.word_repeat, *analysis.subwords, *analysis.chars, *general * self.related_repeat]

    def general_words(self, analysis: Analysis) -> dict[str, tuple[str, ...]]:
        """Question word → the rules' general words it falls under (梯子 → 物资), leaving out those the
        question already says."""
        said = set(analysis.words)
        out: dict[str, tuple[str, ...]] = {}
        for word in analysis.words:
            general = tuple(g for g in self.tokenizer.related.get(word, ()) if g not in said)
            if general:
                out[word] = general
        return out

    def ask(self, question: str, k: int = 3) -> Answer:
        analysis = self.analyze(question)
        terms = analysis.tokens
        hits = self._ranked_hits(analysis, k, asked(normalize(question)))
        if not terms:
            return Answer(question, False, hits, "empty", terms=())
        if not hits or hits[0].score <= 0:
            return Answer(question, False, hits, "no_match", terms=tuple(terms))
        best = self._index_of(hits[0].clause)
        coverage, gap = self._support(analysis, best)
        confidence = self.confidence(coverage, hits[0].score, gap)
        tail = self._last_sentence(question) if self.judge_last_sentence else None
        if tail is not None:
            tail_coverage, tail_gap = self._support(tail, best)
            confidence = max(confidence, self.confidence(tail_coverage, hits[0].score, tail_gap))
        reason = None
        if confidence < self.min_confidence:
            reason = "low_confidence"
        elif hits[0].score < self.min_score:
            reason = "low_score"
        return Answer(
            question, reason is None, hits, reason, terms=tuple(terms), coverage=coverage, confidence=confidence
        )

    def _last_sentence(self, question: str) -> Analysis | None:
        """The last sentence of a question that tells a story first (…也没啥损失,这事还用跟领导说一声不),
        analysed on its own; None for a one-sentence question. A last sentence with fewer than two
        words (这样行不) takes the one before it along."""
        parts = [p for p in _SENTENCES.split(normalize(question)) if p]
        if len(parts) < 2:
            return None
        tail = self.analyze(parts[-1])
        if len(set(tail.words)) < 2:
            if len(parts) < 3:
                return None
            tail = self.analyze(parts[-2] + parts[-1])
        return tail if len(set(tail.words)) >= 2 else None

    def confidence(self, coverage: float, score: float, gap: float) -> float:
        """The abstention measure (see the module doc): answered when at least `min_confidence`."""
        return coverage + self.score_credit * math.log1p(max(score, 0.0)) - self.gap_penalty * gap

    def coverage(self, analysis: Analysis, doc_index: int) -> float:
        return self._support(analysis, doc_index)[0]

    def _support(self, analysis: Analysis, doc_index: int) -> tuple[float, float]:
        """(coverage, gap) of one clause for the question, see `coverage`."""
        """Share of the question's specific words that one clause contains (the abstention measure).

        Each distinct word weighs max(rarity − COMMON_RARITY, 0), its rarity in ordinary Chinese
        (for a synonym, the lower of the word as written and its canonical word: 值夜班 is as common
        as 上班). A word counts when the clause has it as a term: a word, a sub-word, or — for a
        one-character word — a character of one of its words (扣 in 扣留). Loose characters of a
        missing longer word do not count (年假 is not in 一年一申报).
        """
        total = covered = gap = 0.0
        seen: set[str] = set()
        general = self.general_words(analysis)
        for word, surface in zip(analysis.words, analysis.surfaces, strict=True):
            if word in seen:
                continue
            seen.add(word)
            rarity = min(self.tokenizer.rarity(word), self.tokenizer.rarity(surface))
            weight = max(rarity - COMMON_RARITY, 0.0)
            total += weight
            if self.index.contains(word, doc_index):
                covered += weight
            elif any(self.index.contains(g, doc_index) for g in general.get(word, ())):
                covered += weight * self.related_credit
            else:
                gap = max(gap, weight)
        return (covered / total if total > 0 else 0.0), gap

    def _overlaps(self, analysis: Analysis, doc_indices: Sequence[int]) -> list[float]:
        """Share of the question's idf mass each clause contains (the re-ranking measure).

        Counted over distinct words, each weighing its idf in the corpus (a word found in no clause
        weighs the idf of an unseen term, the same for every clause). A word a clause lacks earns
        partial credit for the character positions covered by sub-words the clause has (上班时间
        against a clause with 上班 and 时间).
        """
        parts: list[tuple[str, float, list[tuple[int, int, str]], set[int]]] = []
        seen: set[str] = set()
        general = self.general_words(analysis)
        for word, surface in zip(analysis.words, analysis.surfaces, strict=True):
            if word in seen:
                continue
            seen.add(word)
            idf = self.index.idf_of(word)
            weight = self.index.unseen_idf if idf is None else max(idf, 0.0)
            # Character positions that count: Chinese characters that are not stopwords.
            positions = {i for i, c in enumerate(surface) if self.tokenizer.chars_of(c)}
            if len(surface) < 2:
                positions = set()
            spans = self.tokenizer.subword_spans(surface) if positions else []
            parts.append((word, weight, spans, positions))
        total = sum(weight for _w, weight, _s, _p in parts)
        if total <= 0:
            return [0.0 for _ in doc_indices]
        terms = [t for word, _w, spans, _p in parts for t in (word, *(term for _s, _e, term in spans))]
        terms += [g for gs in general.values() for g in gs]
        holders = self.index.holders(terms, doc_indices)
        out: list[float] = []
        for doc in doc_indices:
            covered = 0.0
            for word, weight, spans, positions in parts:
                if doc in holders[word]:
                    covered += weight
                elif any(doc in holders[g] for g in general.get(word, ())):
                    covered += weight * self.related_credit
                elif spans:
                    covered_at = {i for a, b, t in spans if doc in holders[t] for i in range(a, b)}
                    covered += weight * len(covered_at & positions) / len(positions)
            out.append(covered / total)
        return out

    def explain(self, question: str, k: int = 3) -> list[dict[str, Any]]:
        """Per hit: citation, score, coverage, gap, confidence and each matched term's share of the
        score ("hit test")."""
        analysis = self.analyze(question)
        query = self.query_tokens(analysis)
        kinds = asked(normalize(question))
        hits = self._ranked_hits(analysis, k, kinds)
        out: list[dict[str, Any]] = []
        for hit in hits:
            i = self._index_of(hit.clause)
            coverage, gap = self._support(analysis, i)
            factor = 1.0
            if self.rerank_alpha is not None and analysis.words:
                factor = self.rerank_alpha + self._overlaps(analysis, [i])[0]
                if kinds & self._stated[i]:
                    factor *= 1.0 + self.answer_type_boost
            parts = {t: v * factor for t, v in self.index.contributions(query, i).items()}
            out.append({
                "id": hit.clause.id,
                "citation": hit.clause.citation,
                "score": hit.score,
                "coverage": coverage,
                "gap": gap,
                "confidence": self.confidence(coverage, hit.score, gap),
                "terms": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
                "missing": [t for t in dict.fromkeys(query) if t not in parts],
                "also": [c.citation for c in hit.also],
            })
        return out

    def highlight(self, text: str, terms: Iterable[str]) -> str:
        """Mark matched terms (【喝酒】) in a clause's text for chat display, including the synonyms the
        text may use instead of the canonical word (Hit.matched holds canonical words)."""
        groups: dict[str, list[str]] = {}
        for word, canonical in self.tokenizer.synonyms.items():
            groups.setdefault(canonical, []).append(word)
        return highlight(text, [w for t in terms for w in groups.get(t, [t])])

    # ---- internals -----------------------------------------------------------------------------

    def _ranked_hits(
        self, analysis: Analysis, k: int, kinds: frozenset[str] = frozenset()
    ) -> tuple[Hit, ...]:
        """The k best hits, best first. Without re-ranking a hit's score is its BM25 score; with it,
        the best max(k, RERANK_DEPTH) are scored BM25 × (rerank_alpha + overlap) and re-ordered, and
        when the question asks for a kind of fact (`kinds`, see retrieval/answertype.py) a clause
        stating such a fact gets × (1 + answer_type_boost)."""
        scores = self.index.scores(self.query_tokens(analysis))
        if self.rerank_alpha is None or not analysis.words:
            return self._hits(analysis, scores, k)
        hits = self._hits(analysis, scores, max(k, RERANK_DEPTH))
        overlaps = self._overlaps(analysis, [self._index_of(h.clause) for h in hits])
        alpha = self.rerank_alpha
        bonus = 1.0 + self.answer_type_boost
        boost = [bonus if kinds & self._stated[self._index_of(h.clause)] else 1.0 for h in hits]
        rescored = [
            replace(h, score=h.score * (alpha + o) * b) for h, o, b in zip(hits, overlaps, boost, strict=True)
        ]
        order = sorted(range(len(rescored)), key=lambda j: (-rescored[j].score, j))
        return tuple(rescored[j] for j in order[:k])

    def _index_of(self, clause: Clause) -> int:
        return self._position[clause.id]

    def _hits(self, analysis: Analysis, scores: FloatArray, k: int) -> tuple[Hit, ...]:
        """The best k distinct rules: a near-duplicate of a better clause is folded into its hit.

        `Hit.matched` lists the question's words and sub-words the clause contains, not the
        character layer: it is what chat highlights, and 【班】 inside 交接班 would be noise.
        """
        general = [g for gs in self.general_words(analysis).values() for g in gs]
        shown = list(dict.fromkeys([*analysis.words, *analysis.subwords, *general]))
        want = min(max(k, 0), len(self._members))
        best_of: dict[int, int] = {}  # group → its best clause, in rank order
        if want:
            for i, _score in ranked(scores):
                best_of.setdefault(self._group[i], i)
                if len(best_of) == want:
                    break
        holders = self.index.holders(shown, best_of.values())
        hits: list[Hit] = []
        for group, best in best_of.items():
            also = tuple(self._clauses[j] for j in self._members[group] if j != best)
            matched = tuple(t for t in shown if best in holders[t])
            hits.append(Hit(self._clauses[best], float(scores[best]), matched, also))
        return tuple(hits)


def _strip_colon(text: str) -> str:
    return text.strip().rstrip(":：").strip()


def _lead_ins(clauses: Sequence[Clause]) -> dict[tuple[str, tuple[str, ...]], str]:
    """(doc, path) → the lead-in sentence of a clause that introduces its child items.

    A lead-in ends in a colon ("根据…情况,确定是否需要立项:", "服务管理计划应定义:"): its words
    are the context of each item below it, like a heading. Only clauses with items below count.
    """
    parents: set[tuple[str, tuple[str, ...]]] = set()
    for c in clauses:
        for n in range(1, len(c.path)):
            parents.add((c.doc, c.path[:n]))
    out: dict[tuple[str, tuple[str, ...]], str] = {}
    for c in clauses:
        key = (c.doc, c.path)
        text = c.text.strip()
        if key not in parents or not text.endswith((":", "：")):
            continue
        body = _strip_colon(text)
        cut = max(body.rfind(ch) for ch in _SENTENCE_END)
        lead = body[cut + 1:].strip()
        if lead:
            out[key] = lead
    return out


def _same_rule_groups(clauses: Sequence[Clause]) -> list[int]:
    """Group id per clause: clauses linked by `also_in` (in either direction, transitively) share one."""
    position = {c.id: i for i, c in enumerate(clauses)}
    parent = list(range(len(clauses)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, clause in enumerate(clauses):
        for other in clause.also_in:
            j = position.get(other)
            if j is not None:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(clauses))]


# ---- index cache -----------------------------------------------------------------------------------


def _cache_key(
    seeds_dir: Path,
    clauses: Sequence[Clause],
    tokenizer: Tokenizer,
    index_options: tuple[int, int, bool, int],
    askings: Mapping[str, Sequence[str]],
) -> str:
    """Hash of everything the prepared index depends on: any change gives a new key."""
    h = hashlib.sha256()

    def put(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)

    put(FORMAT_VERSION, tokenizer.signature, index_options)
    # This code and the tokenizer's decide the tokens: a developer editing them must not get a stale index.
    put(Path(__file__).read_bytes(), Path(__file__).with_name("tokenize.py").read_bytes())
    for folder in ("lexicon", "regulations"):
        for path in sorted((seeds_dir / folder).glob("*.txt")):
            put(path.name, path.read_bytes())
    # The 常见问法 actually indexed (a caller may pass its own instead of the file's).
    for clause_id in sorted(askings):
        put(clause_id, *askings[clause_id])
    # The parsed clauses too, so a change in the corpus parser alone also rebuilds.
    for c in clauses:
        put(c.id, c.doc, c.text, "\x1f".join(c.headings))
    return h.hexdigest()[:24]


def _load_index(path: Path, n_clauses: int) -> BM25Index | None:
    if not path.is_file():
        return None
    try:
        index = BM25Index.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:  # truncated or foreign: rebuild
        log.warning("ignoring unreadable index cache %s: %s", path, err)
        return None
    return index if index.size == n_clauses else None


def _save_index(index: BM25Index, path: Path) -> None:
    _write_cache(path, lambda fh: save_arrays(fh, index.arrays()), f"{_CACHE_PREFIX}*.npz")


def _write_cache(path: Path, write: Callable[[BinaryIO], object], family: str) -> None:
    """Write a cache file atomically (concurrent starts may race), then drop the older files of its
    family (other seed versions). A read-only data dir only costs start-up time: logged, not raised."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
        tmp = None
        for old in path.parent.glob(family):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not write cache %s: %s", path, err)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _pypinyin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pypinyin")
    except PackageNotFoundError:
        return "unknown"


def _reading_table(path: Path, words: Iterable[str]) -> ReadingTable:
    """The readings saved at `path`, or made now (importing pypinyin, ~1 s once) and saved there.
    Saved next to the index it belongs to (same key), so any change of the vocabulary remakes it."""
    try:
        return ReadingTable.from_dict(marshal.loads(path.read_bytes()))
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        pass  # missing or foreign: make it
    table = reading_table(words)
    _write_cache(path, lambda fh: fh.write(marshal.dumps(table.as_dict())), f"{_READINGS_PREFIX}*.bin")
    return table
