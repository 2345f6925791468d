"""BM25Index gives rank_bm25.BM25Okapi's scores (the reference, tests and benchmark only)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.index import BM25Index, ranked, top_k
from retrieval.lexicon import load_lexicon
from retrieval.tokenize import Tokenizer
from tests.retrieval import SEEDS, session_cache

TOL = 1e-6


def random_corpus(rng: random.Random, n_docs: int, vocab: int, max_len: int) -> list[list[str]]:
    words = [f"t{i}" for i in range(vocab)]
    weights = [1 / (i + 1) for i in range(vocab)]  # Zipf-like: a few terms in most documents
    return [rng.choices(words, weights, k=rng.randint(0, max_len)) for _ in range(n_docs)]


def assert_same(index: BM25Index, ref: BM25Okapi, query: list[str]) -> None:
    ours, theirs = index.scores(query), ref.get_scores(query)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max(initial=0.0) <= TOL


@pytest.mark.parametrize("seed", range(5))
def test_random_corpora_match_rank_bm25(seed: int) -> None:
    rng = random.Random(seed)
    docs = random_corpus(rng, n_docs=rng.randint(1, 300), vocab=rng.randint(5, 400), max_len=40)
    if not any(docs):
        docs[0] = ["t0"]  # rank_bm25 divides by the mean length
    index, ref = BM25Index(docs), BM25Okapi(docs)
    assert index.average_idf == pytest.approx(ref.average_idf, abs=TOL)
    for _ in range(30):
        query = rng.choices([f"t{i}" for i in range(450)], k=rng.randint(1, 8))  # some unknown terms
        assert_same(index, ref, query)


def test_negative_idf_floor_and_parameters() -> None:
    # "common" is in every document: negative idf, replaced by epsilon * mean idf.
    docs = [["common", "a"], ["common", "b"], ["common", "c", "c"], ["common"]]
    for params in ({}, {"k1": 1.2, "b": 0.5, "epsilon": 0.1}):
        index, ref = BM25Index(docs, **params), BM25Okapi(docs, **params)
        assert_same(index, ref, ["common"])
        assert_same(index, ref, ["common", "c", "zzz"])
        assert index.idf_of("common") == pytest.approx(ref.idf["common"], abs=TOL)


def test_repeated_query_terms_count_once_per_occurrence() -> None:
    docs = [["喝酒", "上班"], ["吸烟"], ["喝酒", "喝酒", "打牌"]]
    index, ref = BM25Index(docs), BM25Okapi(docs)
    assert_same(index, ref, ["喝酒", "喝酒", "喝酒", "吸烟"])
    assert index.scores(["喝酒", "喝酒"])[0] == pytest.approx(2 * index.scores(["喝酒"])[0])


def test_unknown_and_empty_queries() -> None:
    docs = [["a", "b"], ["b", "c"]]
    index = BM25Index(docs)
    assert index.scores([]).tolist() == [0.0, 0.0]
    assert index.scores(["nope"]).tolist() == [0.0, 0.0]
    assert index.idf_of("nope") is None
    assert index.unseen_idf > max(index.idf)
    assert index.contributions(["nope"], 0) == {}


def test_empty_corpus_and_empty_documents() -> None:
    assert BM25Index([]).scores(["a"]).shape == (0,)
    assert BM25Index([]).top(["a"], 3) == []
    docs: list[list[str]] = [[], ["a"], []]
    assert_same(BM25Index(docs), BM25Okapi(docs), ["a"])


def test_real_seed_tokens_match_rank_bm25(tmp_path_factory: pytest.TempPathFactory) -> None:
    tokenizer = Tokenizer(load_lexicon(SEEDS / "lexicon"), session_cache(tmp_path_factory))
    lines = [ln for p in sorted((SEEDS / "regulations").glob("*.txt"))
             for ln in p.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    docs = [tokenizer.tokens(ln) for ln in lines]
    index, ref = BM25Index(docs), BM25Okapi(docs)
    rng = random.Random(1)
    for line in rng.sample(lines, 40):
        start = rng.randrange(max(1, len(line) - 10))
        assert_same(index, ref, tokenizer.tokens(line[start : start + 12]))
    assert_same(index, ref, tokenizer.tokens("上班时候可以喝酒吗？公司年假有几天？"))


def test_top_contributions_and_contains() -> None:
    docs = [["x"], ["喝酒", "上班"], ["喝酒"], ["上班", "上班", "迟到"]]
    index = BM25Index(docs)
    query = ["喝酒", "上班"]
    scores = index.scores(query)
    top = index.top(query, 2)
    assert [i for i, _ in top] == list(np.argsort(-scores, kind="stable")[:2])
    assert top[0][1] == pytest.approx(scores[top[0][0]])
    parts = index.contributions(query, 1)
    assert set(parts) == {"喝酒", "上班"}
    assert sum(parts.values()) == pytest.approx(scores[1])
    assert index.contributions(query, 0) == {}
    assert index.contains("迟到", 3) and not index.contains("迟到", 2)


def test_top_k_ties_in_document_order_and_bounds() -> None:
    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.0, 0.0])
    assert top_k(scores, 3) == [(1, 2.0), (3, 2.0), (2, 1.0)]
    assert top_k(scores, 5) == [(1, 2.0), (3, 2.0), (2, 1.0), (0, 0.0), (4, 0.0)]
    assert len(top_k(scores, 100)) == 6
    assert top_k(scores, 0) == []


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = random.Random(3)
    docs = random_corpus(rng, 120, 80, 30)
    index = BM25Index(docs, k1=1.2)
    index.save(tmp_path / "i.npz")
    loaded = BM25Index.load(tmp_path / "i.npz")
    query = ["t1", "t5", "t5", "t70"]
    assert np.array_equal(index.scores(query), loaded.scores(query))
    assert loaded.terms == index.terms and loaded.k1 == 1.2


def test_ranked_beyond_the_argmax_steps_is_a_stable_sort() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, size=300).astype(np.float64)  # many ties
    expected = np.argsort(-scores, kind="stable").tolist()
    assert [i for i, _ in ranked(scores)] == expected
    assert [i for i, _ in top_k(scores, 40)] == expected[:40]


def test_holders_agree_with_contains() -> None:
    rng = random.Random(9)
    docs = random_corpus(rng, 200, 60, 25)
    index = BM25Index(docs)
    candidates = rng.sample(range(200), 30) + [0, 199, 0]  # repeats and both ends
    terms = [f"t{i}" for i in range(70)]  # t60…t69 are in no document
    holders = index.holders(terms, candidates)
    for term in terms:
        assert holders[term] == {d for d in candidates if index.contains(term, d)}
    assert index.holders(["t1"], []) == {"t1": frozenset()}
