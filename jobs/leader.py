"""Leader election for the one scheduler: a lease row in the project database.

APScheduler 3.x does not support two schedulers on one job store, yet a deployment may run two bot
processes (a second host, a rolling restart, someone starting `dutybot run` twice). So every process
runs the same code and competes for one row, `Lease(name="scheduler")`: the holder runs the
scheduler and renews the lease every `RENEW_EVERY`; the others check as often and take over once
the lease has expired (`TTL` after the holder's last renewal — the holder crashed, hung or lost the
database). A holder that fails to renew stops running jobs at once (see `Elector`).

Why a row and not a PostgreSQL advisory lock: the row works the same on SQLite and PostgreSQL; it
lives in the data, not in a session, so it survives the connection pool recycling or pre-ping
replacing a connection (an advisory lock belongs to one connection and silently vanishes with it —
or stays held by a connection the pool keeps idle); and it can be read (`current`) to see who leads.
Its cost is a time limit: a leader frozen for longer than `TTL` (a paused VM, SIGSTOP) may wake up
and run the jobs due at that instant before its next check deposes it. That window is why every
firing also takes a claim in the database (`Firing`), which makes the second run a no-op.

Time comes from the caller (the App's clock), so tests move it; the processes' clocks must agree to
well within `TTL - RENEW_EVERY` (NTP), since each compares the stored expiry with its own clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import Lease

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
TTL = timedelta(seconds=45)
RENEW_EVERY = timedelta(seconds=15)


def new_holder() -> str:
    """This process's name in the lease: host:pid:random (the random part tells restarts apart)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def try_acquire(
    sessions: sessionmaker[Session], holder: str, now: datetime, ttl: timedelta = TTL, name: str = SCHEDULER
) -> bool:
    """Take or keep the lease; True if `holder` holds it until `now + ttl` afterwards.

    One atomic statement on both databases — INSERT … ON CONFLICT (name) DO UPDATE … WHERE the row
    is ours or expired … RETURNING: absent → inserted; ours → renewed; expired → taken over; held by
    someone else → untouched and nothing returned. PostgreSQL locks the conflicting row and checks
    the WHERE against its latest version, so of two contenders exactly one wins; SQLite serialises
    writers (the engine begins IMMEDIATE).
    """
    with sessions.begin() as session:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = insert(Lease).values(name=name, holder=holder, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=or_(Lease.holder == holder, Lease.expires_at <= now),
        ).returning(Lease.holder)
        return session.execute(stmt).scalar() == holder


def release(sessions: sessionmaker[Session], holder: str, name: str = SCHEDULER) -> bool:
    """Give the lease up (a clean shutdown), so another process takes over at its next check instead
    of waiting for the expiry. Only the holder's own row is removed; returns whether there was one."""
    with sessions.begin() as session:
        result = session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
        return bool(getattr(result, "rowcount", 0))


def current(sessions: sessionmaker[Session], now: datetime, name: str = SCHEDULER) -> Lease | None:
    """The lease as it stands, or None when nobody holds it (absent or expired)."""
    with sessions() as session:
        lease = session.scalar(select(Lease).where(Lease.name == name))
        if lease is None or lease.expires_at <= now:
            return None
        session.expunge(lease)
        return lease


class Elector:
    """Holds or waits for the lease in a plain asyncio task (not a scheduler job: it decides whether
    the scheduler runs at all).

    Every `every`, `check` tries the lease: on winning it calls `on_elected`, on losing it (someone
    else took it after our expiry, or the database failed us) `on_deposed`. A failed check counts as
    lost: a leader that cannot prove it holds the lease stops running jobs.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        holder: str | None = None,
        ttl: timedelta = TTL,
        every: timedelta = RENEW_EVERY,
        name: str = SCHEDULER,
    ):
        if every >= ttl:
            raise ValueError("the lease must be renewed more often than it lasts")
        self.sessions = sessions
        self.clock = clock
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.holder = holder or new_holder()
        self.ttl = ttl
        self.every = every
        self.name = name
        self.leading = False

    def _try(self) -> bool:
        try:
            return try_acquire(self.sessions, self.holder, self.clock(), self.ttl, self.name)
        except Exception:
            log.exception("lease %r: check failed; counted as not held", self.name)
            return False

    def apply(self, won: bool) -> bool:
        """Act on the outcome of one try: call the callback of a change. Returns whether we lead.

        A leader that cannot start (`on_elected` raised) steps down and gives the lease up, so
        another process can lead; it tries again at its next round."""
        if won and not self.leading:
            self.leading = True
            log.info("lease %r: %s leads", self.name, self.holder)
            try:
                self.on_elected()
            except Exception:
                log.exception("lease %r: %s could not start leading; gives the lease up",
                              self.name, self.holder)
                self.release()
        elif not won and self.leading:
            self.leading = False
            log.warning("lease %r: %s lost it; stops leading", self.name, self.holder)
            self._deposed()
        return self.leading

    def _deposed(self) -> None:
        try:
            self.on_deposed()
        except Exception:
            log.exception("lease %r: stopping the leader's work failed", self.name)

    def check(self) -> bool:
        """One round, synchronously (tests, or code without a loop)."""
        return self.apply(self._try())

    async def round(self) -> bool:
        """One round on the loop: the database call runs in a thread, the callbacks on the loop."""
        return self.apply(await asyncio.to_thread(self._try))

    async def run(self) -> None:
        """A round every `every` until cancelled (the caller runs the first one)."""
        while True:
            await asyncio.sleep(self.every.total_seconds())
            try:
                await self.round()
            except Exception:  # never end the loop: a process that stops checking never leads again
                log.exception("lease %r: round failed", self.name)

    def release(self) -> None:
        """Stop leading and give the lease up (for a clean shutdown); never raises."""
        if self.leading:
            self.leading = False
            self._deposed()
        try:
            release(self.sessions, self.holder, self.name)
        except Exception:
            log.exception("lease %r: release failed; it expires on its own", self.name)
