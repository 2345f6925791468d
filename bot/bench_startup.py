"""Cold start of `dutybot ask`: process start to first answer, and the process's peak memory.

Run: python -m bot.bench_startup [--runs N]

Side by side in the same run: a bare interpreter, and the plain library way (jieba's default
tokenizer initialised from its own cache + rank_bm25 over the same corpus), so the figures can be read
against what the machine does anyway. The first `dutybot ask` on an empty data dir builds the caches
(jieba dictionary, index); the later ones are the everyday case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "晚上几点要关大门"

PLAIN_LIBRARIES = """
import jieba, rank_bm25, logging
jieba.setLogLevel(logging.WARNING)
from retrieval.corpus import all_clauses, load_corpus
from pathlib import Path
clauses = all_clauses(load_corpus(Path({seeds!r}) / "regulations"))
bm25 = rank_bm25.BM25Okapi([jieba.lcut(c.text) for c in clauses])
scores = bm25.get_scores(jieba.lcut({q!r}))
print(clauses[int(scores.argmax())].citation)
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one child process, start to exit."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def child_rss_mb(cmd: list[str], env: dict[str, str]) -> float:
    """Peak RSS of one run, measured by a fresh wrapper so earlier children do not mask it."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL, check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, check=True, capture_output=True,
                         text=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DATA_DIR": data, "SEEDS_DIR": str(seeds), "LOG_LEVEL": "WARNING"}
        ask = [sys.executable, "-m", "bot", "ask", QUESTION]
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("jieba default + rank_bm25", [sys.executable, "-c",
                                            PLAIN_LIBRARIES.format(seeds=str(seeds), q=QUESTION)]),
        ]
        first = time.perf_counter()
        subprocess.run(ask, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = time.perf_counter() - first
        print(f"{'command':<34} {'p50 s':>7} {'min s':>7} {'max s':>7} {'peak RSS MB':>12}")
        for name, cmd in [*rows, ("dutybot ask (warm caches)", ask)]:
            times = [timed(cmd, env) for _ in range(args.runs)]
            rss = child_rss_mb(cmd, env)
            print(f"{name:<34} {statistics.median(times):7.3f} {min(times):7.3f} {max(times):7.3f} {rss:12.1f}")
        print(f"{'dutybot ask (first run, no cache)':<34} {first:7.3f}")


if __name__ == "__main__":
    main()
