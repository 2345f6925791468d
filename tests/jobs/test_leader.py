"""Leader election for the one scheduler: the lease row (acquire, renew, expire, take over, release;
contended acquires) on SQLite and PostgreSQL with the test clock, and the elected scheduler in one
process — a follower's scheduler runs nothing but stores the jobs its handlers add and delivers its
own replies; the leader runs the jobs; a deposed leader stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import App
from bot.core.messages import Inbound
from bot.storage.db import make_engine, session_factory, upgrade
from bot.storage.models import Lease
from jobs import leader, runtime
from jobs.leader import Elector, current, release, try_acquire
from jobs.scheduler import ESCALATION_JOB_ID, OUTBOX_JOB_ID, running
from tests.bot.test_escalation import add_person, told
from tests.jobs.test_scheduler import stored_jobs, until
from tests.support import Clock, RecordingChannel

TTL = timedelta(seconds=45)


@pytest.fixture()
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def holder_of(sessions: sessionmaker[Session]) -> str | None:
    with sessions() as session:
        return session.scalar(select(Lease.holder).where(Lease.name == leader.SCHEDULER))


def test_acquire_renew_expire_take_over_release(sessions: sessionmaker[Session], clock: Clock) -> None:
    t0 = clock.now
    assert try_acquire(sessions, "a", t0, TTL)  # absent: inserted
    assert holder_of(sessions) == "a"
    assert not try_acquire(sessions, "b", clock.advance(seconds=30), TTL)  # held: untouched
    assert try_acquire(sessions, "a", clock.now, TTL)  # ours: renewed until t0 + 30 + 45
    # The first expiry (t0 + 45) has passed, the renewed one (t0 + 75) has not.
    assert not try_acquire(sessions, "b", t0 + timedelta(seconds=74), TTL)
    lease = current(sessions, t0 + timedelta(seconds=74))
    assert lease is not None and lease.holder == "a" and lease.expires_at == t0 + timedelta(seconds=75)
    assert current(sessions, t0 + timedelta(seconds=75)) is None  # expired: nobody holds it
    assert try_acquire(sessions, "b", t0 + timedelta(seconds=75), TTL)  # taken over at the expiry
    assert holder_of(sessions) == "b"
    assert not try_acquire(sessions, "a", t0 + timedelta(seconds=76), TTL)  # the old holder is out
    assert not release(sessions, "a")  # not ours: nothing removed
    assert holder_of(sessions) == "b"
    assert release(sessions, "b")
    assert holder_of(sessions) is None
    assert try_acquire(sessions, "a", t0 + timedelta(seconds=77), TTL)  # free again at once


def test_leases_are_per_name(sessions: sessionmaker[Session], clock: Clock) -> None:
    assert try_acquire(sessions, "a", clock.now, TTL, name="scheduler")
    assert try_acquire(sessions, "b", clock.now, TTL, name="other")
    assert not try_acquire(sessions, "b", clock.now, TTL, name="scheduler")


@pytest.mark.parametrize("start", ["absent", "expired"])
def test_contended_acquire_has_exactly_one_winner(
    sessions: sessionmaker[Session], clock: Clock, start: str
) -> None:
    """Two threads (own connections) try at the same instant, many rounds: never two winners."""
    rounds, wins = 15, []
    for n in range(rounds):
        name = f"race-{n}"
        if start == "expired":
            assert try_acquire(sessions, "crashed", clock.now - TTL * 2, TTL, name=name)
        barrier = threading.Barrier(2)
        results: dict[str, bool] = {}

        def contend(holder: str, name: str = name, barrier: threading.Barrier = barrier,
                    results: dict[str, bool] = results) -> None:
            barrier.wait()
            results[holder] = try_acquire(sessions, holder, clock.now, TTL, name=name)

        threads = [threading.Thread(target=contend, args=(h,)) for h in ("x", "y")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(results.values()) == [False, True], results
        winner = next(h for h, won in results.items() if won)
        lease = current(sessions, clock.now, name=name)
        assert lease is not None and lease.holder == winner
        wins.append(winner)
    assert len(wins) == rounds


class Calls:
    def __init__(self) -> None:
        self.log: list[str] = []

    def elector(self, sessions: sessionmaker[Session], clock: Clock, holder: str) -> Elector:
        return Elector(sessions, clock, holder=holder, ttl=TTL, every=timedelta(seconds=15),
                       on_elected=lambda: self.log.append(f"{holder} elected"),
                       on_deposed=lambda: self.log.append(f"{holder} deposed"))


def test_elector_changes_hands_only_when_the_lease_expires(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    calls = Calls()
    a, b = calls.elector(sessions, clock, "a"), calls.elector(sessions, clock, "b")
    assert a.check() and not b.check()
    clock.advance(seconds=15)
    assert a.check() and not b.check()  # renewed every round, nothing changes
    assert calls.log == ["a elected"]
    clock.advance(seconds=44)  # a is frozen (no round): its lease runs out at +45 s after its renewal
    assert not b.check()
    clock.advance(seconds=1)
    assert b.check()
    assert not a.check()  # a wakes up and finds it lost
    assert calls.log == ["a elected", "b elected", "a deposed"]
    b.release()
    assert calls.log[-1] == "b deposed" and holder_of(sessions) is None
    assert a.check()


def test_a_failing_database_counts_as_a_lost_lease(sessions: sessionmaker[Session], clock: Clock) -> None:
    calls = Calls()
    a = calls.elector(sessions, clock, "a")
    assert a.check()
    a.sessions = sessionmaker(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert not a.check()
    assert calls.log == ["a elected", "a deposed"]
    a.sessions = sessions
    assert a.check()  # back: still ours (not expired), so it leads again
    assert calls.log[-1] == "a elected"


def test_a_leader_that_cannot_start_gives_the_lease_up(sessions: sessionmaker[Session], clock: Clock) -> None:
    log: list[str] = []

    def fail() -> None:
        raise RuntimeError("job store unreachable")

    a = Elector(sessions, clock, holder="a", on_elected=fail, on_deposed=lambda: log.append("deposed"))
    assert not a.check()
    assert log == ["deposed"] and holder_of(sessions) is None  # b may lead at its next round
    assert Calls().elector(sessions, clock, "b").check()


def test_the_lease_must_be_renewed_within_its_lifetime(sessions: sessionmaker[Session], clock: Clock) -> None:
    with pytest.raises(ValueError):
        Elector(sessions, clock, on_elected=lambda: None, on_deposed=lambda: None,
                ttl=timedelta(seconds=10), every=timedelta(seconds=10))


# --- The elected scheduler in one process ---------------------------------------------------------


def in_loop(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())


def test_the_lease_holder_runs_the_jobs_and_releases_on_exit(app: App) -> None:
    async def body() -> None:
        async with running(app) as elector:
            scheduler = runtime.scheduler()
            assert elector.leading and scheduler is not None and scheduler.state == STATE_RUNNING
            assert holder_of(app.services.sessions) == elector.holder
            assert {ESCALATION_JOB_ID, OUTBOX_JOB_ID} <= set(stored_jobs(app))
        assert holder_of(app.services.sessions) is None

    in_loop(body)


def test_a_follower_runs_no_jobs_but_stores_them_and_delivers_its_replies(
    app: App, channel: RecordingChannel, clock: Clock
) -> None:
    add_person(app, "李班长", "manager", 1)
    assert try_acquire(app.services.sessions, "other-host:1:x", clock.now, TTL)  # another process leads

    async def body() -> None:
        async with running(app) as elector:
            scheduler = runtime.scheduler()
            assert scheduler is not None
            assert not elector.leading and scheduler.state == STATE_PAUSED
            assert stored_jobs(app) == {}  # the standing jobs are the leader's to register
            # A handler in this process adds a job (an ad-hoc reminder): it lands in the shared store.
            scheduler.add_job("jobs.reminders:fire", "date", run_date=clock.now, args=[1], id="reminder:1")
            assert set(stored_jobs(app)) == {"reminder:1"}
            await asyncio.sleep(0.05)
            assert set(stored_jobs(app)) == {"reminder:1"}  # and is not run here (it is due)
            # Its own replies go out at once, without a scheduler.
            inbound = Inbound(channel="test", sender="u-李班长", chat="chat-李班长", text="/whoami")
            await asyncio.to_thread(app.core.handle, inbound)
            await until(lambda: told(channel) == ["李班长"], seconds=2)

    in_loop(body)
    assert holder_of(app.services.sessions) == "other-host:1:x"  # a follower releases nothing


def test_a_follower_takes_over_after_the_expiry_and_a_deposed_leader_stops(app: App, clock: Clock) -> None:
    assert try_acquire(app.services.sessions, "other-host:1:x", clock.now, TTL)

    async def body() -> None:
        async with running(app) as elector:
            scheduler = runtime.scheduler()
            assert scheduler is not None
            clock.advance(seconds=44)
            assert not await elector.round()
            clock.advance(seconds=1)  # the other process stopped renewing 45 s ago
            assert await elector.round()
            assert scheduler.state == STATE_RUNNING
            assert {ESCALATION_JOB_ID, OUTBOX_JOB_ID} <= set(stored_jobs(app))
            # This process freezes for longer than the lease; the other takes over meanwhile.
            clock.advance(seconds=46)
            assert try_acquire(app.services.sessions, "other-host:2:y", clock.now, TTL)
            assert not await elector.round()
            assert scheduler.state == STATE_PAUSED

    in_loop(body)
    assert holder_of(app.services.sessions) == "other-host:2:y"


def test_on_exit_the_runs_under_way_finish_first(app: App, caplog: pytest.LogCaptureFixture) -> None:
    finished: list[str] = []

    async def body() -> None:
        async with running(app):
            scheduler = runtime.scheduler()
            assert scheduler is not None
            started: list[str] = []
            scheduler.add_listener(lambda e: started.append(e.job_id), EVENT_JOB_SUBMITTED)
            scheduler.add_listener(lambda e: finished.append(e.job_id), EVENT_JOB_EXECUTED)
            scheduler.add_job("time:sleep", "date", args=[0.3], id="slow", jobstore="memory")
            await until(lambda: "slow" in started)
        # (leaving the block stops the scheduler)

    in_loop(body)
    assert "slow" in finished  # finished, not cancelled by the shutdown
    assert "Error running job" not in caplog.text
