"""Migrations and the database layer, on a fresh SQLite file and a fresh PostgreSQL schema."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config
from sqlalchemy import Engine, func, inspect, select, text, update
from sqlalchemy.exc import StatementError

from bot.settings import Settings
from bot.storage.db import MIGRATIONS, make_engine, session_factory, upgrade
from bot.storage.models import Base, Counter, Person

TABLES = {
    "person", "account", "invite", "login_attempt", "counter", "record", "record_event",
    "record_attachment", "handover", "dialog", "seen_inbound", "outbox",
}


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


@pytest.fixture()
def engine(db_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def test_migrations_apply_to_a_fresh_database(engine: Engine) -> None:
    assert "person" not in inspect(engine).get_table_names()
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert TABLES <= tables
    assert _versions(engine) == [_head()]


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(Person(name="张三", role="guard"))
    upgrade(engine)
    assert _versions(engine) == [_head()]
    with sessions() as session:
        assert session.scalars(select(Person.name)).all() == ["张三"]


_CHILD = """
import sys
from bot.storage.db import make_engine, upgrade
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # start together: the parent releases both at once
upgrade(engine)
print("done", flush=True)
"""


def test_two_processes_upgrading_together_both_succeed(db_url: str, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _CHILD, db_url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    engine = make_engine(db_url)
    try:
        assert _versions(engine) == [_head()]
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name == "apscheduler_jobs")


def test_models_match_the_migrations(engine: Engine) -> None:
    """A model change without a migration shows up here as a difference."""
    upgrade(engine)
    with engine.begin() as conn:
        # APScheduler's own table lives in the same database and is not ours to migrate.
        conn.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT)"))
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True, "target_metadata": Base.metadata}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_concurrent_writers_do_not_fail(engine: Engine) -> None:
    """8 threads × 50 transactions that read, then write: no "database is locked", no lost update."""
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add(Counter(key="load", value=0))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                with sessions.begin() as session:
                    # A read first: on SQLite a deferred transaction upgrading to a writer is what fails.
                    session.scalar(select(func.count()).select_from(Person))
                    session.add(Person(name=f"w{n}-{i}", role="guard"))
                    session.execute(
                        update(Counter).where(Counter.key == "load").values(value=Counter.value + 1)
                    )
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 400
        assert session.get(Counter, "load").value == 400  # type: ignore[union-attr]


def test_timestamps_come_back_timezone_aware(engine: Engine) -> None:
    upgrade(engine)
    sessions = session_factory(engine)
    shanghai = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 27, 10, 5, tzinfo=shanghai)
    with sessions.begin() as session:
        session.add(Person(name="张三", role="guard", created_at=at))
    with sessions() as session:
        stored = session.scalars(select(Person.created_at)).one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == at
    assert stored == datetime(2026, 11, 27, 2, 5, tzinfo=UTC)
    # and comparisons in SQL use the instant, not the wall clock
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)
                              .where(Person.created_at > datetime(2026, 11, 27, 2, 4, tzinfo=UTC))) == 1
        assert session.scalar(select(func.count()).select_from(Person)
                              .where(Person.created_at > datetime(2026, 11, 27, 2, 6, tzinfo=UTC))) == 0


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    upgrade(engine)
    sessions = session_factory(engine)
    with pytest.raises(StatementError), sessions.begin() as session:
        session.add(Person(name="张三", role="guard", created_at=datetime(2026, 11, 27, 10, 5)))
        session.flush()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_db_upgrade_command(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.count("数据库已升级到最新版本") == 2
    engine = make_engine(db_url)
    try:
        assert _versions(engine) == [_head()]
    finally:
        engine.dispose()
