"""One sender, for real: two bot processes (`python -m jobs.run_scheduler`: the real App, the elected
scheduler with the real jobs, the outbox printed to stdout) on one PostgreSQL schema. Ad-hoc
reminders (jobs.reminders) due a few seconds ahead are each sent once; when the leader freezes
(SIGSTOP) the other takes over, and the old one steps down when it wakes; when the leader is killed
(SIGKILL, so its lease is never released) the other takes over; reminders due around each takeover
are still sent once.

PostgreSQL only (SQLite is one file on one host; the lease logic itself is tested on both in
test_leader.py). Takes ~15–25 s; every wait is bounded and the processes are always killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot.app import App, build_app
from bot.core import timephrase
from bot.core.timephrase import Once
from bot.settings import Settings
from bot.storage.db import make_engine
from bot.storage.models import Firing, Lease, OutboxMessage, Person, Reminder
from jobs import reminders, runtime
from jobs.scheduler import JOB_DEFAULTS, TABLE
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

TTL_SECONDS = 3.0
RENEW_SECONDS = 1.0
# Safety net: a process left behind by a crashed test stops on its own.
PROCESS_SECONDS = 90


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    stderr_path: Path
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def spawn(url: str, env: dict[str, str], workdir: Path, n: int) -> Proc:
    data = workdir / f"data{n}"
    err = workdir / f"stderr{n}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", "jobs.run_scheduler", "--database-url", url, "--seconds", str(PROCESS_SECONDS),
         "--lease-ttl", str(TTL_SECONDS), "--lease-renew", str(RENEW_SECONDS)],
        cwd=workdir, env={**env, "DATA_DIR": str(data), "LOG_LEVEL": "INFO"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err.open("w"), text=True, encoding="utf-8",
    )
    proc = Proc(popen, err)

    def read() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            proc.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc


def wait_for(condition: Callable[[], bool], seconds: float, what: str, procs: list[Proc]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- process {p.pid} ---\n{p.stderr()[-3000:]}" for p in procs)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture()
def here(pg_url: str, searcher, tmp_path: Path) -> Iterator[App]:  # type: ignore[no-untyped-def]
    """This test's own App on the schema (migrated here, before the processes start)."""
    settings = Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path / "here", database_url=pg_url)
    app = build_app(settings, searcher=searcher, senders={})
    yield app
    runtime.uninstall()
    app.engine.dispose()


def test_two_processes_send_each_reminder_once(
    pg_url: str, here: App, cli_env: dict[str, str], tmp_path: Path
) -> None:
    sessions = here.services.sessions
    tz = here.services.tz
    with sessions.begin() as session:
        people = [Person(name=f"保安{i}", role="guard") for i in range(7)]
        session.add_all(people)
        session.flush()
        person_ids = [p.id for p in people]

    # Reminders are set the way a follower's /remind sets them: the row, then its job added through
    # a scheduler that never runs jobs (paused), straight into the shared job store.
    adder = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=make_engine(pg_url), tablename=TABLE)},
        job_defaults=JOB_DEFAULTS, timezone=tz)
    runtime.install(here, adder)
    ids: dict[str, int] = {}

    def remind(token: str, person_id: int, at: datetime) -> None:
        at = at.replace(microsecond=0)
        with sessions.begin() as session:
            reminder = Reminder(kind="adhoc", audience={"person_ids": [person_id]}, text=f"R-{token}",
                                schedule=at.isoformat(), trigger=timephrase.to_dict(Once(at)))
            session.add(reminder)
            session.flush()
            ids[token] = reminder.id
            reminders.schedule_after_commit(session, reminder.id, Once(at), tz)

    def outbox() -> list[OutboxMessage]:
        with sessions() as session:
            return list(session.scalars(select(OutboxMessage).where(OutboxMessage.text.contains("R-"))))

    def sent(n: int) -> Callable[[], bool]:
        return lambda: sum(row.status == "sent" for row in outbox()) >= n

    def holder() -> str | None:
        with sessions() as session:
            return session.scalar(select(Lease.holder).where(Lease.name == "scheduler"))

    procs = [spawn(pg_url, cli_env, tmp_path, n) for n in range(2)]
    try:
        wait_for(lambda: all(any(line.startswith("ready ") for line in p.lines) for p in procs), 60,
                 "both processes to start", procs)
        lead = holder()
        assert lead is not None
        a = next(p for p in procs if f":{p.pid}:" in lead)
        b = next(p for p in procs if p is not a)
        adder.start(paused=True)

        # A leads: three reminders a few seconds ahead.
        now = datetime.now(UTC)
        for i, token in enumerate(("a1", "a2", "a3")):
            remind(token, person_ids[i], now + timedelta(seconds=2 + i))
        wait_for(sent(3), 45, "the first three reminders", procs)

        # A freezes (SIGSTOP): its lease runs out and B takes over; one reminder is due before the
        # takeover, one after.
        a.popen.send_signal(signal.SIGSTOP)
        frozen = datetime.now(UTC)
        remind("b1", person_ids[3], frozen + timedelta(seconds=1))
        remind("b2", person_ids[4], frozen + timedelta(seconds=TTL_SECONDS + 2))
        wait_for(sent(5), 50, "the reminders due while the leader was frozen", procs)
        assert f":{b.pid}:" in (holder() or "")
        # A wakes up, finds its lease gone and stops running jobs.
        a.popen.send_signal(signal.SIGCONT)
        wait_for(lambda: "lost it" in a.stderr(), 30, "the old leader to step down", procs)

        # B dies (SIGKILL: its lease is never released); A takes over again.
        b.popen.send_signal(signal.SIGKILL)
        b.popen.wait(timeout=10)
        killed = datetime.now(UTC)
        remind("c1", person_ids[5], killed + timedelta(seconds=1))
        remind("c2", person_ids[6], killed + timedelta(seconds=TTL_SECONDS + 2))
        wait_for(sent(7), 50, "the reminders due after the leader was killed", procs)
        assert f":{a.pid}:" in (holder() or "")

        rows = outbox()
        assert sorted(row.person_id for row in rows) == sorted(person_ids)  # one row per reminder
        with sessions() as session:
            for token, reminder_id in ids.items():
                claims = select(Firing.key).where(Firing.key.startswith(f"reminder:{reminder_id}@"))
                assert len(session.scalars(claims).all()) == 1, token
                assert session.get(Reminder, reminder_id).active is False  # one-off: done
        a.popen.send_signal(signal.SIGTERM)
        a.popen.wait(timeout=15)
        assert a.popen.returncode == 0, a.stderr()[-3000:]
        assert holder() is None  # a clean stop releases the lease
        # Each reminder was printed (delivered) exactly once, by whichever process delivered it.
        printed = [m.group(1) for p in procs for line in p.lines if (m := re.search(r"R-(\w+)", line))]
        assert sorted(printed) == sorted(ids), printed
        # One leader at a time, and the claims never had to stop a second firing.
        assert a.stderr().count(" leads") == 2 and a.stderr().count("lost it") == 1
        assert b.stderr().count(" leads") == 1 and "lost it" not in b.stderr()
        assert not any("claimed already" in p.stderr() for p in procs)
    finally:
        if adder.running:
            adder.shutdown(wait=False)
        for p in procs:
            if p.popen.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.popen.wait(timeout=10)
