"""Speed benchmark of the BM25 index against plain `rank_bm25.BM25Okapi` on the same token lists.

    python -m retrieval.bench [--seeds DIR] [--sizes 10000,100000] [--queries 200] [--json]

Corpora: the seed regulations (tokenized by the real Searcher), and synthetic corpora whose clauses
have the seed clauses' lengths and draw tokens from a Zipf-like vocabulary that starts with the seed
corpus' own tokens in frequency order. Queries are tokenized substrings of seed clauses, so they mix
frequent and rare terms like real questions. For each corpus: build time, query latency p50/p95, the
largest score difference between the two engines on the timed queries, and resident memory after the
build. rank_bm25 scans every document per query term, so at large sizes it gets fewer timed queries
(the count is printed).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.index import BM25Index, top_k

if TYPE_CHECKING:
    from retrieval.search import Searcher

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ZIPF_EXPONENT = 1.07  # typical of natural-language term frequencies
SYNTHETIC_VOCAB_PER_CLAUSE = 0.6  # vocabulary grows with the corpus (Heaps' law, roughly)
REFERENCE_QUERY_BUDGET_S = 15.0  # time allowed for rank_bm25 queries per corpus


@dataclass
class Row:
    corpus: str
    clauses: int
    tokens: int
    vocab: int
    engine: str
    build_s: float
    p50_ms: float
    p95_ms: float
    queries: int
    rss_mb: float
    rss_growth_mb: float
    max_abs_diff: float | None = None
    # Ours only: loading the saved index from the cache file (what a warm start does instead of building).
    cache_load_s: float | None = None


def rss_mb() -> float:
    """Current resident set size (VmRSS) in MiB; falls back to the peak from `resource`."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_searcher(seeds: Path) -> Searcher:
    """The real Searcher over the seeds (its tokenizer and clause token lists feed the benchmark)."""
    from retrieval.search import Searcher

    with tempfile.TemporaryDirectory(prefix="dutybot-bench-") as tmp:
        return Searcher.from_seeds(seeds, Path(tmp))


def make_queries(texts: Sequence[str], tokenize: Callable[[str], list[str]], n: int, rng: random.Random) -> list[list[str]]:
    """Token lists of random 6-20 character pieces of clause texts (question-sized)."""
    pool = [t for t in texts if len(t) >= 8]
    out: list[list[str]] = []
    while len(out) < n and pool:
        text = rng.choice(pool)
        size = rng.randint(6, min(20, len(text)))
        start = rng.randint(0, len(text) - size)
        tokens = tokenize(text[start : start + size])
        if tokens:
            out.append(tokens)
    return out


def synthetic_corpus(seed_docs: Sequence[Sequence[str]], size: int, rng: np.random.Generator) -> list[list[str]]:
    """`size` clauses with seed-like lengths, tokens drawn from a Zipf law over seed + invented terms."""
    by_freq = [t for t, _ in Counter(t for doc in seed_docs for t in doc).most_common()]
    vocab_size = max(len(by_freq), int(size * SYNTHETIC_VOCAB_PER_CLAUSE))
    vocab = np.array(by_freq + [f"w{i}" for i in range(vocab_size - len(by_freq))], dtype=object)
    p = 1.0 / np.arange(1, vocab_size + 1) ** ZIPF_EXPONENT
    p /= p.sum()
    lengths = rng.choice(np.array([max(1, len(d)) for d in seed_docs]), size=size)
    flat = vocab[rng.choice(vocab_size, size=int(lengths.sum()), p=p)].tolist()
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(size)]


