"""Records (incident reports SJ-…, complaints TS-…): numbering, creation, lookup, the audit trail."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import Counter, Person, Record, RecordAttachment, RecordEvent

PREFIX = {"incident": "SJ", "complaint": "TS"}
KIND_NAMES = {"incident": "事件", "complaint": "投诉"}

# Lifecycle states. Incidents: 登记 → 已确认 → 处理中 → 已解决 → 已关闭.
# Complaints: 登记 → 受理 → 处理中 → 已解决 → 已回访 → 已关闭.
STATUS_NAMES = {
    "new": "登记",
    "acked": "已确认",
    "accepted": "受理",
    "in_progress": "处理中",
    "resolved": "已解决",
    "visited": "已回访",
    "closed": "已关闭",
}
OPEN_STATUSES = ("new", "acked", "accepted", "in_progress")
# Everything before closing; "resolved"/"visited" still wait for a manager to close them.
NOT_CLOSED = (*OPEN_STATUSES, "resolved", "visited")

_NUMBER = re.compile(r"^\s*([A-Za-z]{2})\W*(\d{8})\W*(\d{1,6})\s*$")


def next_number(session: Session, kind: str, local_day: datetime) -> str:
    """The next number of the day for this kind, e.g. SJ-20261127-003.

    The counter row is incremented in the caller's transaction (a row lock on PostgreSQL, the write
    lock on SQLite), so concurrent filers never get the same number and a rolled-back report does
    not consume one.
    """
    prefix = PREFIX[kind]
    day = local_day.strftime("%Y%m%d")
    key = f"{prefix}-{day}"
    bumped = session.execute(
        update(Counter).where(Counter.key == key).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar()
    if bumped is None:
        try:
            with session.begin_nested():
                session.add(Counter(key=key, value=1))
            bumped = 1
        except IntegrityError:  # another filer created the row first: take the next value after theirs
            bumped = session.execute(
                update(Counter).where(Counter.key == key).values(value=Counter.value + 1)
                .returning(Counter.value)
            ).scalar_one()
    return f"{key}-{bumped:03d}"


def normalize_number(text: str) -> str | None:
    """'sj20261127 3', 'SJ-20261127-003' → 'SJ-20261127-003'; None when it is not a number at all."""
    m = _NUMBER.match(text)
    if not m:
        return None
    return f"{m.group(1).upper()}-{m.group(2)}-{int(m.group(3)):03d}"


def find(session: Session, text: str) -> Record | None:
    number = normalize_number(text)
    if number is None:
        return None
    return session.scalar(select(Record).where(Record.number == number))


def create(
    session: Session,
    *,
    kind: str,
    author: Person,
    content: str,
    now: datetime,
    local_now: datetime,
    urgent: bool = False,
    **fields: object,
) -> Record:
    record = Record(
        number=next_number(session, kind, local_now),
        kind=kind,
        status="new",
        urgent=urgent,
        content=content,
        author_id=author.id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(record)
    session.flush()
    log_event(session, record, author, "created", None, now)
    return record


def log_event(
    session: Session, record: Record, actor: Person | None, action: str, note: str | None, now: datetime
) -> RecordEvent:
    event = RecordEvent(record_id=record.id, actor_id=actor.id if actor else None, action=action, note=note,
                        at=now)
    session.add(event)
    session.flush()
    return event


def attach(session: Session, record: Record, kind: str, channel: str, ref: str, now: datetime) -> None:
    session.add(RecordAttachment(record_id=record.id, kind=kind, channel=channel, ref=ref, created_at=now))
    session.flush()
