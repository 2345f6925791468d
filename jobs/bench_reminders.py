"""Benchmark: 1 000 reminders due at the same second, all handed to the outbox — and how long it took.

    python -m jobs.bench_reminders [--postgres URL] [--count 1000]

On a fresh SQLite file, and with `--postgres` also in a fresh schema of that database (dropped
afterwards). Each run builds the real App and sets `count` one-off reminders (Reminder rows, one
person each) due at the same second, then fires them two ways:

- direct:    `jobs.reminders.fire(id)` called in a tight loop — the cost of one firing (claim, audience,
             notification, outbox row, commit) without the scheduler;
- scheduler: a real AsyncIOScheduler through the elected path (jobs.scheduler.running) with one date
             job per reminder in the database job store, all at the same second: the jobs are stored
             while this process is a follower, then it takes the lease and runs them; the outbox
             dispatcher delivers meanwhile (to a sender that drops the messages).

Measured: from the first firing to the moment the last outbox row was committed; checked: exactly one
outbox row and one firing claim per reminder. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.core import timephrase
from bot.core.messages import Outbound
from bot.core.timephrase import Once
from bot.storage.models import Firing, OutboxMessage, Person, Reminder
from jobs import leader, reminders, runtime

if TYPE_CHECKING:
    from bot.app import App
    from bot.core.handlers.ask import QuestionAnswerer
    from bot.storage.models import Person as PersonT

TIMEOUT_SECONDS = 120
OTHER = "bench:other-process"


class NullSender:
    """Accepts every message (the benchmark measures the bot, not a network)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, out: Outbound, recipient: PersonT | None) -> None:
        self.sent += 1


class Counter(logging.Handler):
    """Counts log messages containing a phrase (duplicate firings stopped by a claim, misses)."""

    def __init__(self, *phrases: str) -> None:
        super().__init__(logging.WARNING)
        self.counts = dict.fromkeys(phrases, 0)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for phrase in self.counts:
            if phrase in message:
                self.counts[phrase] += 1