def _percentiles(times: list[float]) -> tuple[float, float]:
    arr = np.array(times) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def bench_corpus(name: str, docs: list[list[str]], queries: list[list[str]]) -> list[Row]:
    from rank_bm25 import BM25Okapi  # the reference: benchmark and tests only, never the runtime path

    n_tokens = sum(len(d) for d in docs)
    rows: list[Row] = []

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    ours = BM25Index(docs)
    build = time.perf_counter() - start
    rss = rss_mb()
    ours_scores: list[np.ndarray] = []
    times: list[float] = []
    for q in queries:
        t = time.perf_counter()
        s = ours.scores(q)
        top_k(s, 3)  # what a real ask does besides scoring
        times.append(time.perf_counter() - t)
        ours_scores.append(s)
    p50, p95 = _percentiles(times)
    vocab = len(ours.terms)
    with tempfile.TemporaryDirectory(prefix="dutybot-bench-") as tmp:
        ours.save(Path(tmp) / "index.npz")
        start = time.perf_counter()
        BM25Index.load(Path(tmp) / "index.npz")
        load = time.perf_counter() - start
    rows.append(Row(name, len(docs), n_tokens, vocab, "ours", build, p50, p95, len(queries), rss, rss - before,
                    cache_load_s=load))
    del ours
    gc.collect()

    before = rss_mb()
    start = time.perf_counter()
    ref = BM25Okapi(docs)
    ref_build = time.perf_counter() - start
    ref_rss = rss_mb()
    times, diff = [], 0.0
    budget_end = time.perf_counter() + REFERENCE_QUERY_BUDGET_S
    for q, mine in zip(queries, ours_scores, strict=True):
        t = time.perf_counter()
        s = ref.get_scores(q)
        times.append(time.perf_counter() - t)
        diff = max(diff, float(np.abs(s - mine).max()) if len(s) else 0.0)
        if time.perf_counter() > budget_end and len(times) >= 3:
            break
    p50, p95 = _percentiles(times)
    rows.append(Row(name, len(docs), n_tokens, vocab, "rank_bm25", ref_build, p50, p95, len(times), ref_rss,
                    ref_rss - before, diff))
    del ref
    gc.collect()
    return rows


def format_table(rows: Sequence[Row]) -> str:
    head = (f"{'corpus':<10} {'clauses':>8} {'tokens':>10} {'vocab':>7} {'engine':<10} {'build s':>8} {'load s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'queries':>7} {'RSS MB':>7} {'+MB':>6} {'max|Δ|':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        diff = "" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e}"
        load = "" if r.cache_load_s is None else f"{r.cache_load_s:.3f}"
        lines.append(
            f"{r.corpus:<10} {r.clauses:>8} {r.tokens:>10} {r.vocab:>7} {r.engine:<10} {r.build_s:>8.3f} {load:>7} "
            f"{r.p50_ms:>8.3f} {r.p95_ms:>8.3f} {r.queries:>7} {r.rss_mb:>7.0f} {r.rss_growth_mb:>6.0f} {diff:>9}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=Path, default=PROJECT_ROOT / "seeds")
    parser.add_argument("--sizes", default="10000,100000", help="synthetic corpus sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="queries per corpus (ours)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args(argv)
    logging.getLogger("jieba").setLevel(logging.WARNING)

    rng = random.Random(20261127)
    nprng = np.random.default_rng(20261127)
    searcher = seed_searcher(args.seeds)
    seed_docs = searcher.clause_tokens()
    queries = make_queries([c.text for c in searcher.clauses], searcher.tokenizer.tokens, args.queries, rng)

    rows = bench_corpus("seeds", seed_docs, queries)
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        docs = synthetic_corpus(seed_docs, size, nprng)
        rows += bench_corpus(f"synth-{size // 1000}k", docs, queries)
        del docs
        gc.collect()

    if args.json:
        json.dump([asdict(r) for r in rows], sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    print(format_table(rows))
    print(f"\nqueries: tokenized 6-20 character pieces of seed clauses ({len(queries)}); rank_bm25 is timed on the "
          f"first queries within a {REFERENCE_QUERY_BUDGET_S:.0f} s budget per corpus (column 'queries').")
    print("load s: reading our saved index back (what a warm start does instead of building).")
    print("ours p50/p95 include scoring all clauses and picking the top 3. RSS MB: the whole process after the "
          "build; +MB: its growth during the build (the index plus build garbage Python keeps).")
    print("max|Δ| = largest |ours - rank_bm25| over every clause and every query timed on both.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
