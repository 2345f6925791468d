"""Alembic environment: always run with a connection handed in by bot.storage.db.upgrade."""

from __future__ import annotations

from alembic import context

from bot.storage.models import Base

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # APScheduler owns its job table; keep it out of autogenerate.
    return not (type_ == "table" and name == "apscheduler_jobs")


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `dutybot db upgrade`")
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
