"""Shared fixtures. Settings are always built explicitly: no test reads a developer's `.env`.

Storage tests run on SQLite and on the PostgreSQL server the machine provides (127.0.0.1:5432,
trust auth), each test in a fresh schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings

SEEDS = PROJECT_ROOT / "seeds"
# The machine's PostgreSQL; CI has the same. Not a developer setting: tests never read `.env`.
PG_ADMIN_URL = os.environ.get("DUTYBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def searcher(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.app import build_searcher

    return build_searcher(settings)


def _pg_available() -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    ok = _pg_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (CI must run the PostgreSQL tests)")
    return ok


@pytest.fixture()
def pg_url(pg_ok: bool) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    if not pg_ok:
        pytest.skip("PostgreSQL not reachable")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs twice: on a fresh SQLite file and in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dutybot.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `dutybot` subprocess: explicit settings, a temp data dir, no inherited secrets."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT"}}
    return {**keep, "SEEDS_DIR": str(SEEDS), "DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"}


@pytest.fixture()
def clock():  # type: ignore[no-untyped-def]
    from tests.support import Clock

    return Clock()


@pytest.fixture()
def channel():  # type: ignore[no-untyped-def]
    from tests.support import RecordingChannel

    return RecordingChannel()


@pytest.fixture()
def app(db_url: str, settings: Settings, searcher, clock, channel, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real App on a fresh database (SQLite and PostgreSQL), with the test clock and test channel."""
    from bot.app import build_app

    app_settings = Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path / "data", database_url=db_url)
    built = build_app(app_settings, searcher=searcher, senders={"test": channel}, clock=clock)
    yield built
    built.engine.dispose()
