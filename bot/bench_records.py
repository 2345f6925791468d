"""How fast can reports be filed? `python -m bot.bench_records [--postgres URL] [--seconds N]`

Ten concurrent senders (threads; --senders to change), each a guard of its own, send `/report …` messages through the
real core (Core.handle: dedupe key, record, escalation notifications, reply: one transaction each) on
a fresh SQLite file and, with --postgres, in a fresh PostgreSQL schema (created and dropped here).
The records in the database are counted and must equal the reports acknowledged. Beside it, the rate
of bare one-row commits (one INSERT per transaction) from the same threads on the same database
shows what the storage alone allows. Not part of the test run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select, text

from bot.app import App, build_app, build_searcher
from bot.core.handlers.ask import QuestionAnswerer
from bot.core.messages import Inbound
from bot.settings import Settings
from bot.storage.models import Account, Person, Record

SENDERS = 10
CHANNEL = "bench"


@dataclass(frozen=True)
class Result:
    backend: str
    sent: int
    acknowledged: int
    records: int
    seconds: float
    commits: int
    commit_seconds: float

    @property
    def reports_per_second(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def commits_per_second(self) -> float:
        return self.commits / self.commit_seconds if self.commit_seconds else 0.0


def _people(app: App, senders_count: int) -> list[str]:
    """A guard per sender and a manager at each level, so every report is escalated."""
    senders = []
    with app.services.sessions.begin() as session:
        for level in (1, 2, 3):
            person = Person(name=f"经理{level}", role="manager", level=level)
            session.add(person)
            session.flush()
            session.add(Account(person_id=person.id, channel=CHANNEL, external_id=f"m{level}",
                                chat_id=f"m{level}"))
        for i in range(senders_count):
            person = Person(name=f"保安{i + 1}", role="guard")
            session.add(person)
            session.flush()
            session.add(Account(person_id=person.id, channel=CHANNEL, external_id=f"g{i}", chat_id=f"g{i}"))
            senders.append(f"g{i}")
    return senders


def _run_threads(work: Callable[[int, float], int], seconds: float, threads_count: int) -> tuple[int, float]:
    """Run `work(thread_no, deadline)` in threads started together; (total done, elapsed)."""
    counts = [0] * threads_count
    barrier = threading.Barrier(threads_count + 1)

    def run(n: int) -> None:
        barrier.wait()
        counts[n] = work(n, deadline)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(threads_count)]
    for t in threads:
        t.start()
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - started


def bench(backend: str, url: str, data_dir: Path, searcher: QuestionAnswerer, seconds: float,
          senders_count: int = SENDERS) -> Result:
    settings = Settings.explicit(data_dir=data_dir, database_url=url)
    app = build_app(settings, searcher=searcher, senders={CHANNEL: _NoSend()})
    try:
        senders = _people(app, senders_count)
        sent = [0] * senders_count

        def file_reports(n: int, deadline: float) -> int:
            acknowledged = 0
            sender = senders[n]
            while time.perf_counter() < deadline:
                sent[n] += 1
                msg = Inbound(channel=CHANNEL, sender=sender, chat=sender, message_id=f"{sender}-{sent[n]}",
                              text=f"/report 巡逻发现{n}号楼东侧围墙破损，第{sent[n]}次")
                replies = app.core.handle(msg)
                acknowledged += any(r.text.find("SJ-") >= 0 for r in replies)
            return acknowledged

        acknowledged, elapsed = _run_threads(file_reports, seconds, senders_count)
        with app.services.sessions() as session:
            records = int(session.scalar(select(func.count()).select_from(Record)) or 0)

        table = Table("bench_commit", MetaData(), Column("id", Integer, primary_key=True),
                      Column("note", String(64)))
        table.create(app.engine)
        try:
            def commit_rows(n: int, deadline: float) -> int:
                done = 0
                while time.perf_counter() < deadline:
                    with app.engine.begin() as conn:
                        conn.execute(insert(table).values(note=f"{n}-{done}"))
                    done += 1
                return done

            commits, commit_elapsed = _run_threads(commit_rows, min(seconds, 5.0), senders_count)
        finally:
            table.drop(app.engine)
        return Result(backend, sum(sent), acknowledged, records, elapsed, commits, commit_elapsed)
    finally:
        app.engine.dispose()


class _NoSend:
    async def send(self, out: object, recipient: object) -> None:  # nothing is delivered in the benchmark
        return None


@contextmanager
def _pg_schema(admin_url: str) -> Iterator[str]:
    """A fresh schema on the server at `admin_url`; yields a URL whose connections live in it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in admin_url else "?"
    try:
        yield f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _table(results: list[Result]) -> str:
    head = f"{'database':<11} {'reports/s':>10} {'sent':>6} {'acked':>6} {'in DB':>6}  {'check':<5} " \
           f"{'bare commits/s':>15} {'commits per report':>19}"
    lines = [head, "-" * len(head)]
    for r in results:
        ok = "ok" if r.records == r.acknowledged == r.sent else \
            "LOST" if r.records < r.acknowledged else "DIFF"
        ratio = r.commits_per_second / r.reports_per_second if r.reports_per_second else float("nan")
        lines.append(f"{r.backend:<11} {r.reports_per_second:>10.1f} {r.sent:>6} {r.acknowledged:>6} "
                     f"{r.records:>6}  {ok:<5} {r.commits_per_second:>15.1f} {ratio:>19.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench_records", description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL",
                        help="also on PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seconds", type=float, default=8.0, help="filing time per database (default 8)")
    parser.add_argument("--senders", type=int, default=SENDERS, help=f"concurrent senders (default {SENDERS})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    import jieba  # sets its own logger to DEBUG on import; quiet it before the dictionary loads

    jieba.setLogLevel(logging.ERROR)

    from bot.core.handlers.routes import ROUTES

    if "report" not in ROUTES:
        print("the /report command is not there yet: nothing to measure", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dutybot-bench-") as tmp:
        data_dir = Path(tmp)
        searcher = build_searcher(Settings.explicit(data_dir=data_dir))
        results = [bench("sqlite", f"sqlite:///{data_dir / 'bench.db'}", data_dir, searcher, args.seconds,
                         args.senders)]
        if args.postgres:
            with _pg_schema(args.postgres) as url:
                results.append(bench("postgresql", url, data_dir, searcher, args.seconds, args.senders))
    print(f"{args.senders} concurrent senders, /report through Core.handle (one transaction per report)\n")
    print(_table(results))
    lost = [r.backend for r in results if r.records != r.acknowledged]
    if lost:
        print(f"\nrecords in the database differ from the reports acknowledged: {', '.join(lost)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