@dataclass
class Result:
    database: str
    path: str
    reminders: int
    outbox: int
    firings: int
    seconds: float
    sent_seconds: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.reminders / self.seconds if self.seconds > 0 else float("inf")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.bench_reminders",
                                     description="1 000 reminders due at the same second → outbox, timed.")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run on PostgreSQL (a fresh schema, dropped after)")
    parser.add_argument("--count", type=int, default=1000, help="reminders per run (default 1000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "jieba", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    counter = Counter("claimed already", "was missed by", "gone or inactive")
    logging.getLogger().addHandler(counter)

    from bot.app import build_searcher
    from bot.settings import PROJECT_ROOT, Settings

    with tempfile.TemporaryDirectory(prefix="dutybot-bench-") as tmp:
        workdir = Path(tmp)
        base = Settings.explicit(seeds_dir=PROJECT_ROOT / "seeds", data_dir=workdir)
        print("loading the search index (the App needs it; not measured)…", file=sys.stderr)
        searcher = build_searcher(base)
        urls = [("sqlite", f"sqlite:///{workdir / 'bench.db'}")]
        results: list[Result] = []
        started = time.perf_counter()
        with _pg_schema(args.postgres) as pg_url:
            if pg_url:
                urls.append(("postgresql", pg_url))
            for name, url in urls:
                print(f"{name}: {args.count} reminders …", file=sys.stderr)
                results.extend(run_one(name, url, workdir / name, searcher, args.count))
    print(table(results, args.count))
    if any(counter.counts.values()):
        print("log: " + ", ".join(f"“{k}” ×{v}" for k, v in counter.counts.items() if v))
    print(f"(whole benchmark {time.perf_counter() - started:.1f} s; CPU count {_cpus()})")
    ok = all(r.outbox == r.reminders == r.firings == args.count for r in results)
    if not ok:
        print("FAILED: the outbox or the firing claims do not match the reminders", file=sys.stderr)
    return 0 if ok else 1


def run_one(name: str, url: str, data_dir: Path, searcher: QuestionAnswerer, count: int) -> list[Result]:
    from bot.app import build_app
    from bot.settings import PROJECT_ROOT, Settings

    settings = Settings.explicit(seeds_dir=PROJECT_ROOT / "seeds", data_dir=data_dir, database_url=url)
    sender = NullSender()
    app = build_app(settings, searcher=searcher, senders={"console": sender})
    try:
        people = _people(app, count)
        direct = _direct(app, name, people)
        asyncio.run(_drain(app))  # deliver the direct run's rows, so the next run's dispatch is its own
        scheduled = asyncio.run(_scheduled(app, name, people, sender))
        return [direct, scheduled]
    finally:
        runtime.uninstall()
        app.engine.dispose()


async def _drain(app: App) -> None:
    while await app.dispatcher.drain():
        pass


def _people(app: App, count: int) -> list[int]:
    with app.services.sessions.begin() as session:
        people = [Person(name=f"保安{i:04d}", role="guard") for i in range(count)]
        session.add_all(people)
        session.flush()
        return [p.id for p in people]


def _reminders(app: App, people: list[int], label: str, *, schedule: bool) -> list[int]:
    """One one-off reminder per person, all due at the same second (now). With `schedule`, each one's
    job is added (after the commit) the way jobs.reminders adds it."""
    at = datetime.now(UTC).replace(microsecond=0)
    trigger = Once(at)
    with app.services.sessions.begin() as session:
        rows = [Reminder(kind="adhoc", audience={"person_ids": [pid]}, text=f"{label} 第{i}条",
                         schedule=at.isoformat(), trigger=timephrase.to_dict(trigger))
                for i, pid in enumerate(people)]
        session.add_all(rows)
        session.flush()
        ids = [r.id for r in rows]
        if schedule:
            for rid in ids:
                reminders.schedule_after_commit(session, rid, trigger, app.services.tz)
    return ids


def _count(app: App, label: str) -> tuple[int, int]:
    """(outbox rows, of which sent) of one run."""
    with app.services.sessions() as session:
        rows = session.execute(
            select(func.count(), func.count().filter(OutboxMessage.status == "sent"))
            .where(OutboxMessage.text.contains(label))
        ).one()
        return rows[0], rows[1]


def _firings(app: App, ids: list[int]) -> int:
    lo, hi = min(ids), max(ids)
    with app.services.sessions() as session:
        keys = session.scalars(select(Firing.key).where(Firing.key.startswith("reminder:"))).all()
    return sum(1 for k in keys if lo <= int(k.split(":")[1].split("@")[0]) <= hi)


def _direct(app: App, name: str, people: list[int]) -> Result:
    label = "bench-direct"
    ids = _reminders(app, people, label, schedule=False)
    runtime.install(app, None)
    try:
        start = time.perf_counter()
        for rid in ids:
            reminders.fire(rid)
        seconds = time.perf_counter() - start
    finally:
        runtime.uninstall()
    outbox, _ = _count(app, label)
    return Result(name, "direct fire()", len(ids), outbox, _firings(app, ids), seconds)


async def _scheduled(app: App, name: str, people: list[int], sender: NullSender) -> Result:
    from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent

    from jobs.scheduler import running

    label = "bench-scheduler"
    sessions = app.services.sessions
    # Another process leads while the jobs are stored, so nothing runs before they are all there.
    assert leader.try_acquire(sessions, OTHER, app.services.clock(), leader.TTL)
    async with running(app) as elector:
        scheduler = runtime.scheduler()
        assert scheduler is not None and not elector.leading
        stored = time.perf_counter()
        ids = _reminders(app, people, label, schedule=True)
        stored = time.perf_counter() - stored
        first: list[float] = []

        def submitted(event: JobSubmissionEvent) -> None:
            if not first and event.job_id.startswith(reminders.JOB_PREFIX):
                first.append(time.perf_counter())

        scheduler.add_listener(submitted, EVENT_JOB_SUBMITTED)
        leader.release(sessions, OTHER)  # the other process stops; this one takes over
        sent_before = sender.sent
        assert await elector.round()
        deadline = time.perf_counter() + TIMEOUT_SECONDS
        done = sent_done = None
        while time.perf_counter() < deadline:
            outbox, sent = await asyncio.to_thread(_count, app, label)
            now = time.perf_counter()
            if done is None and outbox >= len(ids):
                done = now
            if sent >= len(ids):
                sent_done = now
                break
            await asyncio.sleep(0.01)
    if not first or done is None:
        raise SystemExit(f"{name}: the scheduler did not hand every reminder to the outbox "
                         f"in {TIMEOUT_SECONDS} s")
    outbox, _ = _count(app, label)
    return Result(name, f"scheduler, {len(ids)} date jobs", len(ids), outbox, _firings(app, ids),
                  done - first[0],
                  sent_seconds=(sent_done - first[0]) if sent_done else None,
                  note=f"jobs stored in {stored:.1f} s; {sender.sent - sent_before} delivered")


def table(results: list[Result], count: int) -> str:
    head = f"{count} reminders due at the same second → outbox (first firing → last outbox row)"
    rows = [("database", "path", "outbox", "claims", "time", "rate", "all delivered", "")]
    for r in results:
        rows.append((r.database, r.path, str(r.outbox), str(r.firings), f"{r.seconds:.2f} s",
                     f"{r.rate:,.0f}/s", f"{r.sent_seconds:.2f} s" if r.sent_seconds is not None else "–",
                     r.note))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [head, ""]
    for n, row in enumerate(rows):
        cells = (cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row))
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def _width(cell: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in cell)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


@contextmanager
def _pg_schema(url: str | None) -> Iterator[str | None]:
    """A fresh schema in the given PostgreSQL database (dropped afterwards), as a URL."""
    if not url:
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if make_url(url).query else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
