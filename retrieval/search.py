"""Question → the best clauses, and the decision whether any rule really covers the question.

Ranking is plain BM25 (`BM25Index`) over each clause's tokens: its text, its heading path and its
document title. Near-identical clauses (`Clause.also_in`) are folded into one hit.

Abstention looks at the best hit. `reason` says why a question was not answered:
  "empty"         the question has no search terms (only punctuation, emoji, question words …)
  "no_match"      no clause shares a single term with it
  "low_coverage"  coverage < min_coverage, where
                      coverage = idf mass of the question's distinct words the best clause contains
                                 / idf mass of all of them
                  and a word found in no clause weighs `unknown_weight` × the idf of an unseen term
                  (the most specific a term can be). 公司年假有几天: 年假 is in no rule, so coverage
                  is low whatever 公司 or 几天 match. A missing word earns partial credit for the parts
                  of it the clause has (see `coverage`).
  "low_score"     BM25 score of the best hit < min_score: the match rests on too little evidence
                  (a couple of common words).
The thresholds are constructor parameters, to be calibrated on the development question set
(`python -m retrieval.quality`); the defaults sit in the middle of the stable region measured there.

`from_seeds` keeps the prepared index in `cache_dir`, keyed by a hash of every input (seed files,
parsed clauses, tokenizer settings and code, format version), so a second start skips cutting the
corpus and any change to the inputs rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from retrieval.highlight import highlight
from retrieval.index import BM25Index, FloatArray, ranked, save_arrays
from retrieval.lexicon import load_lexicon
from retrieval.model import Answer, Clause, Hit
from retrieval.tokenize import Analysis, Tokenizer

log = logging.getLogger(__name__)

# Bump when the cached index layout changes.
FORMAT_VERSION = 1
_CACHE_PREFIX = "index-"

DEFAULT_MIN_COVERAGE = 0.25
DEFAULT_MIN_SCORE = 12.0
DEFAULT_UNKNOWN_WEIGHT = 1.0
DEFAULT_CHAR_CREDIT = 0.0


class Searcher:
    def __init__(
        self,
        clauses: Sequence[Clause],
        tokenizer: Tokenizer,
        *,
        index: BM25Index | None = None,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
        min_score: float = DEFAULT_MIN_SCORE,
        unknown_weight: float = DEFAULT_UNKNOWN_WEIGHT,
        char_credit: float = DEFAULT_CHAR_CREDIT,
        heading_weight: int = 1,
        title_weight: int = 1,
    ) -> None:
        """`index` may be a prepared (cached) index over exactly these clauses; built when omitted."""
        self._clauses = tuple(clauses)
        self.tokenizer = tokenizer
        self.min_coverage = min_coverage
        self.min_score = min_score
        self.unknown_weight = unknown_weight
        self.char_credit = char_credit
        self.heading_weight = heading_weight
        self.title_weight = title_weight
        if index is None:
            index = BM25Index(self.clause_tokens())
        if index.size != len(self._clauses):
            raise ValueError(f"index has {index.size} documents for {len(self._clauses)} clauses")
        self.index = index
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
        clauses = all_clauses(load_corpus(seeds_dir / "regulations"))
        tokenizer = Tokenizer(lexicon, cache_dir, **options.pop("tokenizer_options", {}))
        tokenizer.load()
        if cache_dir is None:
            return cls(clauses, tokenizer, **options)
        searcher_weights = (options.get("heading_weight", 1), options.get("title_weight", 1))
        key = _cache_key(seeds_dir, clauses, tokenizer, searcher_weights)
        path = cache_dir / f"{_CACHE_PREFIX}{key}.npz"
        index = _load_index(path, len(clauses))
        searcher = cls(clauses, tokenizer, index=index, **options)
        if index is None:
            _save_index(searcher.index, path)
        return searcher

    def clause_tokens(self) -> list[list[str]]:
        """The token list indexed for each clause: its text, then headings and title (repeated by weight)."""
        memo: dict[str, list[str]] = {}

        def cut(text: str) -> list[str]:
            if text not in memo:
                memo[text] = self.tokenizer.tokens(text)
            return memo[text]

        out: list[list[str]] = []
        for clause in self._clauses:
            tokens = list(self.tokenizer.tokens(clause.text))
            for heading in clause.headings:
                if heading != clause.doc:  # the title is counted below, once
                    tokens += cut(heading) * self.heading_weight
            tokens += cut(clause.doc) * self.title_weight
            out.append(tokens)
        return out

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return self._clauses

    # ---- querying ------------------------------------------------------------------------------

    def terms(self, question: str) -> list[str]:
        """The question's search terms (normalised, stopwords dropped, synonyms mapped, then characters)."""
        return self.tokenizer.tokens(question)

    def ask(self, question: str, k: int = 3) -> Answer:
        analysis = self.tokenizer.analyze(question)
        terms = analysis.tokens
        hits = self._hits(analysis, self.index.scores(terms), k)
        if not terms:
            return Answer(question, False, hits, "empty", terms=())
        if not hits or hits[0].score <= 0:
            return Answer(question, False, hits, "no_match", terms=tuple(terms))
        coverage = self.coverage(analysis, self._index_of(hits[0].clause))
        reason = None
        if coverage < self.min_coverage:
            reason = "low_coverage"
        elif hits[0].score < self.min_score:
            reason = "low_score"
        return Answer(question, reason is None, hits, reason, terms=tuple(terms), coverage=coverage)

    def coverage(self, analysis: Analysis, doc_index: int) -> float:
        """Share of the question's idf mass that one clause contains, counted over the question's
        distinct words (sub-words and characters are matching aids, not extra meaning).

        A word the clause lacks is credited by how much of it the clause still has: each character
        position counts fully when a sub-word covering it is in the clause (上班时间 against a clause
        with 上班 and 时间) and `char_credit` when only the bare character is (啤酒 against 喝酒).
        """
        total = covered = 0.0
        seen: set[str] = set()
        for word, surface in zip(analysis.words, analysis.surfaces, strict=True):
            if word in seen:
                continue
            seen.add(word)
            weight = self._weight(word)
            total += weight
            if self.index.contains(word, doc_index):
                covered += weight
            else:
                covered += weight * self._partial_credit(surface, doc_index)
        return covered / total if total > 0 else 0.0

    def _partial_credit(self, surface: str, doc_index: int) -> float:
        positions = [i for i, c in enumerate(surface) if self.tokenizer.chars_of(c)]
        if len(surface) < 2 or not positions:
            return 0.0
        by_subword = {
            i
            for start, end, term in self.tokenizer.subword_spans(surface)
            if self.index.contains(term, doc_index)
            for i in range(start, end)
        }
        credit = 0.0
        for i in positions:
            if i in by_subword:
                credit += 1.0
            elif self.char_credit and self.index.contains(surface[i], doc_index):
                credit += self.char_credit
        return credit / len(positions)

    def _weight(self, term: str) -> float:
        idf = self.index.idf_of(term)
        return self.unknown_weight * self.index.unseen_idf if idf is None else max(idf, 0.0)

    def explain(self, question: str, k: int = 3) -> list[dict[str, Any]]:
        """Per hit: citation, score, coverage and each matched term's share of the score ("hit test")."""
        analysis = self.tokenizer.analyze(question)
        terms = analysis.tokens
        hits = self._hits(analysis, self.index.scores(terms), k)
        out: list[dict[str, Any]] = []
        for hit in hits:
            i = self._index_of(hit.clause)
            parts = self.index.contributions(terms, i)
            out.append({
                "id": hit.clause.id,
                "citation": hit.clause.citation,
                "score": hit.score,
                "coverage": self.coverage(analysis, i),
                "terms": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
                "missing": [t for t in dict.fromkeys(terms) if t not in parts],
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

    def _index_of(self, clause: Clause) -> int:
        return self._position[clause.id]

    def _hits(self, analysis: Analysis, scores: FloatArray, k: int) -> tuple[Hit, ...]:
        """The best k distinct rules: a near-duplicate of a better clause is folded into its hit.

        `Hit.matched` lists the question's words and sub-words the clause contains, not the
        character layer: it is what chat highlights, and 【班】 inside 交接班 would be noise.
        """
        shown = list(dict.fromkeys([*analysis.words, *analysis.subwords]))
        want = min(max(k, 0), len(self._members))
        best_of: dict[int, int] = {}  # group → its best clause, in rank order
        if want:
            for i, _score in ranked(scores):
                best_of.setdefault(self._group[i], i)
                if len(best_of) == want:
                    break
        hits: list[Hit] = []
        for group, best in best_of.items():
            also = tuple(self._clauses[j] for j in self._members[group] if j != best)
            matched = tuple(t for t in shown if self.index.contains(t, best))
            hits.append(Hit(self._clauses[best], float(scores[best]), matched, also))
        return tuple(hits)


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
    weights: tuple[int, int],
) -> str:
    """Hash of everything the prepared index depends on: any change gives a new key."""
    h = hashlib.sha256()

    def put(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)

    put(FORMAT_VERSION, tokenizer.signature, weights)
    # This code and the tokenizer's decide the tokens: a developer editing them must not get a stale index.
    put(Path(__file__).read_bytes(), Path(__file__).with_name("tokenize.py").read_bytes())
    for folder in ("lexicon", "regulations"):
        for path in sorted((seeds_dir / folder).glob("*.txt")):
            put(path.name, path.read_bytes())
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
    """Write atomically (concurrent starts may race) and drop caches of older seed versions."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            save_arrays(fh, index.arrays())
        os.replace(tmp, path)
        tmp = None
        for old in path.parent.glob(f"{_CACHE_PREFIX}*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:  # a read-only data dir only costs start-up time
        log.warning("could not write index cache %s: %s", path, err)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
